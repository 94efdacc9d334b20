/**
 * The "Your access" page (`/account`, issue 23): a signed-in user sees every client that acts for
 * them in Rally and ends any one of them, or all. Sign-in is the consent page's: Rally OAuth
 * through our authorization server (`redirectToRally`, kind `account`); the callback then starts a
 * 15-minute session under the binding cookie's name (`startAccountSession`), bound to the Rally
 * user. Rows come from `./access.ts` and end through the code that ends their kind (`endGrant`,
 * the path of `POST /revoke`).
 *
 * Every change is a same-origin POST carrying the session's CSRF token (Q1, Q2); a row is found
 * only among the signed-in user's own rows (Q2); the page cannot be framed (Q3), is never cached,
 * sends no referrer, has the strict CSP of shared/http/pages.ts, and shows client-supplied names as
 * text (Q4, Q5).
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import type { Request, Response } from '@google-cloud/functions-framework';
import { publicUrls } from '../config/config.js';
import type { Deps } from '../services/deps.js';
import { addSeconds } from '../kernel/clock.js';
import { randomToken } from '../kernel/hash.js';
import { html, sendPage, type PageOptions, type SafeHtml } from '../http/pages.js';
import { sendRefusalPage } from '../http/page-errors.js';
import { isSameOriginPost } from '../http/origin.js';
import { clearedCookie, readCookie, sessionCookie } from '../http/cookies.js';
import {
  accountCsrfToken,
  createAccountSession,
  deleteAccountSession,
  findAccountSession,
  type AccountSession,
} from '../store/account-sessions.repo.js';
import type { RallyUser } from '../store/rally-tokens.repo.js';
import { redirectToRally } from '../rally-link/sign-in.js';
import { endAccessRow, endAllAccess, listAccess, type AccessRow } from './access.js';

/** How long a signed-in "Your access" page lasts: long enough to look and end, short enough not to linger. */
export const ACCOUNT_SESSION_SECONDS = 15 * 60;

export type AccountDeps = Pick<Deps, 'config' | 'clock' | 'db' | 'log' | 'audit' | 'limitAddress' | 'auth'>;

const PAGE: PageOptions = { referrerPolicy: 'no-referrer' };
const ACTIONS = ['sign-in', 'end', 'end-all', 'sign-out'] as const;
type Action = (typeof ACTIONS)[number];

/** Called by the OAuth callback once an `account` sign-in completed: the browser is now signed in as `rallyUser`. */
export async function startAccountSession(
  deps: Pick<Deps, 'config' | 'clock' | 'db'>,
  res: Response,
  who: { readonly sub: string; readonly rallyUser: RallyUser },
): Promise<void> {
  const now = deps.clock.now();
  const cookieValue = randomToken(32);
  await createAccountSession(await deps.db(), cookieValue, {
    ...who,
    createdAt: now,
    expiresAt: addSeconds(now, ACCOUNT_SESSION_SECONDS),
  });
  // The binding cookie's name: behind Hosting only `__session` reaches us, and the sign-in that used it is spent.
  res
    .set('Cache-Control', 'no-store')
    .append('Set-Cookie', sessionCookie(deps.config.BINDING_COOKIE_NAME, cookieValue, ACCOUNT_SESSION_SECONDS))
    .redirect(303, '/account');
}

/** GET /account and POST /account/<action>. */
export async function handleAccount(deps: AccountDeps, req: Request, res: Response): Promise<void> {
  if (req.path === '/account') return showAccount(deps, req, res);
  const action = ACTIONS.find((a) => req.path === `/account/${a}`);
  if (!action) return sendRefusalPage(res, { code: 'account_row_unknown' });
  if (!isSameOriginPost(req, publicUrls(deps.config).issuer, { allowNullOrigin: true }))
    return sendRefusalPage(res, { code: 'account_not_same_origin' });
  if (action === 'sign-in') {
    deps.limitAddress('authorize'); // L20: anyone can post this, and it stores a pending sign-in
    deps.audit('sign_in_started', { mode: 'account' });
    return redirectToRally(deps, res, { kind: 'account' });
  }
  return change(deps, req, res, action);
}

const cookieOf = (deps: AccountDeps, req: Request) => readCookie(req, deps.config.BINDING_COOKIE_NAME);

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

