/**
 * Connection tokens (issue 18): static credentials for headless agents that cannot run OAuth
 * (GitHub's Copilot coding agent takes only static headers from `COPILOT_MCP_*` secrets).
 *
 * Format: `rmcp_ct_<id>_<secret>`: a recognisable prefix (so secret scanners and our log
 * redaction can spot one), a 20-hex-digit id (80 bits, not secret: the lookup key, named in audit
 * lines and on the owner's list) and a 256-bit secret (43 base64url characters) that is stored only
 * as its SHA-256 and compared in constant time. A 256-bit random secret needs no key stretching and
 * no server-side HMAC key: a leaked hash cannot be reversed, and no key has to be provisioned.
 * @module
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { randomToken } from '../kernel/hash.js';

export const CONNECTION_TOKEN_PREFIX = 'rmcp_ct_';
/**
 * The `client_id` of the connections grant (one per user, its Rally link serves the user's
 * tokens) and of a connection token's principal: policy rules can name it.
 */
export const CONNECTION_TOKEN_CLIENT_ID = 'rally-mcp-connection-token';
const SHAPE = /^rmcp_ct_([0-9a-f]{20})_([A-Za-z0-9_-]{43})$/;
export const CONNECTION_TOKEN_ID = /^[0-9a-f]{20}$/;

export interface MintedConnectionToken {
  /** The whole token: shown to its owner once, never stored or logged. */
  readonly token: string;
  readonly id: string;
  /** base64url(SHA-256(secret)): what the store keeps. */
  readonly secretHash: string;
}

const hashOf = (secret: string): Buffer => createHash('sha256').update(secret, 'utf8').digest();

export function mintConnectionToken(): MintedConnectionToken {
  const id = randomBytes(10).toString('hex');
  const secret = randomToken(32);
  return { token: `${CONNECTION_TOKEN_PREFIX}${id}_${secret}`, id, secretHash: hashOf(secret).toString('base64url') };
}

/** Whether `value` claims to be a connection token (by prefix only; `parseConnectionToken` checks the shape). */
export const looksLikeConnectionToken = (value: string): boolean => value.startsWith(CONNECTION_TOKEN_PREFIX);

/** The id and secret of a well-formed token, else undefined. */
export function parseConnectionToken(value: string): { readonly id: string; readonly secret: string } | undefined {
  const m = SHAPE.exec(value);
  return m?.[1] && m[2] ? { id: m[1], secret: m[2] } : undefined;
}

/** Constant-time comparison of a presented secret with the stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const expected = Buffer.from(storedHash, 'base64url');
  const actual = hashOf(secret);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
