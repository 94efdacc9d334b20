/**
 * Sealing of stored secrets (Rally tokens) as compact JWE: A256KW + A256GCM,
 * a fresh content key and IV per seal (E7), the key version in `kid`, and the
 * owning document bound into the authenticated header (`bnd`) so a blob copied
 * to another document does not open (E1, E3, E4, E6).
 * @module
 */
// jose's subpath exports: the package root would load all of jose at cold start.
import type { CompactJWEHeaderParameters } from 'jose';
import { compactDecrypt } from 'jose/jwe/compact/decrypt';
import { CompactEncrypt } from 'jose/jwe/compact/encrypt';
import * as joseErrors from 'jose/errors';
import { SecretUnavailableError } from '../secrets/errors.js';
import { sha256Id } from '../kernel/hash.js';
import { KeyRingError, type KeyRing } from './key-ring.js';
import { CodedError, type UnsealErrorCode } from '../kernel/errors.js';

export interface UnsealResult {
  readonly plaintext: Uint8Array;
  /** Key version the record was sealed with. */
  readonly kid: string;
  /** True when sealed under an older version: re-seal and write back (lazy rotation, E6). */
  readonly needsReseal: boolean;
}

export interface Sealer {
  /** Seals under the current key; `boundTo` is the owning Firestore document path. */
  seal(plaintext: Uint8Array | string, boundTo: string): Promise<string>;
  unseal(jwe: string, boundTo: string): Promise<UnsealResult>;
}

/**
 * `unseal_failed`: malformed, tampered or disallowed algorithms (E3, E4).
 * `unknown_kid`: kid not in the configured versions (E5).
 * `key_disabled`: kid is an older configured version that the backend refuses (disabled/destroyed, E6).
 * `binding_mismatch`: sealed for another document.
 * All read as "not linked". Messages never carry the JWE or plaintext; `detail` is the jose error code.
 */
export type { UnsealErrorCode };

export class UnsealError extends CodedError<UnsealErrorCode> {
  readonly detail: string | undefined;
  constructor(code: UnsealErrorCode, detail?: string) {
    super(code, detail ? `${code} (${detail})` : code);
    this.name = 'UnsealError';
    this.detail = detail;
  }
}

const ALG = 'A256KW';
const ENC = 'A256GCM';
/** Far above any sealed Rally token pair; keeps a hostile blob from costing much. */
const MAX_JWE_CHARS = 64 * 1024;
const textEncoder = new TextEncoder();

/** Thrown inside the key resolver so the outer catch can tell it from jose's own errors. */
class ResolverRejection extends Error {
  constructor(readonly error: UnsealError) {
    super(error.code);
  }
}

export function createSealer(ring: KeyRing<CryptoKey>): Sealer {
  return {
    async seal(plaintext, boundTo) {
      const data = typeof plaintext === 'string' ? textEncoder.encode(plaintext) : plaintext;
      const kid = ring.currentKid;
      const key = await ring.current(); // SecretUnavailableError propagates: no seal without the key (E8)
      return new CompactEncrypt(data)
        .setProtectedHeader({ alg: ALG, enc: ENC, kid, bnd: sha256Id(boundTo) })
        .encrypt(key);
    },

    async unseal(jwe, boundTo) {
      if (typeof jwe !== 'string' || jwe.length > MAX_JWE_CHARS) throw new UnsealError('unseal_failed', 'size');
      let result: Awaited<ReturnType<typeof compactDecrypt>>;
      try {
        result = await compactDecrypt(
          jwe,
          async (header: CompactJWEHeaderParameters) => {
            if (header.zip !== undefined) throw new ResolverRejection(new UnsealError('unseal_failed', 'zip'));
            if (typeof header.kid !== 'string') throw new ResolverRejection(new UnsealError('unknown_kid'));
            try {
              return await ring.byKid(header.kid);
            } catch (err) {
              if (err instanceof KeyRingError && err.code === 'unknown_kid')
                throw new ResolverRejection(new UnsealError('unknown_kid'));
              // An older version the backend refuses (disabled/destroyed): this record is unreadable,
              // not the service. The current version failing, or any outage, stays a 503 (E8).
              if (
                err instanceof SecretUnavailableError &&
                header.kid !== ring.currentKid &&
                (err.reason === 'disabled' || err.reason === 'not_found')
              ) {
                throw new ResolverRejection(new UnsealError('key_disabled'));
              }
              throw err;
            }
          },
          { keyManagementAlgorithms: [ALG], contentEncryptionAlgorithms: [ENC], maxDecompressedLength: 0 },
        );
      } catch (err) {
        if (err instanceof ResolverRejection) throw err.error;
        if (err instanceof SecretUnavailableError || err instanceof KeyRingError) throw err;
        if (err instanceof joseErrors.JOSEError) throw new UnsealError('unseal_failed', err.code);
        throw new UnsealError('unseal_failed', err instanceof Error ? err.name : 'unknown');
      }
      const { protectedHeader, plaintext } = result;
      // Authenticated as AAD, so this check cannot be bypassed by editing the header.
      if (protectedHeader.bnd !== sha256Id(boundTo)) {
        plaintext.fill(0);
        throw new UnsealError('binding_mismatch');
      }
      const kid = protectedHeader.kid as string;
      return { plaintext, kid, needsReseal: kid !== ring.currentKid };
    },
  };
}
