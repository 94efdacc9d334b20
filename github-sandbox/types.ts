/**
 * Public, in-process API of the GitHub sandbox (dev/test only, never deployed).
 * The local stack and the tests program against this file. The behaviour it copies
 * is in docs/github-api.md.
 * @module
 */

/**
 * Which kind of GitHub application the registered client is (docs/github-api.md §2):
 * - `oauth-app`: an OAuth App. Tokens (`gho_…`) never expire and carry the granted scopes;
 *   no refresh token. Redirect URIs follow the OAuth App rule (same host and port, a sub-path).
 * - `github-app`: a GitHub App with expiring user tokens. Tokens (`ghu_…`) last 8 hours and come with
 *   a single-use refresh token (`ghr_…`); scopes are ignored. Redirect URIs must match exactly.
 */
export type GitHubTokenMode = 'oauth-app' | 'github-app';

export interface GitHubSandboxOptions {
  /** Port of the web origin (github.com: OAuth pages, token endpoint, html_url pages); 0 or absent picks one. */
  readonly webPort?: number;
  /** Port of the API origin (api.github.com: the REST API); 0 or absent picks one. */
  readonly apiPort?: number;
  /** The one registered application. */
  readonly clientId: string;
  readonly clientSecret: string;
  /** Its callback URLs (an OAuth App has one, a GitHub App up to ten); the first is the default. */
  readonly callbackUrls: readonly string[];
  /** Default `oauth-app`. */
  readonly tokenMode?: GitHubTokenMode;
  /** Shown on the authorize page (default "Rally MCP (sandbox)"). */
  readonly appName?: string;
  /** `github-app` mode: user-token lifetime (default 28800, GitHub's fixed 8 hours). */
  readonly accessTokenTtlSeconds?: number;
  /** `github-app` mode: refresh-token lifetime (default 15897600; see docs/github-api.md §2.4). */
  readonly refreshTokenTtlSeconds?: number;
  /** Authorization-code lifetime (default 600: GitHub's 10 minutes). */
  readonly codeTtlSeconds?: number;
  /** Primary rate limit per user per hour (default 5000). */
  readonly coreLimit?: number;
  /** Search rate limit per user per minute (default 30). */
  readonly searchLimit?: number;
  /** Status of an exhausted primary limit: GitHub documents "403 or 429" (default 403). */
  readonly primaryLimitStatus?: 403 | 429;
  /** Extra users user001 … user<n> (password = login), with no private repository; default 0. */
  readonly extraUsers?: number;
  /** Skip the authorize page after sign-in (the sign-in form still appears). */
  readonly autoApprove?: boolean;
  /** Accepted `X-GitHub-Api-Version` values (default `['2022-11-28']`); others get 400. */
  readonly apiVersions?: readonly string[];
  /** Clock for token, code and rate-limit expiry and seed dates (default: the system clock). */
  readonly now?: () => Date;
}

export type GitHubSandboxServer = 'web' | 'api';

export interface GitHubRecordedRequest {
  readonly time: number;
  readonly server: GitHubSandboxServer;
  readonly method: string;
  /** Path with query string, as received (not decoded). */
  readonly url: string;
  /** Lower-cased header names; values verbatim (tests assert what the client sent). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** The user an API request authenticated as, if any. */
  readonly user?: string;
  /** 0 when the connection was reset. */
  readonly status: number;
}

export type GitHubFaultKind =
  | { readonly kind: 'latency'; readonly ms: number }
  | {
      readonly kind: 'status';
      readonly status: number;
      readonly body?: string;
      readonly contentType?: string;
      readonly headers?: Readonly<Record<string, string>>;
    }
  | { readonly kind: 'reset' }
  | { readonly kind: 'redirect'; readonly location: string }
  /** GitHub's secondary rate limit: 403 (or 429) with its message and, when given, `retry-after`. */
  | { readonly kind: 'secondary-rate-limit'; readonly status?: 403 | 429; readonly retryAfterSeconds?: number };

export interface GitHubFaultRule {
  /** Which origin (default: both). */
  readonly server?: GitHubSandboxServer;
  /** Matches requests whose raw path starts with this (e.g. '/search/' or '/login/oauth/access_token'). */
  readonly pathPrefix: string;
  readonly method?: string;
  /** How many matching requests to affect (default: unlimited until cleared). */
  readonly times?: number;
  readonly fault: GitHubFaultKind;
}

/** The token endpoint's JSON answer, as the sandbox would send it for this mode. */
export interface GitHubIssuedTokens {
  readonly access_token: string;
  readonly token_type: 'bearer';
  readonly scope: string;
  readonly expires_in?: number;
  readonly refresh_token?: string;
  readonly refresh_token_expires_in?: number;
}

export type GitHubRateResource = 'core' | 'search';

export interface GitHubRateState {
  readonly limit: number;
  readonly remaining: number;
  readonly used: number;
  /** UTC epoch seconds. */
  readonly reset: number;
}

export interface GitHubSandbox {
  /** The web origin, http://127.0.0.1:<port>: use where GitHub has https://github.com. */
  readonly webUrl: string;
  /** The API origin, http://127.0.0.1:<port>: use where GitHub has https://api.github.com. */
  readonly apiUrl: string;
  readonly webPort: number;
  readonly apiPort: number;
  readonly clientId: string;
  readonly tokenMode: GitHubTokenMode;
  stop(): Promise<void>;
  /** Restores the seed and forgets authorizations, tokens, codes, sign-ins, rate-limit windows, faults and the log. */
  reset(): void;
  /** Every request received on either origin, oldest first. */
  requests(): readonly GitHubRecordedRequest[];
  clearRequests(): void;
  /** Adds a fault; returns a function that removes it. */
  injectFault(rule: GitHubFaultRule): () => void;
  clearFaults(): void;
  /** Test shortcut: tokens for a seeded user as if they had authorized the app (no browser). */
  issueTokens(login: string, scopes?: readonly string[]): GitHubIssuedTokens;
  /** The user revokes the app (Settings → Applications): every token and refresh token dies, the authorization is gone. */
  revokeAuthorization(login: string): void;
  /** The app deletes one token (`DELETE /applications/{client_id}/token`). */
  revokeToken(accessToken: string): void;
  /** Expiring user tokens of `login` (or everyone) expire now; OAuth App tokens never expire and are untouched. */
  expireAccessTokens(login?: string): void;
  /** Uses up the user's current window of a rate-limit resource. */
  exhaustRateLimit(login: string, resource: GitHubRateResource): void;
  /** The user's current window (a fresh one if none is open). */
  rateLimit(login: string, resource: GitHubRateResource): GitHubRateState;
  /** Token-endpoint calls by grant type (`authorization_code` when none was given). */
  stats(): { readonly tokenRequests: Readonly<Record<string, number>> };
}
