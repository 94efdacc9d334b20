/**
 * The connection-token pages (issue 18): `/connections`, where a signed-in user creates, lists
 * and revokes the static tokens of headless agents (GitHub's Copilot coding agent, which takes
 * only static headers). Sign-in is the consent page's: Rally OAuth through our authorization
 * server (`redirectToProvider`, kind `console`), the callback then starts the browser session that
 * "Your access" (`/account`) uses too (`./browser-session.ts`), with the user's connections grant.
 * Every POST is same-origin checked and carries that session's CSRF token; creation also spends a
 * one-time nonce, so a token is shown exactly once (a reload or replay creates and shows nothing).
 * Pages are no-store and unframeable, with the strict CSP of shared/http/pages.ts and the
 * signed-in pages' `Referrer-Policy: no-referrer` (why: ./browser-session.ts); no URL here
 * carries a secret.
 * @module
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import { z } from 'zod';
import { publicUrls } from '../config/config.js';
import type { Deps } from '../services/deps.js';
import { addSeconds } from '../kernel/clock.js';
import { randomToken } from '../kernel/hash.js';
import { CONNECTION_TOKEN_CLIENT_ID, CONNECTION_TOKEN_ID, mintConnectionToken } from '../crypto/connection-token.js';
import { html, ownPage, sendPage, type SafeHtml } from '../http/pages.js';
import { sendRefusalPage } from '../http/page-errors.js';
import { readCookie } from '../http/cookies.js';
import { extendGrant, isGrantActive } from '../store/grants.repo.js';
import {
  createConnectionToken,
  listConnectionTokens,
  type AllowedProject,
  type ConnectionToken,
} from '../store/connection-tokens.repo.js';
import { consumeCreateNonce, rotateCreateNonce } from '../store/browser-sessions.repo.js';
import { redirectToProvider, type SignInDeps } from '../upstream-link/sign-in.js';
import { PRIMARY_PROVIDER } from '../upstream/provider.js';
import type { Scope } from './scopes.js';
import { endConnectionToken, endGrant } from './revocation.js';
import {
  checkChosenProjects,
  ProjectChoice,
  projectField,
  projectPicker,
  projectsLabel,
} from './connection-projects.js';
import {
  checkBrowserCsrf,
  csrfTokenOf,
  endBrowserSession,
  isSameOrigin,
  readBrowserSession,
  SIGNED_IN_PAGE,
} from './browser-session.js';

/** Lifetime offered by default (days), capped by CONNECTION_TOKEN_MAX_DAYS. */
export const DEFAULT_TOKEN_DAYS = 90;
const DAY_SECONDS = 86_400;
const READ_SCOPE_NAME: Scope = 'rally.read';
const WRITE_SCOPE_NAME: Scope = 'rally.write';

export type ConnectionsDeps = Pick<Deps, 'config' | 'clock' | 'db' | 'log' | 'audit' | 'limitAddress' | 'auth'> &
  SignInDeps;

export async function handleConnections(deps: ConnectionsDeps, req: Request, res: Response): Promise<void> {
  if (!deps.config.CONNECTION_TOKENS) return sendRefusalPage(res, { code: 'connections_disabled' });
  const action = req.path === '/connections' ? 'page' : req.path.slice('/connections/'.length);
  if (action === 'page') {
    if (req.method !== 'GET') return sendRefusalPage(res, { code: 'method_not_allowed', allow: 'GET' });
    return showConsole(deps, req, res);
  }
  if (!['sign-in', 'create', 'revoke', 'revoke-all', 'sign-out'].includes(action))
    return sendRefusalPage(res, { code: 'connections_not_found' });
  if (req.method !== 'POST') return sendRefusalPage(res, { code: 'method_not_allowed', allow: 'POST' });
  if (!isSameOrigin(deps, req)) return sendRefusalPage(res, { code: 'connections_not_same_origin' });
  const body = (req.body ?? {}) as Record<string, unknown>;
  switch (action) {
    case 'sign-in':
      deps.limitAddress('authorize'); // L20, O15: anyone can post this, and it stores a sign-in (like /authorize)
      deps.audit('sign_in_started', { mode: 'console' });
      return redirectToProvider(deps, res, PRIMARY_PROVIDER, { kind: 'console' });
    case 'create':
      return create(deps, req, res, body);
    default:
      return manage(deps, req, res, body, action as 'revoke' | 'revoke-all' | 'sign-out');
  }
}

