/**
 * Local stack and tests only: a test double of a second upstream provider, so the generic path of
 * issue 19 (a provider that is not the primary, linked through /connect, its records in
 * `upstream_tokens`) runs end to end before GitHub's own module exists. It takes the `github`
 * slot (GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET_NAME, GITHUB_AUTHORIZE_BASE_URL,
 * GITHUB_API_BASE_URL) but speaks Rally's OAuth and `GET /user`, against a second Rally sandbox,
 * and behaves like a GitHub OAuth App in the one way the generic code must handle: its access
 * tokens are stored without an expiry, so they are refreshed only after a 401.
 *
 * dev/serve.ts installs it when DEV_UPSTREAM_DOUBLE=github (never in production); a deployed
 * function never loads this module.
 * @module
 */
import { publicUrls } from '../shared/config/config.js';
import type { ProviderFactory } from '../shared/app/auth-services.js';
import { createRallyProvider } from '../shared/rally/provider.js';
import { createRallyClient } from '../shared/rally/client.js';
import { createConcurrencyLimiter } from '../shared/rally/concurrency.js';
import {
  PROVIDER_LABELS,
  UpstreamRefreshRejected,
  type UpstreamProviderId,
  type UpstreamTokens,
} from '../shared/upstream/provider.js';

export const UPSTREAM_DOUBLE_ENV = 'DEV_UPSTREAM_DOUBLE';

/** Like a GitHub OAuth App token: no expiry (refreshed after a 401 only). */
const withoutExpiry = (t: UpstreamTokens): UpstreamTokens => ({ ...t, accessExpiresAt: undefined });

export const githubDouble: ProviderFactory = ({ config, deps, secretText }) => {
  if (!config.GITHUB_CLIENT_ID) throw new Error('the github double needs GITHUB_CLIENT_ID');
  const limiter = createConcurrencyLimiter(4);
  const rallyShaped = createRallyProvider({
    oauth: {
      baseUrl: config.GITHUB_AUTHORIZE_BASE_URL,
      clientId: config.GITHUB_CLIENT_ID,
      redirectUri: publicUrls(config).upstreamRedirectUri,
      usePkce: true,
      timeoutMs: config.RALLY_TIMEOUT_MS,
    },
    issuer: config.GITHUB_AUTHORIZE_BASE_URL,
    fetch: deps.fetch,
    clock: deps.clock,
    clientSecret: () => secretText(config.GITHUB_CLIENT_SECRET_NAME, config.GITHUB_CLIENT_SECRET_VERSION),
    client: (o) =>
      createRallyClient({
        ...o,
        baseUrl: config.GITHUB_API_BASE_URL,
        fetch: deps.fetch,
        limiter,
        timeoutMs: config.RALLY_TIMEOUT_MS,
        userAgent: 'rally-mcp-upstream-double',
        clock: deps.clock,
      }),
  });
  const id: UpstreamProviderId = 'github';
  return {
    ...rallyShaped,
    id,
    displayName: PROVIDER_LABELS.github.name,
    scopes: config.GITHUB_SCOPES,
    acceptsIssuer: (iss) => iss === undefined, // names no issuer, so any `iss` is another server's
    exchangeCode: async (code, verifier) => withoutExpiry(await rallyShaped.exchangeCode(code, verifier)),
    async refresh(refreshToken) {
      try {
        return withoutExpiry(await rallyShaped.refresh(refreshToken));
      } catch (err) {
        if (err instanceof UpstreamRefreshRejected) throw new UpstreamRefreshRejected(id, { cause: err });
        throw err;
      }
    },
  };
};

/** The provider factories DEV_UPSTREAM_DOUBLE names (only `github` today). */
export function upstreamDoubles(value: string | undefined): Partial<Record<UpstreamProviderId, ProviderFactory>> {
  if (!value) return {};
  if (value !== 'github') throw new Error(`${UPSTREAM_DOUBLE_ENV} must be github`);
  return { github: githubDouble };
}
