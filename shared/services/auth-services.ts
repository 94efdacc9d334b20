/**
 * The instance's key, token and upstream services as a handler sees them (built once per instance
 * by shared/app/auth-services.ts). Keys load lazily on first use; Secret Manager failures
 * surface as SecretUnavailableError (503).
 * @module
 */
import type { Sealer } from '../crypto/sealer.js';
import type { AccessTokenSigner } from '../crypto/access-token.js';
import type { UpstreamTokenStore } from '../upstream-link/link-store.js';
import type { UpstreamProviderId, UpstreamProviders } from '../upstream/provider.js';
import type { RateLimiter } from '../ratelimit/rate-limiter.js';
import type { ConcurrencyLimiter } from '../rally/concurrency.js';
import type { RallyClient } from '../rally/client.js';
import type { RallyRequestLabels, RallyTokenProvider } from '../rally/ports.js';
import type { Logger } from '../logging/logger.js';
import type { SecretSource } from '../secrets/secret-source.js';

export interface AuthServices {
  readonly sealer: Sealer;
  readonly signer: AccessTokenSigner;
  /** The enabled upstream providers (UPSTREAM_PROVIDERS), the primary (Rally) first. */
  readonly providers: UpstreamProviders;
  /** The token store of `provider` (one per provider and instance, each with its own link cache). */
  tokenStore(provider: UpstreamProviderId): UpstreamTokenStore;
  /** The instance's cached secret source (keys, the providers' client secrets, an optional policy secret). */
  readonly secrets: SecretSource;
  readonly rateLimiter: RateLimiter;
  /** Instance-wide cap on concurrent Rally requests per Rally user (Rally allows 12). */
  readonly rallyLimiter: ConcurrencyLimiter;
  /** A WSAPI client for one request: configured host, timeout, User-Agent and the shared limiter. */
  rallyClient(o: {
    tokens: RallyTokenProvider;
    labels: RallyRequestLabels;
    limiterKey: string;
    log: Logger;
  }): RallyClient;
  /**
   * Starts loading the current signing and sealing keys together, for a function whose every
   * request needs both (a tool call verifies, then unseals): one Secret Manager round trip on a
   * cold instance instead of two in a row. Never rejects; a failure is not cached, and the
   * request that needs the key reports it (503).
   */
  prefetchKeys(): void;
}