async function showConsole(deps: ConnectionsDeps, req: Request, res: Response): Promise<void> {
  const db = await deps.db();
  const now = deps.clock.now();
  const signedIn = await readBrowserSession(deps, req);
  const rallyOrigin = new URL(deps.config.RALLY_BASE_URL).origin;
  // Signed in on "Your access" only (no connections grant, so no Rally link for tokens): the same sign-in form.
  const grantId = signedIn?.session.grantId;
  if (!signedIn || grantId === undefined) {
    return sendPage(
      res,
      200,
      'Connection tokens',
      html`<h1>Connection tokens for headless agents</h1>
<p>A connection token lets an agent that cannot sign in by itself, such as the GitHub Copilot coding agent, use Rally through this server as you.</p>
<p>Sign in with Rally to create, list or revoke your tokens.</p>
<form method="post" action="/connections/sign-in"><div class="actions"><button class="primary" type="submit">Sign in with Rally</button></div></form>`,
      [rallyOrigin],
      SIGNED_IN_PAGE,
    );
  }
  const { session } = signedIn;
  const csrf = csrfTokenOf(signedIn);
  const nonce = randomToken(32);
  await rotateCreateNonce(db, signedIn.cookie, nonce);
  const [tokens, picker] = await Promise.all([
    listConnectionTokens(db, { sub: session.sub }),
    projectPicker(deps, grantId),
  ]);
  const maxDays = deps.config.CONNECTION_TOKEN_MAX_DAYS;
  const days = [...new Set([7, 30, Math.min(DEFAULT_TOKEN_DAYS, maxDays), maxDays])].filter((d) => d <= maxDays);
  const defaultDays = Math.min(DEFAULT_TOKEN_DAYS, maxDays);
  sendPage(
    res,
    200,
    'Connection tokens',
    html`<h1>Connection tokens</h1>
<p>Signed in to Rally as <strong>${session.rallyUser.userName}</strong>. <a href="/account">Your access</a> lists every application and token that uses Rally as you.</p>
<h2>Create a token</h2>
<form method="post" action="/connections/create">
<input type="hidden" name="nonce" value="${nonce}">
<dl><dt><label for="name">Name</label></dt><dd><input id="name" name="name" required maxlength="80" placeholder="Copilot coding agent: owner/repo"></dd>
<dt><label for="days">Expires after</label></dt><dd><select id="days" name="days">${days.map((d) => html`<option value="${d}"${d === defaultDays ? html` selected` : ''}>${d} days</option>`)}</select></dd>
<dt>Access</dt><dd><div>Read your Rally work items, projects and iterations</div><label><input type="checkbox" name="write" value="on"> Also create and update items as you (write)</label></dd>
<dt><label for="tools">Only these tools</label></dt><dd><input id="tools" name="tools" maxlength="1000" placeholder="optional, e.g. search_rally_items, get_rally_item"></dd>
<dt>Only these projects</dt><dd>${projectField(picker)}</dd></dl>
<p class="muted">The token is shown once, right after you create it. It stops working when it expires, when you revoke it, or when you revoke all tokens.</p>
<div class="actions"><button class="primary" type="submit">Create token</button></div></form>
<h2>Your tokens</h2>
${tokens.length === 0 ? html`<p class="muted">No tokens yet.</p>` : html`<dl>${tokens.map((t) => tokenLine(t, csrf, now))}</dl>`}
<form method="post" action="/connections/revoke-all"><input type="hidden" name="csrf" value="${csrf}"><div class="actions"><button class="secondary" type="submit">Revoke all my tokens</button></div></form>
<form method="post" action="/connections/sign-out"><input type="hidden" name="csrf" value="${csrf}"><div class="actions"><button class="secondary" type="submit">Sign out</button></div></form>`,
    [],
    SIGNED_IN_PAGE,
  );
}

