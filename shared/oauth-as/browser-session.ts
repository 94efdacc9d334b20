/**
 * The one browser sign-in of our own pages, "Your access" (`/account`) and the connection-token
 * pages (`/connections`): the Rally sign-in callback starts it (`startBrowserSession`), both pages
 * read it (`readBrowserSession`), and their change forms carry the CSRF token derived from its
 * cookie (`checkBrowserCsrf`). One cookie, one session: signed in on one page is signed in on the
 * other, except that `/connections` also needs the connections grant a `console` sign-in records
 * (an `account` sign-in stores no Rally token), so there it asks for that sign-in.
 *
 * Both pages send `Referrer-Policy: no-referrer` (issue 23 asks it of `/account`; `/connections`
 * follows so the two behave alike and neither tells even our own origin where it came from). With
 * that policy browsers post our own forms with `Origin: null`, so both pages' POSTs go through
 * `isSameOrigin` below: Fetch Metadata `same-origin`, or our own Origin, and `Origin: null` only
 * when the browser also says `Sec-Fetch-Site: same-origin` (Q5, O6).
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import type { Request, Response } from '@google-cloud/functions-framework';
import { publicUrls } from '../config/config.js';
import type { Deps } from '../services/deps.js';
import { addSeconds } from '../kernel/clock.js';
import { randomToken } from '../kernel/hash.js';
import { ownPage, type OwnPage, type PageOptions } from '../http/pages.js';
import { isSameOriginPost } from '../http/origin.js';
import { clearedCookie, readCookie, sessionCookie } from '../http/cookies.js';
import {
  browserCsrfToken,
  createBrowserSession,
  deleteBrowserSession,
  findBrowserSession,
  type BrowserSession,
} from '../store/browser-sessions.repo.js';
import type { RallyUser } from '../store/upstream-tokens.repo.js';

/** How long a signed-in page lasts: long enough to look, end or create, short enough not to linger. */
export const BROWSER_SESSION_SECONDS = 15 * 60;

/** The page options of `/account` and `/connections` (see the module comment). */
export const SIGNED_IN_PAGE: PageOptions = { referrerPolicy: 'no-referrer' };

type SessionDeps = Pick<Deps, 'config' | 'clock' | 'db'>;

/** Called by the OAuth callback once an `account` or `console` sign-in completed: the browser is now signed in as `who`. */
export async function startBrowserSession(
  deps: SessionDeps,
  res: Response,
  who: { readonly sub: string; readonly rallyUser: RallyUser; readonly grantId?: string },
  returnTo: OwnPage,
): Promise<void> {
  const now = deps.clock.now();
  const cookieValue = randomToken(32);
  await createBrowserSession(await deps.db(), cookieValue, {
    sub: who.sub,
    rallyUser: who.rallyUser,
    ...(who.grantId !== undefined ? { grantId: who.grantId } : {}),
    createdAt: now,
    expiresAt: addSeconds(now, BROWSER_SESSION_SECONDS),
  });
  // The binding cookie's name: behind Hosting only `__session` reaches us, and the sign-in that used it is spent.
  res
    .set('Cache-Control', 'no-store')
    .append('Set-Cookie', sessionCookie(deps.config.BINDING_COOKIE_NAME, cookieValue, BROWSER_SESSION_SECONDS))
    .redirect(303, ownPage(returnTo));
}

export interface SignedIn {
  readonly cookie: string;
  readonly session: BrowserSession;
}

/** This browser's session, or undefined (no cookie, unknown, expired). */
export async function readBrowserSession(deps: SessionDeps, req: Request): Promise<SignedIn | undefined> {
  const cookie = readCookie(req, deps.config.BINDING_COOKIE_NAME);
  const session = await findBrowserSession(await deps.db(), cookie, deps.clock.now());
  return session && cookie ? { cookie, session } : undefined;
}

/** The CSRF token the signed-in pages put in their change forms. */
export const csrfTokenOf = (signedIn: SignedIn): string => browserCsrfToken(signedIn.cookie);

/** Q1, O6: the posted token must be the one derived from this browser's cookie; none, or another session's, changes nothing. */
export function checkBrowserCsrf(signedIn: SignedIn, posted: unknown): boolean {
  const x = Buffer.from(typeof posted === 'string' ? posted : '');
  const y = Buffer.from(csrfTokenOf(signedIn));
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Q5, O6: a state-changing POST of a signed-in page came from our own page (see the module comment). */
export const isSameOrigin = (deps: Pick<Deps, 'config'>, req: Request): boolean =>
  isSameOriginPost(req, publicUrls(deps.config).issuer, { allowNullOrigin: true });

/** Signs this browser out of both pages. */
export async function endBrowserSession(deps: SessionDeps, res: Response, signedIn: SignedIn): Promise<void> {
  await deleteBrowserSession(await deps.db(), signedIn.cookie);
  res.append('Set-Cookie', clearedCookie(deps.config.BINDING_COOKIE_NAME));
}
