/**
 * Rally's OAuth redirect target (/oauth/callback). Consumes our `state`
 * exactly once, checks the browser binding, exchanges the code, learns who
 * signed in, stores the Rally tokens sealed, and finishes the flow that
 * started it: an MCP client authorization, a re-link, or a session link.
 * Never renders attacker text, never redirects to an unvalidated URI.
 * @module
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import { z } from 'zod';
import { publicUrls } from '../config/config.js';
import { forRequest, type Deps } from '../services/deps.js';
import { buildRequestContext, type RequestContext } from '../http/request-context.js';
import { addSeconds } from '../kernel/clock.js';
import { randomToken } from '../kernel/hash.js';
import { html, sendPage } from '../http/pages.js';
import { respondPageError, sendRefusalPage } from '../http/page-errors.js';
import { readCookie } from '../http/cookies.js';
import { consumeLinkTransaction, linkTxPath, type LinkTransaction } from '../store/link-transactions.repo.js';
import {
  createGrant,
  extendGrant,
  findActiveGrant,
  GrantNotActiveError,
  requireActiveGrant,
} from '../store/grants.repo.js';
import { CONNECTION_TOKEN_CLIENT_ID } from '../crypto/connection-token.js';
import { createAuthCode } from '../store/auth-codes.repo.js';
import { CorruptRecordError } from '../store/firestore-utils.js';
import { COLLECTIONS } from '../store/collections.js';
import { LinkUserMismatchError } from '../upstream-link/errors.js';
import { SIGN_IN_SECRET } from '../upstream-link/token-codec.js';
import { grantPrincipal, type RallyUser } from '../store/upstream-tokens.repo.js';
import { type RallyTokens } from '../rally/oauth.js';
import { exchangeRallyCode } from '../rally/oauth.js';
import type { AuthServices } from '../services/auth-services.js';
import { clientRedirect } from './client-redirect.js';
import { clientErrorUrl } from './oauth-errors.js';
import { singleParams } from '../http/params.js';
import { completeSessionLink } from '../session-link/confirm.js';
import { isUnavailable } from '../http/unavailable.js';
import { startBrowserSession } from './browser-session.js';

/** What completing a sign-in uses, once the handler has bound the request (the instance's services satisfy it). */
export interface CallbackDeps extends Pick<Deps, 'config' | 'clock' | 'fetch' | 'db' | 'audit'> {
  auth(): Promise<Pick<AuthServices, 'sealer' | 'rally' | 'rallyClientSecret' | 'rallyClient' | 'tokens'>>;
}

export const rallySubject = (u: RallyUser) => `rally:${u.objectId}`;

/**
 * Headers on every answer of the callback, whichever branch or mapper writes it (L14, RFC 9700
 * §4.2.4): its URL carries a code and our state, so no answer may be cached, and no page or
 * redirect may hand that URL on as a Referer (our other pages say `same-origin`, for their forms;
 * the callback has no form of ours).
 */
const CALLBACK_ANSWER_HEADERS = { 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' } as const;

/** Applies `headers` when the response head is written, so no later `set` can override them. */
function forceHeadersOnEveryAnswer(res: Response, headers: Readonly<Record<string, string>>): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: Response, ...args: Parameters<Response['writeHead']>) {
    for (const [name, value] of Object.entries(headers)) this.setHeader(name, value);
    return writeHead.apply(this, args);
  } as Response['writeHead'];
}

export function createOAuthCallbackHandler(baseDeps: Deps) {
  return async (req: Request, res: Response): Promise<void> => {
    forceHeadersOnEveryAnswer(res, CALLBACK_ANSWER_HEADERS);
    const ctx = buildRequestContext(req, baseDeps.log, baseDeps.config.GOOGLE_CLOUD_PROJECT, 'oauthCallback');
    const deps = forRequest(baseDeps, ctx);
    try {
      await handleCallback(deps, ctx, req, res);
    } catch (err) {
      respondPageError(res, deps.log, err, { code: 'callback_failed', event: 'oauth_callback_failed' });
    }
  };
}

const Identity = z.object({
  ObjectID: z
    .union([z.number(), z.string()])
    .transform(String)
    .pipe(z.string().regex(/^\d{1,20}$/)),
  UserName: z.string().min(1).max(256),
  DisplayName: z.string().max(256).nullish(),
});

/** Who signed in: `GET /user` with the fresh token, through the same WSAPI client the tools use. */
async function whoSignedIn(
  auth: Pick<AuthServices, 'rallyClient'>,
  ctx: RequestContext,
  accessToken: string,
): Promise<RallyUser> {
  const rally = auth.rallyClient({
    tokens: {
      accessToken: async () => accessToken,
      refreshAfterUnauthorized: () => Promise.reject(new Error('fresh token refused')),
    },
    labels: { requestId: ctx.requestId, ...(ctx.correlationId ? { correlationId: ctx.correlationId } : {}) },
    limiterKey: `sign-in:${ctx.requestId}`, // who this is is not known yet
    log: ctx.log,
  });
  const u = Identity.parse(await rally.currentUser(['ObjectID', 'UserName', 'DisplayName']));
  return { objectId: u.ObjectID, userName: u.UserName, ...(u.DisplayName ? { displayName: u.DisplayName } : {}) };
}