async function change(deps: AccountDeps, req: Request, res: Response, action: Exclude<Action, 'sign-in'>) {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const cookie = cookieOf(deps, req);
  const session = await findAccountSession(await deps.db(), cookie, deps.clock.now());
  if (!session || !cookie) return sendRefusalPage(res, { code: 'account_signed_out' });
  // Q1/Q2: the token is derived from this browser's session cookie; none, or another user's, changes nothing.
  const csrf = typeof body.csrf === 'string' ? body.csrf : '';
  if (!sameToken(csrf, accountCsrfToken(cookie))) {
    deps.audit('access_denied', { reason: 'account_csrf', sub: session.sub });
    return sendRefusalPage(res, { code: 'account_csrf_refused' });
  }
  const owner = { sub: session.sub };
  switch (action) {
    case 'end': {
      const rowId = typeof body.row === 'string' && body.row.length <= 64 ? body.row : '';
      if (!(await endAccessRow(deps, owner, rowId, 'user_request'))) {
        deps.audit('access_denied', { reason: 'account_row_unknown', sub: session.sub });
        return sendRefusalPage(res, { code: 'account_row_unknown' });
      }
      break;
    }
    case 'end-all':
      await endAllAccess(deps, owner, 'user_request');
      break;
    case 'sign-out':
      await deleteAccountSession(await deps.db(), cookie);
      res.append('Set-Cookie', clearedCookie(deps.config.BINDING_COOKIE_NAME));
      break;
  }
  res.set('Cache-Control', 'no-store').redirect(303, '/account');
}

async function showAccount(deps: AccountDeps, req: Request, res: Response): Promise<void> {
  const cookie = cookieOf(deps, req);
  const session = await findAccountSession(await deps.db(), cookie, deps.clock.now());
  if (!session || !cookie) {
    return sendPage(
      res,
      200,
      'Your access',
      html`<h1>Your access</h1>
<p>See every application that uses Rally as you through this server, and end any of them.</p>
<p>Sign in with Rally to continue. Nothing is stored for this page beyond a sign-in that ends after ${ACCOUNT_SESSION_SECONDS / 60} minutes.</p>
<form method="post" action="/account/sign-in"><div class="actions"><button class="primary" type="submit">Sign in with Rally</button></div></form>`,
      [new URL(deps.config.RALLY_BASE_URL).origin],
      PAGE,
    );
  }
  const rows = await listAccess(deps, { sub: session.sub });
  const csrf = accountCsrfToken(cookie);
  const clients = rows.filter((r) => r.kind === 'client');
  const sessions = rows.filter((r) => r.kind === 'session_link');
  sendPage(
    res,
    200,
    'Your access',
    html`<h1>Your access</h1>
${signedInAs(session)}
<h2>Applications</h2>
${clients.length === 0 ? html`<p class="muted">No application can use Rally as you.</p>` : clients.map((r) => rowHtml(r, csrf))}
<h2>Connection tokens for headless agents</h2>
<p class="muted">This server issues no connection tokens.</p>
${deps.config.SESSION_LINK_MODE || sessions.length > 0 ? html`<h2>Agent session links</h2>${sessions.length === 0 ? html`<p class="muted">No agent session is linked to your Rally account.</p>` : sessions.map((r) => rowHtml(r, csrf))}` : ''}
<h2>Everything</h2>
<p>Ends every application and agent session above and the Rally link each one holds. Each of them has to ask you again before it can use Rally.</p>
<form method="post" action="/account/end-all"><input type="hidden" name="csrf" value="${csrf}"><div class="actions"><button class="secondary" type="submit">End everything</button></div></form>
<p class="muted">Rally keeps its own list of authorized applications: in Rally, open your profile, then Application Manager, Authorized Applications.</p>
<form method="post" action="/account/sign-out"><input type="hidden" name="csrf" value="${csrf}"><div class="actions"><button class="secondary" type="submit">Sign out of this page</button></div></form>`,
    [],
    PAGE,
  );
}

function signedInAs(session: AccountSession): SafeHtml {
  const u = session.rallyUser;
  return html`<p>Signed in to Rally as <strong>${u.displayName ?? u.userName}</strong> (${u.userName}, Rally user ${u.objectId}).</p>`;
}

function rowHtml(row: AccessRow, csrf: string): SafeHtml {
  return html`<section class="access-row" data-row-id="${row.rowId}" aria-label="${row.name}"><h3>${row.name}</h3>
<dl>${row.facts.map(([label, value]) => html`<dt>${label}</dt><dd>${value}</dd>`)}</dl>
<form method="post" action="/account/end"><input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="row" value="${row.rowId}"><div class="actions"><button class="secondary" type="submit" aria-label="End access for ${row.name}">End access</button></div></form></section>`;
}
