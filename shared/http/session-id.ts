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
import { sha256Id } from '../kernel/hash.js';
import { isStrongSessionId } from './session-id-strength.js';
import { evictOldest } from '../kernel/lru.js';

export type SessionHeader = 'x-ms-copilot-session-id' | 'session-id' | 'mcp-session-id';
export type CredentialHeader = Exclude<SessionHeader, 'mcp-session-id'>;

export interface SessionIdentity {
  readonly header: SessionHeader;
  /** sha256 of the trimmed header value: the Firestore id of the session (sessions/, rally_tokens session:…). */
  readonly hash: string;
  /** The 16-character prefix of `hash`: the `sessionHash` of logs, audit metadata and per-session limits. */
  readonly label: string;
}

export interface SessionCredential {
  /** sha256 of the header value: the only form that is stored or logged. */
  readonly hash: string;
  readonly header: CredentialHeader;
}

export type SessionHeaderResult =
  { kind: 'none' } | { kind: 'weak'; message: string } | { kind: 'ok'; credential: SessionCredential };

export const WEAK_SESSION_MESSAGE =
  'The session id is too weak to protect your Rally access. Use a random UUID (v4) or at least 22 random base64url characters, ' +
  'e.g. generate one with `node -e "console.log(crypto.randomUUID())"` or `uuidgen`, and set it as the Session-ID header.';

/** Verdicts per session hash, so a session pays the strength check once per instance (bounded: oldest out first). */
const verdicts = new Map<string, boolean>();
const MAX_VERDICTS = 1000;

async function isStrongCached(hash: string, value: string): Promise<boolean> {
  const cached = verdicts.get(hash);
  if (cached !== undefined) return cached;
  const strong = await isStrongSessionId(value);
  evictOldest(verdicts, MAX_VERDICTS);
  verdicts.set(hash, strong);
  return strong;
}

/** The header that names the session, and its trimmed value. */
function sessionHeaderOf(req: Pick<Request, 'get'>): { header: SessionHeader; value: string } | undefined {
  for (const header of ['x-ms-copilot-session-id', 'session-id', 'mcp-session-id'] as const) {
    const value = req.get(header)?.trim();
    if (value === undefined || value === '') continue; // an empty header names nothing (2026-07-28 clients send an empty Mcp-Session-Id)
    return { header, value };
  }
  return undefined;
}

const hashOf = (value: string): string => sha256Id(`session-id:${value}`);

/** The one derivation: which header names the session, and its hash. Cheap: strength is judged only where the id is a credential. */
export function sessionIdentityOf(req: Pick<Request, 'get'>): SessionIdentity | undefined {
  const named = sessionHeaderOf(req);
  if (named === undefined) return undefined;
  const hash = hashOf(named.value);
  return { header: named.header, hash, label: hash.slice(0, 16) };
}

/** The session-link credential of a request, from the same identity its logs and limits use. */
export async function readSessionHeader(req: Pick<Request, 'get'>): Promise<SessionHeaderResult> {
  const named = sessionHeaderOf(req);
  if (named === undefined || named.header === 'mcp-session-id') return { kind: 'none' };
  const hash = hashOf(named.value);
  if (!(await isStrongCached(hash, named.value))) return { kind: 'weak', message: WEAK_SESSION_MESSAGE };
  return { kind: 'ok', credential: { hash, header: named.header } };
}
