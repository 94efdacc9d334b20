/**
 * Public, in-process API of the Rally sandbox (dev/test only, never deployed).
 * The local stack, the tests and the benchmarks program against this file.
 * @module
 */

export interface RallySandboxOptions {
  /** Port to listen on; 0 or absent picks a free one. Host is always 127.0.0.1. */
  readonly port?: number;
  /** The one registered OAuth client (Rally allows one redirect URI per client; we allow a list for tests). */
  readonly clientId: string;
  readonly clientSecret: string;
  readonly redirectUris: readonly string[];
  /** Access-token lifetime in seconds (default 86400, Rally's sample value). */
  readonly accessTokenTtlSeconds?: number;
  /** Refresh-token lifetime in seconds (default 180 days). */
  readonly refreshTokenTtlSeconds?: number;
  /** Authorization-code lifetime in seconds (default 60). */
  readonly codeTtlSeconds?: number;
  /** Whether a refresh returns a new refresh token and invalidates the old one (default true). */
  readonly rotateRefreshTokens?: boolean;
  /** 'ignore' (Rally's presumed behaviour, default): PKCE params ignored; 'verify': if a challenge was sent, the verifier is checked. */
  readonly pkce?: 'ignore' | 'verify';
  /** Accept `Authorization: Bearer` on WSAPI (default false: only ZSESSIONID). */
  readonly acceptBearer?: boolean;
  /** Accept scope=openid besides alm (default false). */
  readonly acceptOpenidScope?: boolean;
  /** Per-user in-flight WSAPI limit (default 12) and what the 13th request does (default 'wait'). */
  readonly maxConcurrentPerUser?: number;
  readonly overLimit?: 'wait' | 'reject';
  /** Skip the Allow page after sign-in (tests); the sign-in form still appears. */
  readonly autoApprove?: boolean;
  /** Adds users `user001`…`userNNN` (password = user name), each with a private project and three stories named after them (load tests). */
  readonly extraUsers?: number;
  /** FormattedID prefixes (Rally defaults US, DE, TA; configurable per workspace in Rally). */
  readonly formattedIdPrefixes?: {
    readonly hierarchicalrequirement?: string;
    readonly defect?: string;
    readonly task?: string;
  };
  /** Clock for token expiry, `today` in queries and seed dates (default: the system clock). */
  readonly now?: () => Date;
}

export interface RecordedRequest {
  readonly time: number;
  readonly method: string;
  /** Path with query string. */
  readonly url: string;
  /** Lower-cased header names; values verbatim (tests assert what the client sent). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** The Rally user the request authenticated as, if any. */
  readonly user?: string;
  readonly status: number;
}

export type FaultKind =
  | { readonly kind: 'latency'; readonly ms: number }
  | { readonly kind: 'status'; readonly status: number; readonly body?: string; readonly contentType?: string }
  | { readonly kind: 'reset' }
  | { readonly kind: 'redirect'; readonly location: string };

export interface FaultRule {
  /** Matches requests whose path starts with this (e.g. '/slm/webservice/v2.0/defect' or '/login/oauth2/token'). */
  readonly pathPrefix: string;
  readonly method?: string;
  /** How many matching requests to affect (default: unlimited until cleared). */
  readonly times?: number;
  readonly fault: FaultKind;
}

export interface IssuedTokens {
  readonly access_token: string;
  readonly refresh_token: string;
  readonly expires_in: number;
}

export interface RallySandbox {
  /** http://127.0.0.1:<port> — use as RALLY_BASE_URL. */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  /** Restores the seed data and forgets tokens, codes, faults and the request log. */
  reset(): void;
  /** Every request received, oldest first. */
  requests(): readonly RecordedRequest[];
  clearRequests(): void;
  /** Adds a fault; returns a function that removes it. */
  injectFault(rule: FaultRule): () => void;
  clearFaults(): void;
  /** Test shortcut: tokens for a seeded user as if they had signed in (no browser). */
  issueTokens(username: string): IssuedTokens;
  /** Makes every access token of `username` (or everyone) expire now, so WSAPI answers 401. */
  expireAccessTokens(username?: string): void;
  /** Revokes all grants of `username` (as Rally's "Authorized Applications" page would). */
  revokeGrants(username: string): void;
  /** The user's API key (ZSESSIONID `_...`). */
  apiKey(username: string): string;
  /** Counts for assertions: token-endpoint calls by grant type, highest concurrent WSAPI requests seen per user. */
  stats(): {
    readonly tokenRequests: Readonly<Record<string, number>>;
    readonly maxConcurrent: Readonly<Record<string, number>>;
    /** WSAPI requests holding a slot right now, per user. */
    readonly inFlight?: Readonly<Record<string, number>>;
    /** WSAPI requests waiting for a slot (overLimit 'wait'), per user. */
    readonly queued?: Readonly<Record<string, number>>;
  };
  /** Direct read of stored objects for assertions, e.g. items('hierarchicalrequirement'). Plain JSON copies. */
  items(type: string): readonly Record<string, unknown>[];
}

export type StartRallySandbox = (options: RallySandboxOptions) => Promise<RallySandbox>;
