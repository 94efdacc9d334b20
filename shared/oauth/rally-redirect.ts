/**
 * The one way a browser is sent to Rally: a fresh `state` and PKCE pair, the
 * pending sign-in stored under the state's hash (verifier and client state
 * sealed), the browser bound by its cookie (set only now, after the user
 * approved — C11), and a 303 to Rally's authorize URL built from config only.
 * @module
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import type { Deps } from '../app/deps.js';
import { addSeconds } from '../app/clock.js';
import { randomToken, sha256Id } from '../crypto/hash.js';
import { bindingCookie, readCookie } from '../http/cookies.js';
import { createLinkTransaction, linkTxPath, type LinkTransaction } from '../storage/link-transactions.repo.js';
import { buildRallyAuthorizeUrl } from './rally-oauth.js';

export type PendingSignIn = Omit<LinkTransaction, 'browserHash' | 'sealed' | 'createdAt' | 'expiresAt'>;

export async function redirectToRally(deps: Deps, req: Request, res: Response, pending: PendingSignIn, clientState?: string): Promise<void> {
  const { sealer, rally } = await deps.auth();
  const db = await deps.db();
  const now = deps.clock.now();
  // Reusing the browser's binding secret lets two sign-ins run in two tabs of one browser.
  const browserSecret = readCookie(req, deps.config.BINDING_COOKIE_NAME) ?? randomToken(32);
  const state = randomToken(32);
  const verifier = randomToken(48);
  await createLinkTransaction(db, state, {
    ...pending,
    browserHash: sha256Id(browserSecret),
    sealed: await sealer.seal(JSON.stringify({ clientState, rallyVerifier: verifier }), linkTxPath(state)),
    createdAt: now,
    expiresAt: addSeconds(now, deps.config.STATE_TTL_SECONDS),
  });
  res
    .set('Cache-Control', 'no-store')
    .append('Set-Cookie', bindingCookie(deps.config.BINDING_COOKIE_NAME, browserSecret))
    .redirect(303, buildRallyAuthorizeUrl(rally, state, verifier));
}
