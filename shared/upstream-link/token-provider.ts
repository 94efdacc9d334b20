/**
 * The RallyTokenProvider for one request: hands the Rally client the
 * stored access token, refreshes shortly before expiry or after a Rally 401
 * (through the store's single-flight refresh), and turns "no usable link"
 * into LinkRequiredError.
 * @module
 */
import type { Clock } from '../kernel/clock.js';
import type { RallyTokenProvider } from '../rally/ports.js';
import type { RallyRefresher, RallyTokenStore, StoredLink } from './link-store.js';
import { LinkRequiredError } from '../upstream/link-required.js';

/** Refresh this long before Rally's stated expiry, so a request never starts with a dying token. */
const EARLY_REFRESH_MS = 60_000;

export function createTokenProvider(
  store: RallyTokenStore,
  initial: StoredLink | undefined,
  refresher: RallyRefresher,
  clock: Clock,
): RallyTokenProvider {
  let link = initial;
  const usable = (): StoredLink & { tokens: NonNullable<StoredLink['tokens']> } => {
    if (!link) throw new LinkRequiredError('not_linked');
    if (!link.tokens) throw new LinkRequiredError(link.status === 'refresh_failed' ? 'refresh_failed' : 'not_linked');
    return link as StoredLink & { tokens: NonNullable<StoredLink['tokens']> };
  };
  return {
    async accessToken() {
      const current = usable();
      if (current.tokens.accessExpiresAt.getTime() - clock.now().getTime() < EARLY_REFRESH_MS) {
        link = await store.refresh(current, refresher);
        return usable().tokens.accessToken;
      }
      return current.tokens.accessToken;
    },
    async refreshAfterUnauthorized(rejected: string) {
      const current = usable();
      if (current.tokens.accessToken !== rejected) return current.tokens.accessToken; // already refreshed meanwhile
      link = await store.refresh(current, refresher);
      return usable().tokens.accessToken;
    },
  };
}

/** For a request that calls no tool: it has not read the link, so any Rally call is refused as "not linked". */
export const NOT_LINKED: RallyTokenProvider = {
  accessToken: () => Promise.reject(new LinkRequiredError('not_linked')),
  refreshAfterUnauthorized: () => Promise.reject(new LinkRequiredError('not_linked')),
};
