/**
 * The per-request token provider of one upstream provider: hands its API client the stored
 * access token, refreshes shortly before expiry or after a 401 (through the store's single-flight
 * refresh), and turns "no usable link" into that provider's LinkRequiredError. An access token
 * without an expiry (GitHub OAuth App tokens) is refreshed only after a 401, and only when there
 * is a refresh token; without one, the 401 ends the link (a re-link prompt).
 * @module
 */
import type { Clock } from '../kernel/clock.js';
import type { UpstreamProviderId, UpstreamTokenProvider } from '../upstream/provider.js';
import type { UpstreamRefresher, UpstreamTokenStore, StoredLink } from './link-store.js';
import { LinkRequiredError } from '../upstream/link-required.js';

/** Refresh this long before the provider's stated expiry, so a request never starts with a dying token. */
const EARLY_REFRESH_MS = 60_000;

/**
 * `initial` is the link already read (the primary provider's, read once per request), or a
 * loader that reads it on first use (any other provider: a request that never asks for its
 * token never reads its record).
 */
export function createTokenProvider(
  store: UpstreamTokenStore,
  initial: StoredLink | undefined | (() => Promise<StoredLink | undefined>),
  refresher: UpstreamRefresher,
  clock: Clock,
): UpstreamTokenProvider {
  const provider = store.provider;
  let loaded: Promise<void> | undefined;
  let link = typeof initial === 'function' ? undefined : initial;
  const load = () =>
    typeof initial === 'function'
      ? (loaded ??= initial().then((read) => {
          link = read;
        }))
      : Promise.resolve();
  const usable = (): StoredLink & { tokens: NonNullable<StoredLink['tokens']> } => {
    if (!link) throw new LinkRequiredError(provider, 'not_linked');
    if (!link.tokens)
      throw new LinkRequiredError(provider, link.status === 'refresh_failed' ? 'refresh_failed' : 'not_linked');
    return link as StoredLink & { tokens: NonNullable<StoredLink['tokens']> };
  };
  return {
    async accessToken() {
      await load();
      const current = usable();
      const expiresAt = current.tokens.accessExpiresAt;
      if (expiresAt && expiresAt.getTime() - clock.now().getTime() < EARLY_REFRESH_MS) {
        link = await store.refresh(current, refresher);
        return usable().tokens.accessToken;
      }
      return current.tokens.accessToken;
    },
    async refreshAfterUnauthorized(rejected: string) {
      await load();
      const current = usable();
      if (current.tokens.accessToken !== rejected) return current.tokens.accessToken; // already refreshed meanwhile
      link = await store.refresh(current, refresher);
      return usable().tokens.accessToken;
    },
  };
}

/** For a request that calls no tool: it has not read the link, so any call upstream is refused as "not linked". */
export const notLinked = (provider: UpstreamProviderId): UpstreamTokenProvider => ({
  accessToken: () => Promise.reject(new LinkRequiredError(provider, 'not_linked')),
  refreshAfterUnauthorized: () => Promise.reject(new LinkRequiredError(provider, 'not_linked')),
});