async function handleCallback(deps: CallbackDeps, ctx: RequestContext, req: Request, res: Response): Promise<void> {
  if (req.method !== 'GET') {
    sendRefusalPage(res, { code: 'method_not_allowed', allow: 'GET' }); // B11: the redirect is always a GET
    return;
  }
  const { issuer } = publicUrls(deps.config);
  const params = singleParams(new URL(req.originalUrl ?? req.url, issuer).searchParams);
  const q = params.ok ? params.values : {};
  if (!params.ok || !q.state || q.state.length > 256) {
    sendRefusalPage(res, { code: 'callback_invalid_response' });
    return;
  }
  const now = deps.clock.now();
  const auth = await deps.auth();
  const consumed = await consumeLinkTransaction(
    await deps.db(),
    q.state,
    readCookie(req, deps.config.BINDING_COOKIE_NAME),
    now,
  );
  if (!consumed.ok) {
    deps.audit('access_denied', { reason: `callback_${consumed.reason}` });
    sendRefusalPage(res, {
      code: consumed.reason === 'browser_mismatch' ? 'callback_browser_mismatch' : 'callback_state_expired',
    });
    return;
  }
  const tx = consumed.tx;
  const secrets = (await SIGN_IN_SECRET.open(auth.sealer, tx.sealed, linkTxPath(q.state))).value;
  const expectedIss = deps.config.RALLY_ISSUER ?? deps.config.RALLY_BASE_URL;
  if (q.iss !== undefined && q.iss !== expectedIss) {
    deps.audit('access_denied', { reason: 'callback_issuer_mismatch' }); // B8
    sendRefusalPage(res, { code: 'callback_issuer_mismatch' });
    return;
  }
  if (q.error !== undefined || !q.code) {
    deps.audit('sign_in_failed', {
      outcome: 'denied',
      reason: q.error === 'access_denied' ? 'access_denied' : 'rally_error',
      mode: tx.kind,
    }); // B9
    const returnTo =
      tx.kind === 'authorize' && tx.redirectUri
        ? clientErrorUrl({ redirectUri: tx.redirectUri, issuer, state: secrets.clientState }, 'access_denied')
        : undefined;
    sendRefusalPage(res, { code: 'sign_in_not_completed', returnTo });
    return;
  }

  let tokens: RallyTokens;
  let rallyUser: RallyUser;
  try {
    const secret = await auth.rallyClientSecret();
    tokens = await exchangeRallyCode(auth.rally, deps.fetch, secret, q.code, secrets.rallyVerifier, () =>
      deps.clock.now(),
    );
    rallyUser = await whoSignedIn(auth, ctx, tokens.accessToken);
  } catch (err) {
    if (isUnavailable(err)) throw err;
    // B14/B15: the state is spent; nothing was stored; the user starts again.
    deps.audit('sign_in_failed', {
      reason: 'rally_code_exchange_failed',
      errCode: (err as { oauthError?: string }).oauthError ?? (err instanceof Error ? err.name : 'unknown'),
      mode: tx.kind,
    });
    sendRefusalPage(res, { code: 'callback_exchange_failed' });
    return;
  }

  switch (tx.kind) {
    case 'authorize':
      return completeAuthorize(deps, res, tx, secrets.clientState, tokens, rallyUser);
    case 'relink':
      return completeRelink(deps, res, tx, tokens, rallyUser);
    case 'session':
      return completeSessionLink(deps, res, tx, tokens, rallyUser);
    case 'console':
      return completeConsole(deps, res, tokens, rallyUser);
    case 'account':
      // The "Your access" page only needed to know who this is: Rally's tokens are not kept.
      deps.audit('sign_in_completed', { sub: rallySubject(rallyUser), rallyUser: rallyUser.userName, mode: 'account' });
      return startBrowserSession(deps, res, { sub: rallySubject(rallyUser), rallyUser }, '/account');
  }
}

/**
 * Issue 18: the connection-token pages' sign-in. The user's one connections grant (created on the
 * first sign-in, re-linked with the fresh Rally tokens later) holds the Rally link every token of
 * theirs uses; then the browser gets the browser session of /connections and /account.
 */
