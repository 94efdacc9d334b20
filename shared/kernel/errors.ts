/**
 * The one error base: every error the server raises on purpose is a
 * `CodedError` whose `code` is one of the stable codes below. Callers and the
 * surface mappers (shared/http/page-errors.ts, shared/oauth-as/oauth-errors.ts,
 * shared/mcp/jsonrpc-errors.ts, shared/mcp/rest.ts) branch on `code`, never
 * on message text. The codes live here, below every layer, so a mapper low in
 * the house can still switch on the codes of errors raised above it.
 * Codes are part of the contract (logs, audit, tests, some response bodies):
 * add new ones, never rename.
 * @module
 */

/** A dependency the server cannot work without is down: every surface answers 503 + Retry-After (E8, F5, K2). */
export type UnavailableErrorCode = 'secret_unavailable' | 'store_unavailable' | 'key_disabled_all';

/** The environment or the policy file does not describe a valid configuration. */
export type ConfigErrorCode = 'invalid_config';

/** Key material and sealed data (shared/crypto). */
export type KeyRingErrorCode = 'unknown_kid' | 'invalid_key';
export type UnsealErrorCode = 'unseal_failed' | 'unknown_kid' | 'key_disabled' | 'binding_mismatch';

/** A request refused before its handler runs (shared/http/edge-error.ts). */
export type EdgeErrorCode =
  | 'content_encoding_unsupported'
  | 'media_type_unsupported'
  | 'charset_unsupported'
  | 'body_too_large'
  | 'malformed_json'
  | 'json_too_deep'
  | 'malformed_form'
  | 'malformed_text'
  | 'malformed_url';

/** Stored documents (shared/store). */
export type StoreErrorCode = 'store_unavailable' | 'corrupt_record' | 'grant_not_active';

/** Too many requests of one kind from one address (shared/ratelimit). */
export type ThrottleErrorCode = 'address_throttled';

/** Rally WSAPI, its query grammar, name lookups and its OAuth endpoint (shared/rally). */
export type RallyErrorCode =
  'rally_unauthorized' | 'rally_forbidden' | 'rally_not_found' | 'rally_rejected' | 'rally_unavailable';
export type RallyQueryErrorCode = 'invalid_query';
export type RallyLookupErrorCode = 'not_found' | 'ambiguous';
export type RallyOAuthErrorCode = 'rally_refresh_rejected' | 'rally_token_response_invalid';

/** GitHub's REST API and its OAuth token endpoint (shared/github). */
export type GitHubErrorCode =
  | 'github_unauthorized'
  | 'github_forbidden'
  | 'github_not_found'
  | 'github_validation_failed'
  | 'github_rate_limited'
  | 'github_rejected'
  | 'github_unavailable';
export type GitHubOAuthErrorCode = 'github_refresh_rejected' | 'github_token_response_invalid';

/** The upstream link of a grant or session (shared/upstream, shared/upstream-link). */
export type LinkErrorCode = 'link_required' | 'link_user_mismatch' | 'refresh_busy' | 'upstream_refresh_rejected';

/** RFC 6749 §5.2 / RFC 6750 §3.1 / RFC 7591 §3.2.2 error codes of our authorization server (shared/oauth-as). */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'access_denied'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'invalid_redirect_uri'
  | 'invalid_client_metadata'
  | 'server_error'
  | 'temporarily_unavailable';

/** Who is calling /mcp and /tools/<name> (shared/mcp/principal.ts), and what a tool argument turned out to be. */
export type McpAuthErrorCode = 'missing_token' | 'invalid_token' | 'insufficient_scope' | 'invalid_session';
export type ToolErrorCode = 'invalid_tool_input';
/** A connection token's project allowlist refused what a tool call reached for (issue 18, O16–O22). */
export type ProjectScopeErrorCode = 'project_not_allowed';
/** A 2026-07-28 `requestState` echoed back by a client (shared/mcp/sign-in-round.ts). */
export type RequestStateErrorCode = 'request_state_invalid' | 'request_state_expired' | 'request_state_replayed';

export type ErrorCode =
  | UnavailableErrorCode
  | ConfigErrorCode
  | KeyRingErrorCode
  | UnsealErrorCode
  | EdgeErrorCode
  | StoreErrorCode
  | ThrottleErrorCode
  | RallyErrorCode
  | RallyQueryErrorCode
  | RallyLookupErrorCode
  | RallyOAuthErrorCode
  | GitHubErrorCode
  | GitHubOAuthErrorCode
  | LinkErrorCode
  | OAuthErrorCode
  | McpAuthErrorCode
  | ToolErrorCode
  | ProjectScopeErrorCode
  | RequestStateErrorCode;

/**
 * An error with a stable code. Subclasses keep their own `name` and message;
 * the message is for logs (never a secret), what a client may see is decided
 * by the surface's mapper.
 */
export class CodedError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  constructor(code: C, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