const day = (d: Date) => d.toISOString().slice(0, 10);

function tokenLine(t: ConnectionToken, csrf: string, now: Date): SafeHtml {
  const state = t.status === 'revoked' ? 'revoked' : t.expiresAt <= now ? 'expired' : `expires ${day(t.expiresAt)}`;
  const access = t.scopes.includes(WRITE_SCOPE_NAME) ? 'read and write' : 'read only';
  return html`<dt>${t.name}</dt><dd class="token-line" data-token-id="${t.tokenId}"><div>id ${t.tokenId} · ${access}${t.tools ? ` · tools: ${t.tools.join(', ')}` : ''} · ${projectsLabel(t)}</div><div class="muted">created ${day(t.createdAt)} · ${t.lastUsedAt ? `last used ${day(t.lastUsedAt)}` : 'not used yet'} · ${state}</div>${
    t.status === 'active' && t.expiresAt > now
      ? html`<form method="post" action="/connections/revoke"><input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="token_id" value="${t.tokenId}"><button class="secondary" type="submit">Revoke</button></form>`
      : ''
  }</dd>`;
}

const TOOL_NAME = /^[a-z_]{1,64}$/;
const CreateForm = (maxDays: number) =>
  z.object({
    nonce: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
    name: z
      .string()
      .transform((s) => s.trim())
      .pipe(
        z
          .string()
          .min(1)
          .max(80)
          .regex(/^[^\p{Cc}\p{Cf}]*$/u, 'no control characters'),
      ),
    days: z.coerce.number().int().min(1).max(maxDays),
    write: z.literal('on').optional(),
    tools: z
      .string()
      .max(1000)
      .optional()
      .transform((s) => [...new Set((s ?? '').split(/[\s,]+/).filter(Boolean))])
      .pipe(z.array(z.string().regex(TOOL_NAME)).max(50)),
    projects: ProjectChoice,
  });

async function create(
  deps: ConnectionsDeps,
  req: Request,
  res: Response,
  body: Record<string, unknown>,
): Promise<void> {
  const parsed = CreateForm(deps.config.CONNECTION_TOKEN_MAX_DAYS).safeParse(body);
  if (!parsed.success) return sendRefusalPage(res, { code: 'connections_invalid_input' });
  const form = parsed.data;
  const db = await deps.db();
  const now = deps.clock.now();
  // O5: the nonce is spent by exactly one POST; a reload, a replay or a cross-site post gets nothing.
  const session = await consumeCreateNonce(db, readCookie(req, deps.config.BINDING_COOKIE_NAME), form.nonce, now);
  if (!session?.grantId) {
    deps.audit('access_denied', { reason: 'connection_form_used' });
    return sendRefusalPage(res, { code: 'connections_form_used' });
  }
  if (!(await isGrantActive(db, session.grantId, now))) return sendRefusalPage(res, { code: 'connections_signed_out' });
  // O23: the list is checked against what this user's own Rally sign-in sees now, before anything is stored.
  const chosen = await checkChosenProjects(deps, session.grantId, form.projects);
  if (chosen.kind === 'no_rally') return sendRefusalPage(res, { code: 'connections_signed_out' });
  if (chosen.kind === 'unknown') {
    deps.audit('access_denied', { reason: 'connection_form_project', sub: session.sub });
    return sendRefusalPage(res, { code: 'connections_unknown_project' });
  }
  const expiresAt = addSeconds(now, form.days * DAY_SECONDS);
  await extendGrant(db, session.grantId, expiresAt); // the grant (and so its Rally link) outlives the token
  const minted = mintConnectionToken();
  const scopes = form.write ? [READ_SCOPE_NAME, WRITE_SCOPE_NAME] : [READ_SCOPE_NAME];
  await createConnectionToken(db, {
    tokenId: minted.id,
    secretHash: minted.secretHash,
    sub: session.sub,
    rallyUser: session.rallyUser.userName,
    grantId: session.grantId,
    name: form.name,
    scopes,
    ...(form.tools.length ? { tools: form.tools } : {}),
    ...(chosen.projects.length ? { projects: [...chosen.projects] } : {}),
    status: 'active',
    createdAt: now,
    expiresAt,
  });
  deps.audit('token_issued', {
    mode: 'connection_token',
    connectionTokenId: minted.id,
    sub: session.sub,
    grantId: session.grantId,
    scope: scopes.join(' '),
    ...(chosen.projects.length ? { count: chosen.projects.length } : {}),
  });
  showCreated(deps, res, form.name, minted.token, expiresAt, chosen.projects);
}

