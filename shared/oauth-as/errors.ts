/**
 * OAuth errors raised by our authorization server, callback and bearer
 * checks. Handlers only throw; each surface maps in one place.
 * @module
 */
import { CodedError, type OAuthErrorCode } from '../kernel/errors.js';

export type { OAuthErrorCode };

const STATUS: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  unsupported_response_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  access_denied: 403,
  invalid_token: 401,
  insufficient_scope: 403,
  invalid_redirect_uri: 400,
  invalid_client_metadata: 400,
  server_error: 500,
  temporarily_unavailable: 503,
};

export class OAuthError extends CodedError<OAuthErrorCode> {
  /** Safe to show the client. */
  readonly description: string;
  /** For the log only (never secrets). */
  readonly internal: string | undefined;
  readonly status: number;
  /** Sent as Retry-After (e.g. with a 429). */
  readonly retryAfterSeconds: number | undefined;
  constructor(
    code: OAuthErrorCode,
    description: string,
    options: { internal?: string; status?: number; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(code, `${code}: ${description}`, { cause: options.cause });
    this.name = 'OAuthError';
    this.description = description;
    this.internal = options.internal;
    this.status = options.status ?? STATUS[code];
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}
