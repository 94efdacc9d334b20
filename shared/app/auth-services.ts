/**
 * The instance's auth machinery, built once: secret source, key rings,
 * sealer, access-token signer and the Rally token store. Keys load lazily
 * on first use (or together, through prefetchKeys); Secret Manager failures
 * surface as SecretUnavailableError (503).
 * @module
 */
import { publicUrls } from '../config/config.js';
import { createSecretSourceFromConfig } from '../secrets/secret-source.js';
import { createSealingKeyRing, createSigningKeyRing } from '../crypto/key-ring.js';
import { createSealer } from '../crypto/sealer.js';
import { createAccessTokenSigner } from '../crypto/access-token.js';
import { RallyTokenStore } from '../upstream-link/link-store.js';
import { refreshRallyTokens, type RallyOAuthConfig } from '../rally/oauth.js';
import { createRateLimiter } from '../ratelimit/rate-limiter.js';
import { createConcurrencyLimiter } from '../rally/concurrency.js';
import { createRallyClient } from '../rally/client.js';
import { SERVER_INFO } from '../kernel/version.js';
import type { AuthServices } from '../services/auth-services.js';
import type { Deps } from '../services/deps.js';

export async function createAuthServices(deps: Deps): Promise<AuthServices> {
  const { config } = deps;
  // No Firestore client here: a warm tool call reads its one document over REST, so an MCP
  // instance loads the client library only when it first writes (deps.db()).
  const source = createSecretSourceFromConfig(config);
  const sealingKeys = createSealingKeyRing(source, config.SEALING_KEY_NAME, config.SEALING_KEY_VERSIONS);
  const signingKeys = createSigningKeyRing(source, config.SIGNING_KEY_NAME, config.SIGNING_KEY_VERSIONS);
  const sealer = createSealer(sealingKeys);
  const signer = createAccessTokenSigner(signingKeys, {
    issuer: publicUrls(config).issuer,
    clock: deps.clock,
  });
  const tokens = new RallyTokenStore({
    db: deps.db,
    documents: deps.documents,
    sealer,
    clock: deps.clock,
    log: deps.log,
    ttlSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
    cacheSeconds: config.LINK_CACHE_SECONDS,
  });
  const rally: RallyOAuthConfig = {
    baseUrl: config.RALLY_BASE_URL,
    clientId: config.RALLY_CLIENT_ID,
    redirectUri: publicUrls(config).rallyRedirectUri,
    usePkce: config.RALLY_PKCE,
    timeoutMs: config.RALLY_TIMEOUT_MS,
  };
  const rateLimiter = createRateLimiter({ db: deps.db, clock: deps.clock, shards: config.RATE_LIMIT_SHARDS });
  const rallyLimiter = createConcurrencyLimiter(config.RALLY_MAX_CONCURRENCY_PER_USER);
  const rallyClientSecret = async () =>
    new TextDecoder()
      .decode(await source.access(config.RALLY_CLIENT_SECRET_NAME, config.RALLY_CLIENT_SECRET_VERSION))
      .trim();
  return {
    sealer,
    signer,
    tokens,
    rally,
    rallyClientSecret,
    secrets: source,
    rateLimiter,
    rallyLimiter,
    rallyClient: (o) =>
      createRallyClient({
        ...o,
        baseUrl: config.RALLY_BASE_URL,
        fetch: deps.fetch,
        limiter: rallyLimiter,
        timeoutMs: config.RALLY_TIMEOUT_MS,
        userAgent: `${SERVER_INFO.name}/${SERVER_INFO.version} (+${config.PUBLIC_BASE_URL})`,
        clock: deps.clock,
      }),
    refreshRally: async (refreshToken) =>
      refreshRallyTokens(rally, deps.fetch, await rallyClientSecret(), refreshToken, () => deps.clock.now()),
    prefetchKeys: () => {
      void Promise.allSettled([signingKeys.current(), sealingKeys.current()]);
    },
  };
}
