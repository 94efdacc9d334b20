/**
 * The instance's auth machinery, built once: secret source, key rings, sealer, access-token
 * signer, the enabled upstream providers and their token stores. Keys load lazily on first use
 * (or together, through prefetchKeys); Secret Manager failures surface as SecretUnavailableError
 * (503).
 * @module
 */
import { publicUrls, type Config } from '../config/config.js';
import { createSecretSourceFromConfig, type SecretSource } from '../secrets/secret-source.js';
import { createSealingKeyRing, createSigningKeyRing } from '../crypto/key-ring.js';
import { createSealer } from '../crypto/sealer.js';
import { createAccessTokenSigner } from '../crypto/access-token.js';
import { UpstreamTokenStore } from '../upstream-link/link-store.js';
import { LinkEpoch } from '../upstream-link/link-epoch.js';
import type { RallyOAuthConfig } from '../rally/oauth.js';
import { createGitHubProvider } from '../github/provider.js';
import type { GitHubOAuthConfig } from '../github/oauth.js';
import { createRallyProvider } from '../rally/provider.js';
import { createRateLimiter } from '../ratelimit/rate-limiter.js';
import { createConcurrencyLimiter } from '../rally/concurrency.js';
import { createRallyClient } from '../rally/client.js';
import { SERVER_INFO } from '../kernel/version.js';
import {
  upstreamProviders,
  type UpstreamProvider,
  type UpstreamProviderId,
  type UpstreamProviders,
} from '../upstream/provider.js';
import type { AuthServices } from '../services/auth-services.js';
import type { Deps } from '../services/deps.js';

/** What a provider module is built from: the instance's configuration, secrets and clients. */
export interface ProviderContext {
  readonly deps: Deps;
  readonly config: Config;
  readonly secrets: SecretSource;
  /** A secret of the source as trimmed UTF-8 text (a client secret); cached by the source. */
  secretText(name: string, version: string): Promise<string>;
  /** The WSAPI client factory of the instance (Rally's `identify` uses it). */
  readonly rallyClient: AuthServices['rallyClient'];
}

export type ProviderFactory = (c: ProviderContext) => UpstreamProvider;

/**
 * The provider modules of this build, by id. Adding a provider is its module plus one line here
 * (and its id in shared/kernel/providers.ts, its settings in shared/config/config.ts).
 */
export const PROVIDER_FACTORIES: Partial<Record<UpstreamProviderId, ProviderFactory>> = {
  rally: ({ config, deps, secretText, rallyClient }) => {
    const oauth: RallyOAuthConfig = {
      baseUrl: config.RALLY_BASE_URL,
      clientId: config.RALLY_CLIENT_ID,
      redirectUri: publicUrls(config).upstreamRedirectUri,
      usePkce: config.RALLY_PKCE,
      timeoutMs: config.RALLY_TIMEOUT_MS,
    };
    return createRallyProvider({
      oauth,
      issuer: config.RALLY_ISSUER ?? config.RALLY_BASE_URL,
      fetch: deps.fetch,
      clock: deps.clock,
      clientSecret: () => secretText(config.RALLY_CLIENT_SECRET_NAME, config.RALLY_CLIENT_SECRET_VERSION),
      client: rallyClient,
    });
  },
  github: ({ config, deps, secretText }) =>
    createGitHubProvider({
      oauth: githubOAuthConfig(config),
      fetch: deps.fetch,
      clock: deps.clock,
      clientSecret: () => secretText(config.GITHUB_CLIENT_SECRET_NAME, config.GITHUB_CLIENT_SECRET_VERSION),
    }),
};

/** GitHub's OAuth settings from configuration only (A4/A5); the client id is required when GitHub is enabled. */
export function githubOAuthConfig(config: Config): GitHubOAuthConfig {
  return {
    authorizeBaseUrl: config.GITHUB_AUTHORIZE_BASE_URL,
    apiBaseUrl: config.GITHUB_API_BASE_URL,
    clientId: config.GITHUB_CLIENT_ID ?? '',
    redirectUri: publicUrls(config).upstreamRedirectUri,
    scopes: config.GITHUB_SCOPES,
    timeoutMs: config.GITHUB_TIMEOUT_MS,
  };
}

/** Builds the providers UPSTREAM_PROVIDERS enables; one this build has no module for fails the start-up clearly. */
export function buildProviders(
  c: ProviderContext,
  factories: Partial<Record<UpstreamProviderId, ProviderFactory>> = PROVIDER_FACTORIES,
): UpstreamProviders {
  return upstreamProviders(
    c.config.UPSTREAM_PROVIDERS.map((id) => {
      const factory = factories[id];
      if (!factory)
        throw new Error(`UPSTREAM_PROVIDERS names ${id}, but this build has no ${id} provider module (issue 19)`);
      return factory(c);
    }),
  );
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
  const rateLimiter = createRateLimiter({ db: deps.db, clock: deps.clock, shards: config.RATE_LIMIT_SHARDS });
  const rallyLimiter = createConcurrencyLimiter(config.RALLY_MAX_CONCURRENCY_PER_USER);
  const rallyClient: AuthServices['rallyClient'] = (o) =>
    createRallyClient({
      ...o,
      baseUrl: config.RALLY_BASE_URL,
      fetch: deps.fetch,
      limiter: rallyLimiter,
      timeoutMs: config.RALLY_TIMEOUT_MS,
      userAgent: `${SERVER_INFO.name}/${SERVER_INFO.version} (+${config.PUBLIC_BASE_URL})`,
      clock: deps.clock,
    });
  const secretText = async (name: string, version: string) =>
    new TextDecoder().decode(await source.access(name, version)).trim();
  const providers = buildProviders({ deps, config, secrets: source, secretText, rallyClient });
  const stores = new Map<UpstreamProviderId, UpstreamTokenStore>();
  const linkEpoch = new LinkEpoch(deps.documents, deps.clock); // one read confirms every provider's links
  const tokenStore = (provider: UpstreamProviderId): UpstreamTokenStore => {
    let store = stores.get(provider);
    if (!store) {
      store = new UpstreamTokenStore({
        provider,
        db: deps.db,
        documents: deps.documents,
        sealer,
        clock: deps.clock,
        log: deps.log,
        ttlSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
        cacheSeconds: config.LINK_CACHE_SECONDS,
        epoch: linkEpoch,
      });
      stores.set(provider, store);
    }
    return store;
  };
  return {
    sealer,
    signer,
    providers,
    tokenStore,
    secrets: source,
    rateLimiter,
    rallyLimiter,
    rallyClient,
    prefetchKeys: () => {
      void Promise.allSettled([signingKeys.current(), sealingKeys.current()]);
    },
  };
}