function showCreated(
  deps: ConnectionsDeps,
  res: Response,
  name: string,
  token: string,
  expiresAt: Date,
  projects: readonly AllowedProject[],
): void {
  const { resource } = publicUrls(deps.config);
  const example = JSON.stringify(
    {
      mcpServers: {
        rally: {
          type: 'http',
          url: resource,
          headers: { 'X-Rally-MCP-Token': '$COPILOT_MCP_RALLY_TOKEN' },
          tools: ['get_rally_user', 'search_rally_items', 'get_rally_issue'],
        },
      },
    },
    null,
    2,
  );
  sendPage(
    res,
    200,
    'Connection token created',
    html`<h1>Token created: ${name}</h1>
<p class="warn">Copy it now. It is shown only this once and cannot be shown again; if you lose it, revoke it and create a new one.</p>
<pre id="token" class="secret">${token}</pre>
<p>Expires ${day(expiresAt)}. ${projects.length ? `It reaches only these Rally projects: ${projects.map((p) => p.name || p.ref).join(', ')}.` : 'It reaches every Rally project you can see.'}</p>
<p>For the GitHub Copilot coding agent, store it as the repository secret <code>COPILOT_MCP_RALLY_TOKEN</code> (Settings → Environments → copilot) and add this MCP configuration (Settings → Copilot → Coding agent), listing the tools the agent may use:</p>
<pre>${example}</pre>
<p><a href="/connections">Back to your tokens</a></p>`,
    [],
    SIGNED_IN_PAGE,
  );
}

async function manage(
  deps: ConnectionsDeps,
  req: Request,
  res: Response,
  body: Record<string, unknown>,
  action: 'revoke' | 'revoke-all' | 'sign-out',
): Promise<void> {
  const signedIn = await readBrowserSession(deps, req);
  const grantId = signedIn?.session.grantId;
  if (!signedIn || grantId === undefined || !checkBrowserCsrf(signedIn, body.csrf)) {
    deps.audit('access_denied', { reason: 'connection_form_csrf' });
    return sendRefusalPage(res, {
      code: grantId !== undefined ? 'connections_not_same_origin' : 'connections_signed_out',
    });
  }
  const { session } = signedIn;
  if (action === 'revoke') {
    const tokenId = typeof body.token_id === 'string' ? body.token_id : '';
    if (!CONNECTION_TOKEN_ID.test(tokenId)) return sendRefusalPage(res, { code: 'connections_invalid_input' });
    await endConnectionToken(deps, { tokenId, sub: session.sub }, 'owner');
  } else {
    // revoke-all: the connections grant, its Rally link and every token bound to it, in one transaction (O10).
    if (action === 'revoke-all')
      await endGrant(deps, { grantId, clientId: CONNECTION_TOKEN_CLIENT_ID, sub: session.sub }, 'owner_all');
    await endBrowserSession(deps, res, signedIn);
  }
  res.set('Cache-Control', 'no-store').redirect(303, ownPage('/connections'));
}
