/**
 * The one way a browser is sent to an upstream provider: a fresh `state` and PKCE pair, the
 * pending sign-in stored under the state's hash with the provider it went to (verifier and client
 * state sealed), the browser bound by a cookie minted now, after the user approved (C11, L15), and
 * a 303 to the provider's authorize URL built from config only.
 * @module
 */
import type { Response } from '@google-cloud/functions-framework';
import type { Firestore } from '@google-cloud/firestore';
import type { Config } from '../config/config.js';
import type { Clock } from '../kernel/clock.js';
import type { Sealer } from '../crypto/sealer.js';
import { addSeconds } from '../kernel/clock.js';
import { randomToken, sha256Id } from '../kernel/hash.js';
import { bindingCookie } from '../http/cookies.js';
import { createLinkTransaction, linkTxPath, type LinkTransaction } from '../store/link-transactions.repo.js';
import type { UpstreamProviderId, UpstreamProviders } from '../upstream/provider.js';
import { SIGN_IN_SECRET } from './token-codec.js';

export type PendingSignIn = Omit<LinkTransaction, 'browserHash' | 'sealed' | 'createdAt' | 'expiresAt' | 'provider'>;

/** What starting a sign-in uses (the instance's services satisfy it). */
export interface SignInDeps {
  readonly config: Pick<Config, 'STATE_TTL_SECONDS' | 'BINDING_COOKIE_NAME'>;
  readonly clock: Clock;
  db(): Promise<Firestore>;
  auth(): Promise<{ readonly sealer: Sealer; readonly providers: UpstreamProviders }>;
}

/** A sign-in was asked of a provider this deployment does not enable (UPSTREAM_PROVIDERS). */
export class ProviderNotEnabledError extends Error {
  constructor(readonly provider: string) {
    super(`upstream provider ${provider} is not enabled`);
    this.name = 'ProviderNotEnabledError';
  }
}

export async function redirectToProvider(
  deps: SignInDeps,
  res: Response,
  providerId: UpstreamProviderId,
  pending: PendingSignIn,
  clientState?: string,
): Promise<void> {
  const { sealer, providers } = await deps.auth();
  const provider = providers.get(providerId);
  if (!provider) throw new ProviderNotEnabledError(providerId);
  const db = await deps.db();
  const now = deps.clock.now();
  // L15: always minted here, never taken from the request. A value the browser already sends may
  // have been planted (cookie tossing from a sibling host; `__session` behind Hosting has no
  // `__Host-` protection), and a planted value the attacker knows would bind this sign-in to them.
  // The price: one sign-in per browser at a time. A newer consent replaces the cookie, so an older
  // sign-in still open in another tab fails at the callback (403) and is simply started again.
  const browserSecret = randomToken(32);
  const state = randomToken(32);
  const verifier = randomToken(48);
  await createLinkTransaction(db, state, {
    ...pending,
    provider: provider.id,
    browserHash: sha256Id(browserSecret),
    sealed: await SIGN_IN_SECRET.seal(sealer, { clientState, verifier }, linkTxPath(state)),
    createdAt: now,
    expiresAt: addSeconds(now, deps.config.STATE_TTL_SECONDS),
  });
  res
    .set('Cache-Control', 'no-store')
    .append('Set-Cookie', bindingCookie(deps.config.BINDING_COOKIE_NAME, browserSecret))
    .redirect(303, provider.authorizeUrl(state, verifier));
}
