/**
 * The "Your access" page (`/account`, issue 23): a signed-in user sees every client that acts for
 * them in Rally and ends any one of them, or all. Sign-in is the consent page's: Rally OAuth
 * through our authorization server (`redirectToProvider`, kind `account`); the callback then starts a
 * 15-minute browser session shared with `/connections` (`./browser-session.ts`), bound to the
 * Rally user. Rows come from `./access.ts` and end through the code that ends their kind (`endGrant`,
 * the path of `POST /revoke`).
 *
 * Every change is a same-origin POST carrying the session's CSRF token (Q1, Q2); a row is found
 * only among the signed-in user's own rows (Q2); the page cannot be framed (Q3), is never cached,
 * sends no referrer, has the strict CSP of shared/http/pages.ts, and shows client-supplied names as
 * text (Q4, Q5).
 * @module
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import type { Deps } from '../services/deps.js';
import { html, ownPage, sendPage, type SafeHtml } from '../http/pages.js';
import { sendRefusalPage } from '../http/page-errors.js';
import type { BrowserSession } from '../store/browser-sessions.repo.js';
import { redirectToProvider } from '../upstream-link/sign-in.js';
import { PRIMARY_PROVIDER } from '../upstream/provider.js';
import { endAccessRow, endAllAccess, listAccess, type AccessRow } from './access.js';
import {
  BROWSER_SESSION_SECONDS,
  checkBrowserCsrf,
  csrfTokenOf,
  endBrowserSession,
  isSameOrigin,
  readBrowserSession,
  SIGNED_IN_PAGE,
} from './browser-session.js';

export type AccountDeps = Pick<Deps, 'config' | 'clock' | 'db' | 'log' | 'audit' | 'limitAddress' | 'auth'>;

const PAGE = SIGNED_IN_PAGE;
const ACTIONS = ['sign-in', 'end', 'end-all', 'sign-out'] as const;
type Action = (typeof ACTIONS)[number];

/** GET /account and POST /account/<action>. */
export async function handleAccount(deps: AccountDeps, req: Request, res: Response): Promise<void> {
  if (req.path === '/account') return showAccount(deps, req, res);
  const action = ACTIONS.find((a) => req.path === `/account/${a}`);
  if (!action) return sendRefusalPage(res, { code: 'account_row_unknown' });
  if (!isSameOrigin(deps, req)) return sendRefusalPage(res, { code: 'account_not_same_origin' });
  if (action === 'sign-in') {
    deps.limitAddress('authorize'); // L20: anyone can post this, and it stores a pending sign-in
    deps.audit('sign_in_started', { mode: 'account' });
    return redirectToProvider(deps, res, PRIMARY_PROVIDER, { kind: 'account' });
  }
  return change(deps, req, res, action);
}

async function change(deps: AccountDeps, req: Request, res: Response, action: Exclude<Action, 'sign-in'>) {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const signedIn = await readBrowserSession(deps, req);
  if (!signedIn) return sendRefusalPage(res, { code: 'account_signed_out' });
  const { session } = signedIn;
  // Q1/Q2: the token is derived from this browser's session cookie; none, or another user's, changes nothing.
  if (!checkBrowserCsrf(signedIn, body.csrf)) {
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
      await endBrowserSession(deps, res, signedIn);
      break;
  }
  res.set('Cache-Control', 'no-store').redirect(303, ownPage('/account'));
}

async function showAccount(deps: AccountDeps, req: Request, res: Response): Promise<void> {
  const signedIn = await readBrowserSession(deps, req);
  if (!signedIn) {
    return sendPage(
      res,
      200,
      'Your access',
      html`<h1>Your access</h1>
<p>See every application that uses Rally as you through this server, and end any of them.</p>
<p>Sign in with Rally to continue. Nothing is stored for this page beyond a sign-in that ends after ${BROWSER_SESSION_SECONDS / 60} minutes.</p>
<form method="post" action="/account/sign-in"><div class="actions"><button class="primary" type="submit">Sign in with Rally</button></div></form>`,
      [new URL(deps.config.RALLY_BASE_URL).origin],
      PAGE,
    );
  }
  const { session } = signedIn;
  const rows = await listAccess(deps, { sub: session.sub });
  const csrf = csrfTokenOf(signedIn);
  const clients = rows.filter((r) => r.kind === 'client');
  const sessions = rows.filter((r) => r.kind === 'session_link');
  const tokens = rows.filter((r) => r.kind === 'connection_token');
  sendPage(
    res,
    200,
    'Your access',
    html`<h1>Your access</h1>
${signedInAs(session)}
<h2>Applications</h2>
${clients.length === 0 ? html`<p class="muted">No application can use Rally as you.</p>` : clients.map((r) => rowHtml(r, csrf))}
${deps.config.CONNECTION_TOKENS || tokens.length > 0 ? html`<h2>Connection tokens for headless agents</h2>${tokens.length === 0 ? html`<p class="muted">No connection token can use Rally as you.</p>` : tokens.map((r) => rowHtml(r, csrf))}${deps.config.CONNECTION_TOKENS ? html`<p class="muted">Create tokens on <a href="/connections">the connection-token page</a>.</p>` : ''}` : ''}
${deps.config.SESSION_LINK_MODE || sessions.length > 0 ? html`<h2>Agent session links</h2>${sessions.length === 0 ? html`<p class="muted">No agent session is linked to your Rally account.</p>` : sessions.map((r) => rowHtml(r, csrf))}` : ''}
<h2>Everything</h2>
<p>Ends every application, connection token and agent session above and the Rally link each one holds. Each of them has to ask you again before it can use Rally.</p>
<form method="post" action="/account/end-all"><input type="hidden" name="csrf" value="${csrf}"><div class="actions"><button class="secondary" type="submit">End everything</button></div></form>
<p class="muted">Rally keeps its own list of authorized applications: in Rally, open your profile, then Application Manager, Authorized Applications.</p>
<form method="post" action="/account/sign-out"><input type="hidden" name="csrf" value="${csrf}"><div class="actions"><button class="secondary" type="submit">Sign out of this page</button></div></form>`,
    [],
    PAGE,
  );
}

function signedInAs(session: BrowserSession): SafeHtml {
  const u = session.rallyUser;
  return html`<p>Signed in to Rally as <strong>${u.displayName ?? u.userName}</strong> (${u.userName}, Rally user ${u.objectId}).</p>`;
}

function rowHtml(row: AccessRow, csrf: string): SafeHtml {
  return html`<section class="access-row" data-row-id="${row.rowId}" aria-label="${row.name}"><h3>${row.name}</h3>
<dl>${row.facts.map(([label, value]) => html`<dt>${label}</dt><dd>${value}</dd>`)}</dl>
<form method="post" action="/account/end"><input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="row" value="${row.rowId}"><div class="actions"><button class="secondary" type="submit" aria-label="End access for ${row.name}">End access</button></div></form></section>`;
}
