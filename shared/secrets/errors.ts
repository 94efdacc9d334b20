/**
 * The SecretSource port and its one error type.
 * @module
 */
import { CodedError } from '../kernel/errors.js';

/**
 * Reads one pinned version of one secret (K3: never "latest").
 * `version` is a numeric string, e.g. "3".
 */
export interface SecretSource {
  access(name: string, version: string): Promise<Uint8Array>;
}

/**
 * Why a secret could not be read. `unreachable` is transient (network, 5xx, timeout, quota);
 * the others are refusals that retrying will not fix.
 */
export type SecretUnavailableReason =
  | 'unreachable'
  | 'disabled' // version disabled or destroyed (FAILED_PRECONDITION)
  | 'not_found'
  | 'permission_denied'
  | 'integrity' // payload checksum mismatch
  | 'invalid_request'; // malformed name or version, rejected before any backend call

/**
 * The backend could not be reached or refused to hand out a secret version.
 * Surfaces answer 503 (HTTP) or a generic tool error (E8). The message names the
 * secret and version, never secret bytes; `cause` carries the SDK error for debugging.
 */
export class SecretUnavailableError extends CodedError<'secret_unavailable'> {
  readonly reason: SecretUnavailableReason;
  readonly secretName: string;
  readonly secretVersion: string;
  constructor(
    secretName: string,
    secretVersion: string,
    reason: SecretUnavailableReason,
    options?: { cause?: unknown },
  ) {
    super('secret_unavailable', `secret ${secretName} version ${secretVersion} is unavailable (${reason})`, options);
    this.name = 'SecretUnavailableError';
    this.reason = reason;
    this.secretName = secretName;
    this.secretVersion = secretVersion;
  }
}

// Secret Manager secret ids are [A-Za-z0-9_-]{1,255}; versions here are always pinned numbers.
const SECRET_NAME = /^[A-Za-z0-9_-]{1,255}$/;
const SECRET_VERSION = /^[1-9]\d{0,18}$/;

/** Rejects names and versions that could escape a directory or a resource path. */
export function assertSecretRef(name: string, version: string): void {
  if (!SECRET_NAME.test(name) || !SECRET_VERSION.test(version)) {
    throw new SecretUnavailableError(
      SECRET_NAME.test(name) ? name : '(invalid name)',
      SECRET_VERSION.test(version) ? version : '(invalid version)',
      'invalid_request',
    );
  }
}
