/**
 * Hashes for lookup ids and random opaque tokens.
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';

/** base64url(SHA-256(value)), 43 characters: the Firestore document id for a secret lookup value (E9, F6). */
export function sha256Id(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

/**
 * `bytes` bytes from the CSPRNG as base64url (32 bytes → 43 characters, 256 bits).
 * Anything that guards access needs at least 16 bytes (128 bits, A1/G2); smaller sizes are for labels.
 */
export function randomToken(bytes = 32): string {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 1024)
    throw new RangeError('randomToken: bytes must be an integer in 1..1024');
  return randomBytes(bytes).toString('base64url');
}
