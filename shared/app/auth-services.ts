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
import { createSealer, type Sealer } from '../crypto/sealer.js';
import { createAccessTokenSigner, type AccessTokenSigner } from '../crypto/access-token.js';
import { RallyTokenStore } from '../storage/rally-tokens.store.js';
import { refreshRallyTokens, type RallyOAuthConfig } from '../oauth/rally-oauth.js';
import type { RallyTokens } from '../storage/rally-tokens.store.js';
import { createRateLimiter, type RateLimiter } from '../ratelimit/limiter.js';
import { createConcurrencyLimiter, type ConcurrencyLimiter } from '../rally/limiter.js';
import { createRallyClient, type RallyClient } from '../rally/client.js';
import type { RallyRequestLabels, RallyTokenProvider } from '../rally/ports.js';
import type { Logger } from '../logging/logger.js';
import { SERVER_INFO } from './version.js';
import type { SecretSource } from '../secrets/secret-source.js';
import type { Deps } from './deps.js';

export interface AuthServices {
  readonly sealer: Sealer;
  readonly signer: AccessTokenSigner;
  readonly tokens: RallyTokenStore;
  readonly rally: RallyOAuthConfig;
  /** The Rally OAuth client secret (cached by the secret source). */
  rallyClientSecret(): Promise<string>;
  /** Refreshes Rally tokens with our client credentials. */
  refreshRally(refreshToken: string): Promise<RallyTokens>;
  /** The instance's cached secret source (keys, Rally client secret, an optional policy secret). */
  readonly secrets: SecretSource;
  readonly rateLimiter: RateLimiter;
  /** Instance-wide cap on concurrent Rally requests per Rally user (Rally allows 12). */
  readonly rallyLimiter: ConcurrencyLimiter;
  /** A WSAPI client for one request: configured host, timeout, User-Agent and the shared limiter. */
  rallyClient(o: { tokens: RallyTokenProvider; labels: RallyRequestLabels; limiterKey: string; log: Logger }): RallyClient;
  /**
   * Starts loading the current signing and sealing keys together, for a function whose every
   * request needs both (a tool call verifies, then unseals): one Secret Manager round trip on a
   * cold instance instead of two in a row. Never rejects; a failure is not cached, and the
   * request that needs the key reports it (503).
   */
  prefetchKeys(): void;
}

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
  const tokens = new RallyTokenStore({ db: deps.db, documents: deps.documents, sealer, clock: deps.clock, log: deps.log, ttlSeconds: config.REFRESH_TOKEN_TTL_SECONDS, cacheSeconds: config.LINK_CACHE_SECONDS });
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
    new TextDecoder().decode(await source.access(config.RALLY_CLIENT_SECRET_NAME, config.RALLY_CLIENT_SECRET_VERSION)).trim();
  return {
    sealer,
    signer,
    tokens,
    rally,
    rallyClientSecret,
    secrets: source,
    rateLimiter,
    rallyLimiter,
    rallyClient: (o) => createRallyClient({
      ...o,
      baseUrl: config.RALLY_BASE_URL,
      fetch: deps.fetch,
      limiter: rallyLimiter,
      timeoutMs: config.RALLY_TIMEOUT_MS,
      userAgent: `${SERVER_INFO.name}/${SERVER_INFO.version} (+${config.PUBLIC_BASE_URL})`,
      clock: deps.clock,
    }),
    refreshRally: async (refreshToken) => refreshRallyTokens(rally, deps.fetch, await rallyClientSecret(), refreshToken, () => deps.clock.now()),
    prefetchKeys: () => {
      void Promise.allSettled([signingKeys.current(), sealingKeys.current()]);
    },
  };
}
