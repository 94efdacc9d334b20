/**
 * The instance's key, token and Rally services as a handler sees them (built once per instance
 * by shared/app/auth-services.ts). Keys load lazily on first use; Secret Manager failures
 * surface as SecretUnavailableError (503).
 * @module
 */
import type { Sealer } from '../crypto/sealer.js';
import type { AccessTokenSigner } from '../crypto/access-token.js';
import type { RallyTokenStore } from '../upstream-link/link-store.js';
import type { RallyOAuthConfig, RallyTokens } from '../rally/oauth.js';
import type { RateLimiter } from '../ratelimit/rate-limiter.js';
import type { ConcurrencyLimiter } from '../rally/concurrency.js';
import type { RallyClient } from '../rally/client.js';
import type { RallyRequestLabels, RallyTokenProvider } from '../rally/ports.js';
import type { Logger } from '../logging/logger.js';
import type { SecretSource } from '../secrets/secret-source.js';

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
