/**
 * GitHub as an upstream provider (shared/upstream/provider.ts, issue 19): its OAuth endpoints
 * (./oauth.ts), no issuer of its own, and who signed in (`GET /user` through the same REST client
 * the tools use). GitHub is a secondary provider: a grant made by signing in to Rally links it on
 * demand, through a /connect link.
 * @module
 */
import type { Clock } from '../kernel/clock.js';
import type { FetchLike } from '../kernel/fetch.js';
import { PROVIDER_LABELS, UpstreamRefreshRejected, type UpstreamProvider } from '../upstream/provider.js';
import { createGitHubClient } from './client.js';
import {
  buildGitHubAuthorizeUrl,
  exchangeGitHubCode,
  GitHubRefreshRejected,
  refreshGitHubTokens,
  revokeGitHubGrant,
} from './oauth.js';
import { SERVER_INFO } from '../kernel/version.js';
import type { GitHubOAuthConfig } from './oauth.js';
import { whoAmI } from './users.api.js';

export interface GitHubProviderOptions {
  readonly oauth: GitHubOAuthConfig;
  readonly fetch: FetchLike;
  readonly clock: Clock;
  /** Our GitHub OAuth client secret (cached by the secret source). */
  clientSecret(): Promise<string>;
}

export function createGitHubProvider(o: GitHubProviderOptions): UpstreamProvider {
  const now = () => o.clock.now();
  return {
    id: 'github',
    displayName: PROVIDER_LABELS.github.name,
    scopes: o.oauth.scopes,
    authorizeOrigin: new URL(o.oauth.authorizeBaseUrl).origin,
    authorizeUrl: (state, verifier) => buildGitHubAuthorizeUrl(o.oauth, state, verifier),
    // GitHub names no issuer in its authorization responses: one that arrives belongs to another server (B8).
    acceptsIssuer: (iss) => iss === undefined,
    exchangeCode: async (code, verifier) =>
      exchangeGitHubCode(o.oauth, o.fetch, await o.clientSecret(), code, verifier, now),
    async refresh(refreshToken) {
      try {
        return await refreshGitHubTokens(o.oauth, o.fetch, await o.clientSecret(), refreshToken, now);
      } catch (err) {
        if (err instanceof GitHubRefreshRejected) throw new UpstreamRefreshRejected('github', { cause: err });
        throw err;
      }
    },
    async identify(accessToken, ctx) {
      const client = createGitHubClient({
        apiBaseUrl: o.oauth.apiBaseUrl,
        fetch: o.fetch,
        timeoutMs: o.oauth.timeoutMs,
        clock: o.clock,
        log: ctx.log,
        tokens: {
          accessToken: async () => accessToken,
          refreshAfterUnauthorized: () => Promise.reject(new Error('fresh token refused')),
        },
      });
      const u = await whoAmI(client);
      return { id: String(u.id), login: u.login, ...(u.name ? { displayName: u.name } : {}) };
    },
    revokeAuthorization: async (accessToken) =>
      revokeGitHubGrant(
        o.oauth,
        o.fetch,
        await o.clientSecret(),
        accessToken,
        `${SERVER_INFO.name}/${SERVER_INFO.version}`,
      ),
  };
}
