/**
 * Key rings over pinned Secret Manager versions. `kid` is the version number;
 * the first configured version is current (seals/signs), the rest only open/verify.
 * Keys load lazily, so a disabled old version fails only when something needs it (E6).
 * @module
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { importJWK } from 'jose/key/import'; // a subpath: the root would load all of jose
import { z } from 'zod';
import type { SecretSource } from '../secrets/errors.js';
import { CodedError, type KeyRingErrorCode } from '../kernel/errors.js';

export interface KeyRing<K> {
  /** The kid new seals/signatures use: the first configured version. */
  readonly currentKid: string;
  current(): Promise<K>;
  /** The key for `kid`, only if `kid` is a configured version; never "latest" (E5). */
  byKid(kid: string): Promise<K>;
}

export type { KeyRingErrorCode };

/** A kid outside the configured versions, or key material of the wrong shape. Never carries key bytes. */
export class KeyRingError extends CodedError<KeyRingErrorCode> {
  constructor(code: KeyRingErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'KeyRingError';
  }
}

export interface SigningKeyPair {
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
}

function createKeyRing<K>(
  source: SecretSource,
  name: string,
  versions: readonly string[],
  parse: (payload: Uint8Array, kid: string) => Promise<K>,
): KeyRing<K> {
  const [currentKid] = versions;
  if (currentKid === undefined) throw new KeyRingError('invalid_key', `key ring ${name}: no versions configured`);
  for (const v of versions) {
    if (!/^[1-9]\d*$/.test(v))
      throw new KeyRingError('invalid_key', `key ring ${name}: version "${v}" is not a number`);
  }
  const allowed = new Set(versions);
  const loaded = new Map<string, Promise<K>>();

  const byKid = (kid: string): Promise<K> => {
    if (typeof kid !== 'string' || !allowed.has(kid)) {
      return Promise.reject(new KeyRingError('unknown_kid', `key ring ${name}: kid is not a configured version`));
    }
    let entry = loaded.get(kid);
    if (!entry) {
      const pending = source.access(name, kid).then(async (payload) => {
        try {
          return await parse(payload, kid);
        } finally {
          payload.fill(0); // the source hands out copies; drop this one
        }
      });
      entry = pending;
      loaded.set(kid, pending);
      pending.catch(() => {
        if (loaded.get(kid) === pending) loaded.delete(kid); // not cached: the next call retries
      });
    }
    return entry;
  };

  return { currentKid, current: () => byKid(currentKid), byKid };
}

const AES_256_KEY_B64URL = /^[A-Za-z0-9_-]{43}$/;

/**
 * Sealing keys: each version's payload is base64url text of 32 random bytes
 * (surrounding whitespace ignored), imported as a non-extractable AES-KW key for A256KW.
 */
export function createSealingKeyRing(
  source: SecretSource,
  name: string,
  versions: readonly string[],
): KeyRing<CryptoKey> {
  return createKeyRing(source, name, versions, async (payload, kid) => {
    const text = new TextDecoder().decode(payload).trim();
    if (!AES_256_KEY_B64URL.test(text)) {
      throw new KeyRingError('invalid_key', `key ring ${name}: version ${kid} is not base64url of 32 bytes`);
    }
    const raw = new Uint8Array(Buffer.from(text, 'base64url'));
    try {
      if (raw.byteLength !== 32)
        throw new KeyRingError('invalid_key', `key ring ${name}: version ${kid} is not 32 bytes`);
      return await crypto.subtle.importKey('raw', raw, { name: 'AES-KW' }, false, ['wrapKey', 'unwrapKey']);
    } finally {
      raw.fill(0);
    }
  });
}

const Ed25519PrivateJwk = z.object({
  kty: z.literal('OKP'),
  crv: z.literal('Ed25519'),
  x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  d: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
});

/**
 * Signing keys: each version's payload is an Ed25519 private JWK (`{kty:"OKP",crv:"Ed25519",x,d}`).
 * The public half is checked against `d`, so a mis-pasted `x` fails at load, not at verify time.
 */
export function createSigningKeyRing(
  source: SecretSource,
  name: string,
  versions: readonly string[],
): KeyRing<SigningKeyPair> {
  return createKeyRing(source, name, versions, async (payload, kid) => {
    let jwk: z.infer<typeof Ed25519PrivateJwk>;
    try {
      jwk = Ed25519PrivateJwk.parse(JSON.parse(new TextDecoder().decode(payload)));
    } catch {
      // no cause: a JSON or zod error could quote key material
      throw new KeyRingError('invalid_key', `key ring ${name}: version ${kid} is not an Ed25519 private JWK`);
    }
    const derivedX = createPublicKey(createPrivateKey({ key: jwk, format: 'jwk' })).export({ format: 'jwk' }).x;
    if (derivedX !== jwk.x)
      throw new KeyRingError('invalid_key', `key ring ${name}: version ${kid} has an x that does not match d`);
    const privateKey = await importJWK({ kty: 'OKP', crv: 'Ed25519', x: jwk.x, d: jwk.d }, 'EdDSA', {
      extractable: false,
    });
    const publicKey = await importJWK({ kty: 'OKP', crv: 'Ed25519', x: jwk.x }, 'EdDSA');
    if (!(privateKey instanceof CryptoKey) || !(publicKey instanceof CryptoKey)) {
      throw new KeyRingError('invalid_key', `key ring ${name}: version ${kid} did not import as a CryptoKey`);
    }
    return { privateKey, publicKey };
  });
}