async function completeConsole(deps: CallbackDeps, res: Response, tokens: RallyTokens, rallyUser: RallyUser) {
  const now = deps.clock.now();
  const db = await deps.db();
  const sub = rallySubject(rallyUser);
  const expiresAt = addSeconds(now, deps.config.CONNECTION_TOKEN_MAX_DAYS * 86_400);
  let grantId = (await findActiveGrant(db, sub, CONNECTION_TOKEN_CLIENT_ID, now))?.grantId;
  if (grantId === undefined) {
    grantId = randomToken(24);
    await createGrant(db, {
      grantId,
      sub,
      clientId: CONNECTION_TOKEN_CLIENT_ID,
      clientName: 'Connection tokens',
      scopes: ['rally.read', 'rally.write'],
      status: 'active',
      createdAt: now,
      expiresAt,
    });
  } else {
    await extendGrant(db, grantId, expiresAt);
  }
  await linkGrant(deps, grantId, tokens, rallyUser);
  deps.audit('sign_in_completed', { sub, rallyUser: rallyUser.userName, mode: 'console', grantId });
  await startBrowserSession(deps, res, { sub, rallyUser, grantId }, '/connections');
}

async function completeAuthorize(
  deps: CallbackDeps,
  res: Response,
  tx: LinkTransaction,
  clientState: string | undefined,
  tokens: RallyTokens,
  rallyUser: RallyUser,
) {
  const { issuer } = publicUrls(deps.config);
  const now = deps.clock.now();
  const grantId = randomToken(24);
  const sub = rallySubject(rallyUser);
  const { clientId, redirectUri, codeChallenge, resource } = tx;
  if (clientId === undefined || redirectUri === undefined || codeChallenge === undefined || resource === undefined)
    throw new CorruptRecordError(COLLECTIONS.linkTransactions); // authorize() always stores them
  const db = await deps.db();
  await createGrant(db, {
    grantId,
    sub,
    clientId,
    clientName: tx.clientName ?? clientId,
    redirectUri,
    scopes: tx.scopes ?? [],
    status: 'active',
    createdAt: now,
    expiresAt: addSeconds(now, deps.config.REFRESH_TOKEN_TTL_SECONDS),
  });
  await linkGrant(deps, grantId, tokens, rallyUser);
  const code = randomToken(32);
  await createAuthCode(db, code, {
    grantId,
    sub,
    clientId,
    redirectUri,
    codeChallenge,
    scopes: tx.scopes ?? [],
    resource,
    createdAt: now,
    expiresAt: addSeconds(now, deps.config.AUTH_CODE_TTL_SECONDS),
  });
  deps.audit('sign_in_completed', { clientId, sub, rallyUser: rallyUser.userName, mode: 'oauth', grantId });
  res.set('Cache-Control', 'no-store').redirect(302, clientRedirect(redirectUri, issuer, { code, state: clientState }));
}

/** Every grant link goes through here: only an active grant takes tokens, checked in the storing transaction (L2). */
async function linkGrant(
  deps: CallbackDeps,
  grantId: string,
  tokens: RallyTokens,
  rallyUser: RallyUser,
): Promise<void> {
  const auth = await deps.auth();
  await auth.tokens.link(
    grantPrincipal(grantId),
    'grant',
    tokens,
    rallyUser,
    requireActiveGrant(grantId, deps.clock.now()),
  );
}

/** Default mode re-link from /connect: only the same Rally user may restore a grant's link (C1, C7). */
async function completeRelink(
  deps: CallbackDeps,
  res: Response,
  tx: LinkTransaction,
  tokens: RallyTokens,
  rallyUser: RallyUser,
) {
  if (!tx.grantId || tx.sub !== rallySubject(rallyUser)) {
    deps.audit('access_denied', { reason: 'different_rally_user', mode: 'relink', ...(tx.sub ? { sub: tx.sub } : {}) });
    sendRefusalPage(res, { code: 'relink_different_user' });
    return;
  }
  try {
    await linkGrant(deps, tx.grantId, tokens, rallyUser);
  } catch (err) {
    if (err instanceof GrantNotActiveError) {
      // L2: revoked (or expired) after the re-link was handed out; it stays revoked.
      deps.audit('access_denied', { reason: 'grant_not_active', mode: 'relink', ...(tx.sub ? { sub: tx.sub } : {}) });
      sendRefusalPage(res, { code: 'relink_grant_not_active' });
      return;
    }
    if (!(err instanceof LinkUserMismatchError)) throw err;
    sendRefusalPage(res, { code: 'relink_link_user_mismatch' });
    return;
  }
  deps.audit('sign_in_completed', {
    ...(tx.sub ? { sub: tx.sub } : {}),
    rallyUser: rallyUser.userName,
    mode: 'relink',
  });
  sendPage(
    res,
    200,
    'Rally is connected',
    html`<h1>Rally is connected.</h1><p>You can close this window and return to your agent.</p><p class="muted">To see every application that can use Rally as you, and end any of them, open <a href="/account">Your access</a>.</p>${
      deps.config.CONNECTION_TOKENS
        ? html`<p class="muted">An agent that cannot sign in by itself, such as the GitHub Copilot coding agent? <a href="/connections">Create a connection token</a> for it.</p>`
        : ''
    }`,
  );
}
