/**
 * What an upstream provider is (issue 19): a service whose API the tools call as the signed-in
 * user, reached through OAuth 2.0 authorization code + PKCE with our client credentials. Rally is
 * the first provider and the primary one (our grants are created by signing in to it); GitHub is
 * the second. Everything that sends a browser to a provider, completes its callback, stores,
 * refreshes and hands out its tokens is written once against this interface
 * (shared/upstream-link/, shared/oauth-as/callback.ts, shared/session-link/connect.ts) and is
 * parameterised by the provider's id. A provider module implements it beside its own code
 * (shared/rally/provider.ts) and the composition root (shared/app/auth-services.ts) builds the
 * enabled ones from configuration (UPSTREAM_PROVIDERS).
 * @module
 */
import { CodedError } from '../kernel/errors.js';
import { PRIMARY_PROVIDER, type UpstreamProviderId } from '../kernel/providers.js';
import type { Logger } from '../logging/logger.js';

export { PRIMARY_PROVIDER, UPSTREAM_PROVIDER_IDS, type UpstreamProviderId } from '../kernel/providers.js';

/** Tokens a provider issued to us for one user. */
export interface UpstreamTokens {
  readonly accessToken: string;
  /** Absent when the provider issues none (or, after a refresh, did not rotate it). */
  readonly refreshToken: string | undefined;
  /**
   * When the access token stops working; undefined for a token that does not expire (GitHub
   * OAuth App tokens): it is then refreshed only after the provider answers 401, and only if
   * there is a refresh token.
   */
  readonly accessExpiresAt: Date | undefined;
  /** When the refresh token stops working, if the provider says (GitHub App user tokens). */
  readonly refreshExpiresAt?: Date | undefined;
}

/** Who signed in at a provider. */
export interface UpstreamUser {
  /** The provider's stable id of the user (Rally ObjectID, GitHub numeric id): what a re-link must match. */
  readonly id: string;
  /** The user's login name there (Rally UserName, GitHub login): shown and audited. */
  readonly login: string;
  readonly displayName?: string | undefined;
}

/** Labels and logger of the request that asks who signed in. */
export interface IdentifyContext {
  readonly requestId: string;
  readonly correlationId?: string;
  readonly log: Logger;
}

/** The provider refused a refresh token for good (`invalid_grant`, expired): the user must sign in again (D3). */
export class UpstreamRefreshRejected extends CodedError<'upstream_refresh_rejected'> {
  readonly provider: UpstreamProviderId;
  constructor(provider: UpstreamProviderId, options?: { cause?: unknown }) {
    super('upstream_refresh_rejected', `${provider} rejected the refresh token`, options);
    this.name = 'UpstreamRefreshRejected';
    this.provider = provider;
  }
}

/**
 * One upstream provider, built for this instance (its configuration, client credentials and
 * fetch bound in). Every method but `authorizeUrl` and `acceptsIssuer` calls the provider.
 */
export interface UpstreamProvider {
  readonly id: UpstreamProviderId;
  /** How pages and prompts name it: "Rally", "GitHub". */
  readonly displayName: string;
  /** The scopes we ask for, as sent in the authorize URL. */
  readonly scopes: readonly string[];
  /** The origin of its authorize page: the one place our pages may send a browser for it (CSP form-action). */
  readonly authorizeOrigin: string;
  /** The authorize URL for a fresh `state` and PKCE `verifier` (S256), from configuration only (A4/A5). */
  authorizeUrl(state: string, verifier: string): string;
  /**
   * RFC 9207: whether the callback's `iss` parameter (undefined when absent) may come from this
   * provider. A provider that names no issuer refuses any `iss`: one that arrives belongs to
   * another authorization server (mix-up, B8).
   */
  acceptsIssuer(iss: string | undefined): boolean;
  /** Redeems an authorization code with our client credentials and the PKCE verifier (B16). */
  exchangeCode(code: string, verifier: string): Promise<UpstreamTokens>;
  /** New tokens for a refresh token; throws UpstreamRefreshRejected when the provider refuses it for good. */
  refresh(refreshToken: string): Promise<UpstreamTokens>;
  /** Who the fresh access token belongs to. */
  identify(accessToken: string, ctx: IdentifyContext): Promise<UpstreamUser>;
  /**
   * Ends the user's whole authorization of our app at the provider, if the provider offers that
   * (GitHub: `DELETE /applications/{client_id}/grant`; Rally has no revocation endpoint, D9).
   * True when it ended it, false when the provider no longer knew the token; throws otherwise.
   */
  revokeAuthorization?(accessToken: string): Promise<boolean>;
}

/** The enabled providers of an instance: the primary first. */
export interface UpstreamProviders {
  readonly primary: UpstreamProvider;
  /** Every enabled provider, the primary first. */
  readonly all: readonly UpstreamProvider[];
  /** The enabled provider `id`, or undefined when this deployment does not enable it. */
  get(id: UpstreamProviderId): UpstreamProvider | undefined;
}

export function upstreamProviders(all: readonly UpstreamProvider[]): UpstreamProviders {
  const primary = all[0];
  if (!primary || primary.id !== PRIMARY_PROVIDER)
    throw new Error(`the first upstream provider must be ${PRIMARY_PROVIDER}, the primary identity`);
  const byId = new Map(all.map((p) => [p.id, p] as const));
  return { primary, all, get: (id) => byId.get(id) };
}

/**
 * How prompts name a provider without its module at hand (a tool's "… is not connected"): its
 * display name, and what signing in lets the agent do.
 */
export const PROVIDER_LABELS: Readonly<
  Record<UpstreamProviderId, { readonly name: string; readonly purpose: string }>
> = {
  rally: { name: 'Rally', purpose: 'read and update your work items' },
  github: { name: 'GitHub', purpose: 'read your repositories and pull requests' },
};

/** Parses a provider id from a stored record: absent means the primary (records from before issue 19). */
export const providerOf = (stored: UpstreamProviderId | undefined): UpstreamProviderId => stored ?? PRIMARY_PROVIDER;

/**
 * What a provider's API client needs from the auth layer (Rally's WSAPI client, GitHub's REST
 * client): the per-request token provider of shared/upstream-link/token-provider.ts implements it.
 * The client never sees Firestore, nor the MCP client's bearer token.
 */
export interface UpstreamTokenProvider {
  /** The current access token. Throws LinkRequiredError when there is no usable link. */
  accessToken(): Promise<string>;
  /**
   * The provider answered 401 to a request made with `rejected`. Returns a fresh token
   * (refreshing at most once across instances) or throws LinkRequiredError.
   */
  refreshAfterUnauthorized(rejected: string): Promise<string>;
}
