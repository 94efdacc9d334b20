/**
 * L11: which session ids are strong enough to be a credential, and L12: the
 * one derivation of the session identity (header precedence, hash, label).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Request } from '@google-cloud/functions-framework';
import fc from 'fast-check';
import { isStrongSessionId, readSessionHeader, sessionIdentityOf } from '../../../shared/session/session-id.js';
import { sha256Id } from '../../../shared/crypto/hash.js';

const req = (headers: Record<string, string>) => ({ get: (name: string) => headers[name.toLowerCase()] }) as unknown as Request;

/** Weak values a user might paste: each must be refused. */
export const WEAK_SESSION_IDS: readonly string[] = [
  'ABCDEFGHIJKLMNOPQRSTUV',
  'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
  'abcdefghijklmnopqrstuvwxyz',
  'ZYXWVUTSRQPONMLKJIHGFEDCBA',
  '123e4567-e89b-42d3-a456-426614174000',
  'f47ac10b-58cc-4372-a567-0e02b2c3d479',
  '3fa85f64-5717-4562-b3fc-2c963f66afa6',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '00000000-0000-4000-8000-000000000000',
  'ababababababababababababababababab',
  'abcabcabcabcabcabcabcabcabcabc',
  'session-1session-1session-1session-1',
  '0123456789012345678901234567890123',
  '01234567-89ab-4cde-8f01-23456789abcd',
  'abababab-abab-4bab-abab-abababababab',
  'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
];

describe('session ids (L11)', () => {
  it.each(WEAK_SESSION_IDS)('L11: the weak id %s is refused', (weak) => {
    expect(isStrongSessionId(weak)).toBe(false);
    expect(readSessionHeader(req({ 'session-id': weak })).kind).toBe('weak');
  });

  it('L11: crypto.randomUUID() is always accepted (10,000 samples, upper and lower case)', () => {
    for (let i = 0; i < 10_000; i++) {
      const id = randomUUID();
      if (!isStrongSessionId(id) || !isStrongSessionId(id.toUpperCase())) throw new Error(`false rejection: ${id}`);
    }
  });

  // noBias: fast-check otherwise favours small and repeated values, which are exactly the weak ids we refuse.
  const randomBytesArb = (min: number, max: number) => fc.noBias(fc.uint8Array({ minLength: min, maxLength: max }));

  it('L11: 22+ random base64url characters are always accepted (fast-check over uniformly random bytes)', () => {
    fc.assert(fc.property(randomBytesArb(17, 48), (bytes) => isStrongSessionId(Buffer.from(bytes).toString('base64url'))), { numRuns: 10_000 });
    for (let i = 0; i < 10_000; i++) {
      const id = randomBytes(17).toString('base64url').slice(0, 22);
      if (!isStrongSessionId(id)) throw new Error(`false rejection: ${id}`);
    }
  });

  it('L11: UUIDv4 from uniformly random bytes are always accepted (fast-check)', () => {
    const uuidOf = (b: Uint8Array) => {
      const h = Buffer.from(b).toString('hex');
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[b[8]! & 3]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
    };
    fc.assert(fc.property(randomBytesArb(16, 16), (bytes) => isStrongSessionId(uuidOf(bytes))), { numRuns: 10_000 });
  });
});

describe('the one session identity (L12)', () => {
  const value = randomUUID();
  const hash = sha256Id(`session-id:${value}`);

  it('L12: Session-ID and x-ms-copilot-session-id with the same value give the same hash and label', () => {
    const viaSessionId = sessionIdentityOf(req({ 'session-id': value }));
    const viaCopilot = sessionIdentityOf(req({ 'x-ms-copilot-session-id': value }));
    expect(viaSessionId).toEqual({ header: 'session-id', hash, label: hash.slice(0, 16), isStrong: true });
    expect(viaCopilot).toEqual({ header: 'x-ms-copilot-session-id', hash, label: hash.slice(0, 16), isStrong: true });
    expect(readSessionHeader(req({ 'session-id': value }))).toEqual({ kind: 'ok', credential: { hash, header: 'session-id' } });
  });

  it('L12: precedence x-ms-copilot-session-id, then Session-ID, then Mcp-Session-Id (a label, never a credential)', () => {
    const other = randomUUID();
    expect(sessionIdentityOf(req({ 'x-ms-copilot-session-id': other, 'session-id': value }))?.hash).toBe(sha256Id(`session-id:${other}`));
    expect(sessionIdentityOf(req({ 'session-id': value, 'mcp-session-id': other }))?.hash).toBe(hash);
    expect(sessionIdentityOf(req({ 'mcp-session-id': value }))).toEqual({ header: 'mcp-session-id', hash, label: hash.slice(0, 16), isStrong: false });
    expect(readSessionHeader(req({ 'mcp-session-id': value }))).toEqual({ kind: 'none' });
    expect(sessionIdentityOf(req({ 'mcp-session-id': '' }))).toBeUndefined();
  });
});
