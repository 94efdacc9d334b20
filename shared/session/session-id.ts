/**
 * The session identity of a request, derived in this one place (L12) and
 * used alike by the session-link credential, per-session rate limits, log
 * lines and audit metadata, so "everything in session Y" finds every caller.
 *
 * Headers, first present wins: `x-ms-copilot-session-id`, `Session-ID`, then
 * `Mcp-Session-Id`. The first two may act as credentials in session-link
 * mode; `Mcp-Session-Id` never does. This server is stateless and never
 * issues one, so a value a client sends is its own label: it is kept only as
 * a correlation label (logs, audit, per-session limits), where a client can
 * at most split or merge its own counters. Only values strong enough to act
 * as a secret become credentials (L11); raw values never reach Firestore or
 * a log, only their hash.
 * @module
 */
import type { Request } from '@google-cloud/functions-framework';
import { sha256Id } from '../crypto/hash.js';

export type SessionHeader = 'x-ms-copilot-session-id' | 'session-id' | 'mcp-session-id';
export type CredentialHeader = Exclude<SessionHeader, 'mcp-session-id'>;

export interface SessionIdentity {
  readonly header: SessionHeader;
  /** sha256 of the trimmed header value: the Firestore id of the session (sessions/, rally_tokens session:…). */
  readonly hash: string;
  /** The 16-character prefix of `hash`: the `sessionHash` of logs, audit metadata and per-session limits. */
  readonly label: string;
  /** Whether the value is strong enough to be a credential (never for Mcp-Session-Id). */
  readonly isStrong: boolean;
}

export interface SessionCredential {
  /** sha256 of the header value: the only form that is stored or logged. */
  readonly hash: string;
  readonly header: CredentialHeader;
}

export type SessionHeaderResult =
  | { kind: 'none' }
  | { kind: 'weak'; message: string }
  | { kind: 'ok'; credential: SessionCredential };

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const BASE64URL = /^[A-Za-z0-9_-]{22,256}$/;

/**
 * UUIDs copied from specifications, documentation and tutorials: random-looking, so no statistic
 * can tell them apart; anyone can try them, so they protect nothing.
 */
const KNOWN_EXAMPLE_UUIDS: ReadonlySet<string> = new Set([
  '123e4567-e89b-42d3-a456-426614174000', // the "123e4567…" example, v4 form
  '123e4567-e89b-12d3-a456-426614174000',
  'f47ac10b-58cc-4372-a567-0e02b2c3d479', // RFC 4122 era example
  '3fa85f64-5717-4562-b3fc-2c963f66afa6', // Swagger UI's default uuid example
  'd290f1ee-6c54-4b01-90e6-d701748f0851', // OpenAPI petstore example
  'de305d54-75b4-431b-adb2-eb6b9e546014', // Wikipedia's v4 example
  '919108f7-52d1-4320-9bac-f847db4148a8', // RFC 9562 v4 example
  '9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d', // the uuid npm package's README
  '1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed', // ditto
  '110ec58a-a0f2-4ac4-8393-c866d813b8d1', // common tutorial example
  '00000000-0000-0000-0000-000000000000', // nil
  'ffffffff-ffff-ffff-ffff-ffffffffffff', // max
]);

/**
 * Below this estimate a value is refused: 2^80 online guesses are out of reach, while a random UUIDv4
 * (122 bits) or 22 random base64url characters (132 bits) estimate at ≥ 100 bits (1M samples each;
 * the property test in test/unit/session/session-id.test.ts checks it over random values).
 */
export const MIN_SESSION_ID_BITS = 80;

/**
 * A conservative entropy estimate in the spirit of LZ77 compression: a symbol costs its full width
 * unless it repeats something already seen (a substring of ≥ 3 symbols, overlapping allowed: catches
 * `aaaa…`, `abab…`, `abcabc…`) or continues a ±1 run (`ABCDEF…`, `9876…`), which cost only the few
 * bits needed to say "copy" or "continue". Random values compress by a few bits at most.
 */
export function estimateEntropyBits(symbols: readonly number[], bitsPerSymbol: number): number {
  let bits = 0;
  let i = 0;
  while (i < symbols.length) {
    let longest = 0;
    for (let j = 0; j < i; j++) {
      let l = 0;
      while (i + l < symbols.length && symbols[j + l] === symbols[i + l]) l++;
      longest = Math.max(longest, l);
    }
    if (longest >= 3) {
      bits += Math.log2(i) + Math.log2(longest) + 1; // where from, how long, a flag
      i += longest;
      continue;
    }
    const step = i >= 2 ? symbols[i - 1]! - symbols[i - 2]! : 0;
    if ((step === 1 || step === -1) && symbols[i]! - symbols[i - 1]! === step) {
      let run = 1;
      while (i + run < symbols.length && symbols[i + run]! - symbols[i + run - 1]! === step) run++;
      bits += Math.log2(run) + 2;
      i += run;
      continue;
    }
    bits += bitsPerSymbol;
    i++;
  }
  return bits;
}

export const WEAK_SESSION_MESSAGE =
  'The session id is too weak to protect your Rally access. Use a random UUID (v4) or at least 22 random base64url characters, ' +
  'e.g. generate one with `node -e "console.log(crypto.randomUUID())"` or `uuidgen`, and set it as the Session-ID header.';

/**
 * L11: a random UUIDv4 or ≥ 22 base64url characters that are not a known example and do not compress
 * below MIN_SESSION_ID_BITS (repeats, runs, the alphabet, low symbol diversity).
 */
export function isStrongSessionId(value: string): boolean {
  if (UUID_V4.test(value)) {
    const lower = value.toLowerCase();
    if (KNOWN_EXAMPLE_UUIDS.has(lower)) return false;
    const hex = lower.replace(/-/g, '');
    const random = hex.slice(0, 12) + hex.slice(13); // without the fixed version nibble
    return estimateEntropyBits([...random].map((c) => parseInt(c, 16)), 4) >= MIN_SESSION_ID_BITS;
  }
  if (!BASE64URL.test(value)) return false;
  return estimateEntropyBits([...value].map((c) => c.charCodeAt(0)), 6) >= MIN_SESSION_ID_BITS;
}

/** The one derivation: which header names the session, and its hash. */
export function sessionIdentityOf(req: Pick<Request, 'get'>): SessionIdentity | undefined {
  for (const header of ['x-ms-copilot-session-id', 'session-id', 'mcp-session-id'] as const) {
    const raw = req.get(header);
    if (raw === undefined) continue;
    const value = raw.trim();
    if (value === '') continue; // an empty header names nothing (2026-07-28 clients send an empty Mcp-Session-Id)
    const hash = sha256Id(`session-id:${value}`);
    return { header, hash, label: hash.slice(0, 16), isStrong: header !== 'mcp-session-id' && isStrongSessionId(value) };
  }
  return undefined;
}

/** The session-link credential of a request, from the same identity its logs and limits use. */
export function readSessionHeader(req: Pick<Request, 'get'>): SessionHeaderResult {
  const identity = sessionIdentityOf(req);
  if (identity === undefined || identity.header === 'mcp-session-id') return { kind: 'none' };
  if (!identity.isStrong) return { kind: 'weak', message: WEAK_SESSION_MESSAGE };
  return { kind: 'ok', credential: { hash: identity.hash, header: identity.header } };
}
