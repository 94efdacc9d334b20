/**
 * Session-link mode credentials: the `x-ms-copilot-session-id` or
 * `Session-ID` header (the former wins). `Mcp-Session-Id` is never a
 * credential. Only values strong enough to act as a secret are accepted;
 * the raw value never reaches Firestore or a log, only its hash.
 * @module
 */
import type { Request } from '@google-cloud/functions-framework';
import { sha256Id } from '../crypto/hash.js';

export interface SessionCredential {
  /** sha256 of the header value: the only form that is stored or logged. */
  readonly hash: string;
  readonly header: 'x-ms-copilot-session-id' | 'session-id';
}

export type SessionHeaderResult =
  | { kind: 'none' }
  | { kind: 'weak'; message: string }
  | { kind: 'ok'; credential: SessionCredential };

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const BASE64URL = /^[A-Za-z0-9_-]{22,256}$/;

export const WEAK_SESSION_MESSAGE =
  'The session id is too weak to protect your Rally access. Use a random UUID (v4) or at least 22 random base64url characters, ' +
  'e.g. generate one with `node -e "console.log(crypto.randomUUID())"` or `uuidgen`, and set it as the Session-ID header.';

/** Rejects ids that cannot carry ~122 bits: wrong shape, or visibly non-random (repeats, runs). */
export function isStrongSessionId(value: string): boolean {
  if (UUID_V4.test(value)) return new Set(value.replace(/-/g, '')).size >= 8;
  if (!BASE64URL.test(value)) return false;
  return new Set(value).size >= Math.min(16, Math.floor(value.length / 2));
}

export function readSessionHeader(req: Request): SessionHeaderResult {
  const copilot = req.get('x-ms-copilot-session-id');
  const plain = req.get('session-id');
  const [header, value] = copilot !== undefined ? (['x-ms-copilot-session-id', copilot] as const) : plain !== undefined ? (['session-id', plain] as const) : [undefined, undefined];
  if (header === undefined || value === undefined) return { kind: 'none' };
  const trimmed = value.trim();
  if (!isStrongSessionId(trimmed)) return { kind: 'weak', message: WEAK_SESSION_MESSAGE };
  return { kind: 'ok', credential: { hash: sha256Id(`session-id:${trimmed}`), header } };
}
