/**
 * The one OAuth redirect target of every upstream provider (/oauth/callback). Consumes our `state`
 * exactly once, checks the browser binding, reads from the state's record which provider it was
 * sent to, applies that provider's callback rules (`iss`), exchanges the code there and nowhere
 * else, learns who signed in, stores the tokens sealed, and finishes the flow that started it: an
 * MCP client authorization, a re-link, a session link, the connection-token and "Your access"
 * pages, or a second provider's link (issue 19). Never renders attacker text, never redirects to
 * an unvalidated URI.
 * @module
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import { publicUrls } from '../config/config.js';
import { forRequest, type Deps } from '../services/deps.js';
import { requestContextFor, type RequestContext } from '../http/request-context.js';
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
  isGrantActive,
  requireActiveGrant,
} from '../store/grants.repo.js';
import { CONNECTION_TOKEN_CLIENT_ID } from '../crypto/connection-token.js';
import { createAuthCode } from '../store/auth-codes.repo.js';
import { CorruptRecordError } from '../store/firestore-utils.js';
import { COLLECTIONS } from '../store/collections.js';
import { LinkUserMismatchError } from '../upstream-link/errors.js';
import { SIGN_IN_SECRET } from '../upstream-link/token-codec.js';
import { grantPrincipal, rallyUserOf, type RallyUser } from '../store/upstream-tokens.repo.js';
import {
  providerOf,
  type UpstreamProvider,
  type UpstreamProviderId,
  type UpstreamTokens,
  type UpstreamUser,
} from '../upstream/provider.js';
import { redirectToProvider } from '../upstream-link/sign-in.js';
import type { AuthServices } from '../services/auth-services.js';
import { clientRedirect } from './client-redirect.js';
import { clientErrorUrl } from './oauth-errors.js';
import { singleParams } from '../http/params.js';
import { completeSessionLink } from '../session-link/confirm.js';
import { isUnavailable } from '../http/unavailable.js';
import { startBrowserSession } from './browser-session.js';

/** What completing a sign-in uses, once the handler has bound the request (the instance's services satisfy it). */
export interface CallbackDeps extends Pick<Deps, 'config' | 'clock' | 'fetch' | 'db' | 'audit'> {
  auth(): Promise<Pick<AuthServices, 'sealer' | 'providers' | 'tokenStore'>>;
}

/** Our `sub` of a user of the primary provider: `rally:<ObjectID>`. */
export const subjectOf = (provider: UpstreamProviderId, user: UpstreamUser): string => `${provider}:${user.id}`;
export const rallySubject = (u: RallyUser) => `rally:${u.objectId}`;

/** The audit fields naming who signed in at `provider`: Rally's user is `rallyUser`, any other's `upstreamUser`. */
const userFields = (provider: UpstreamProviderId, user: UpstreamUser) =>
  provider === 'rally' ? { provider, rallyUser: user.login } : { provider, upstreamUser: user.login };

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
    const ctx = requestContextFor(req, res, baseDeps.log, baseDeps.config.GOOGLE_CLOUD_PROJECT, 'oauthCallback');
    const deps = forRequest(baseDeps, ctx);
    try {
      await handleCallback(deps, ctx, req, res);
    } catch (err) {
      respondPageError(res, deps.log, err, { code: 'callback_failed', event: 'oauth_callback_failed' });
    }
  };
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
  const providerId = providerOf(tx.provider);
  const provider = auth.providers.get(providerId);
  if (!provider) {
    // A sign-in started before the operator turned this provider off: its code goes nowhere.
    deps.audit('access_denied', { reason: 'callback_provider_disabled', provider: providerId, mode: tx.kind });
    sendRefusalPage(res, { code: 'callback_provider_disabled' });
    return;
  }
  const secrets = (await SIGN_IN_SECRET.open(auth.sealer, tx.sealed, linkTxPath(q.state))).value;
  if (!provider.acceptsIssuer(q.iss)) {
    deps.audit('access_denied', { reason: 'callback_issuer_mismatch', provider: provider.id }); // B8, R1
    sendRefusalPage(res, { code: 'callback_issuer_mismatch', provider: provider.displayName });
    return;
  }
  if (q.error !== undefined || !q.code) {
    deps.audit('sign_in_failed', {
      outcome: 'denied',
      reason: q.error === 'access_denied' ? 'access_denied' : `${provider.id}_error`,
      mode: tx.kind,
      provider: provider.id,
    }); // B9
    const returnTo =
      tx.kind === 'authorize' && tx.redirectUri
        ? clientErrorUrl({ redirectUri: tx.redirectUri, issuer, state: secrets.clientState }, 'access_denied')
        : undefined;
    sendRefusalPage(res, { code: 'sign_in_not_completed', provider: provider.displayName, returnTo });
    return;
  }

  let tokens: UpstreamTokens;
  let user: UpstreamUser;
  try {
    // R1: the code goes to the provider this state was minted for, and to no other.
    tokens = await provider.exchangeCode(q.code, secrets.verifier);
    user = await provider.identify(tokens.accessToken, {
      requestId: ctx.requestId,
      ...(ctx.correlationId ? { correlationId: ctx.correlationId } : {}),
      log: ctx.log,
    });
  } catch (err) {
    if (isUnavailable(err)) throw err;
    // B14/B15: the state is spent; nothing was stored; the user starts again.
    deps.audit('sign_in_failed', {
      reason: `${provider.id}_code_exchange_failed`,
      errCode: (err as { oauthError?: string }).oauthError ?? (err instanceof Error ? err.name : 'unknown'),
      mode: tx.kind,
      provider: provider.id,
    });
    sendRefusalPage(res, { code: 'callback_exchange_failed', provider: provider.displayName });
    return;
  }

  if (provider.id !== auth.providers.primary.id) {
    // Only the second step of a `connect` goes to a provider other than the primary.
    if (tx.kind !== 'connect' || tx.connects !== provider.id)
      throw new CorruptRecordError(COLLECTIONS.linkTransactions);
    return completeConnect(deps, res, tx, provider, tokens, user);
  }
  const rallyUser = rallyUserOf(user);
  switch (tx.kind) {
    case 'authorize':
      return completeAuthorize(deps, res, tx, secrets.clientState, tokens, user);
    case 'relink':
      return completeRelink(deps, res, tx, tokens, user);
    case 'session':
      return completeSessionLink(deps, res, tx, tokens, user);
    case 'console':
      return completeConsole(deps, res, tokens, user);
    case 'connect':
      return continueConnect(deps, res, tx, user);
    case 'account':
      // The "Your access" page only needed to know who this is: Rally's tokens are not kept.
      deps.audit('sign_in_completed', { sub: rallySubject(rallyUser), ...userFields('rally', user), mode: 'account' });
      return startBrowserSession(deps, res, { sub: rallySubject(rallyUser), rallyUser }, '/account');
  }
}

/**
 * Issue 18: the connection-token pages' sign-in. The user's one connections grant (created on the
 * first sign-in, re-linked with the fresh Rally tokens later) holds the Rally link every token of
 * theirs uses; then the browser gets the browser session of /connections and /account.
 */
async function completeConsole(deps: CallbackDeps, res: Response, tokens: UpstreamTokens, user: UpstreamUser) {
  const now = deps.clock.now();
  const db = await deps.db();
  const rallyUser = rallyUserOf(user);
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
  await linkGrant(deps, 'rally', grantId, tokens, user);
  deps.audit('sign_in_completed', { sub, ...userFields('rally', user), mode: 'console', grantId });
  await startBrowserSession(deps, res, { sub, rallyUser, grantId }, '/connections');
}

async function completeAuthorize(
  deps: CallbackDeps,
  res: Response,
  tx: LinkTransaction,
  clientState: string | undefined,
  tokens: UpstreamTokens,
  user: UpstreamUser,
) {
  const { issuer } = publicUrls(deps.config);
  const now = deps.clock.now();
  const grantId = randomToken(24);
  const sub = subjectOf('rally', user);
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
  await linkGrant(deps, 'rally', grantId, tokens, user);
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
  deps.audit('sign_in_completed', { clientId, sub, ...userFields('rally', user), mode: 'oauth', grantId });
  res.set('Cache-Control', 'no-store').redirect(302, clientRedirect(redirectUri, issuer, { code, state: clientState }));
}

/**
 * Every grant link goes through here: only an active grant takes tokens, checked in the storing
 * transaction (L2); with `sub`, only a grant that is still that user's (R2).
 */
async function linkGrant(
  deps: CallbackDeps,
  provider: UpstreamProviderId,
  grantId: string,
  tokens: UpstreamTokens,
  user: UpstreamUser,
  sub?: string,
): Promise<void> {
  const auth = await deps.auth();
  await auth
    .tokenStore(provider)
    .link(grantPrincipal(grantId), 'grant', tokens, user, requireActiveGrant(grantId, deps.clock.now(), sub));
}

/** The page a finished (re)link shows, naming the provider. */
function sendConnectedPage(deps: CallbackDeps, res: Response, providerName: string): void {
  sendPage(
    res,
    200,
    `${providerName} is connected`,
    html`<h1>${providerName} is connected.</h1><p>You can close this window and return to your agent.</p><p class="muted">To see every application that can use Rally as you, and end any of them, open <a href="/account">Your access</a>.</p>${
      deps.config.CONNECTION_TOKENS
        ? html`<p class="muted">An agent that cannot sign in by itself, such as the GitHub Copilot coding agent? <a href="/connections">Create a connection token</a> for it.</p>`
        : ''
    }`,
  );
}

/** Default mode re-link from /connect: only the same Rally user may restore a grant's link (C1, C7). */
async function completeRelink(
  deps: CallbackDeps,
  res: Response,
  tx: LinkTransaction,
  tokens: UpstreamTokens,
  user: UpstreamUser,
) {
  if (!tx.grantId || tx.sub !== subjectOf('rally', user)) {
    deps.audit('access_denied', {
      reason: 'different_rally_user',
      mode: 'relink',
      provider: 'rally',
      ...(tx.sub ? { sub: tx.sub } : {}),
    });
    sendRefusalPage(res, { code: 'relink_different_user' });
    return;
  }
  try {
    await linkGrant(deps, 'rally', tx.grantId, tokens, user);
  } catch (err) {
    if (err instanceof GrantNotActiveError) {
      // L2: revoked (or expired) after the re-link was handed out; it stays revoked.
      deps.audit('access_denied', {
        reason: 'grant_not_active',
        mode: 'relink',
        provider: 'rally',
        ...(tx.sub ? { sub: tx.sub } : {}),
      });
      sendRefusalPage(res, { code: 'relink_grant_not_active' });
      return;
    }
    if (!(err instanceof LinkUserMismatchError)) throw err;
    sendRefusalPage(res, { code: 'relink_link_user_mismatch' });
    return;
  }
  deps.audit('sign_in_completed', { ...(tx.sub ? { sub: tx.sub } : {}), ...userFields('rally', user), mode: 'relink' });
  sendConnectedPage(deps, res, 'Rally');
}

/**
 * Issue 19, the first step of linking a grant to another provider: the browser signed in to the
 * primary provider, which proves whose browser it is. Only the grant's own user goes on to the
 * other provider (R2): a /connect link forwarded to someone else, or opened in another user's
 * browser, stops here, before that provider is even asked. The primary's fresh tokens are not kept.
 */
async function continueConnect(deps: CallbackDeps, res: Response, tx: LinkTransaction, user: UpstreamUser) {
  const { grantId, sub, connects } = tx;
  if (grantId === undefined || sub === undefined || connects === undefined)
    throw new CorruptRecordError(COLLECTIONS.linkTransactions); // connect links always carry them
  if (sub !== subjectOf('rally', user)) {
    deps.audit('access_denied', { reason: 'different_rally_user', mode: 'connect', provider: connects, sub });
    sendRefusalPage(res, { code: 'relink_different_user' });
    return;
  }
  if (!(await isGrantActive(await deps.db(), grantId, deps.clock.now()))) {
    deps.audit('access_denied', { reason: 'grant_not_active', mode: 'connect', provider: connects, sub });
    sendRefusalPage(res, { code: 'relink_grant_not_active' });
    return;
  }
  if (!(await deps.auth()).providers.get(connects)) {
    // Turned off while the user was signing in to Rally.
    deps.audit('access_denied', { reason: 'callback_provider_disabled', mode: 'connect', provider: connects, sub });
    sendRefusalPage(res, { code: 'callback_provider_disabled' });
    return;
  }
  deps.audit('sign_in_started', { mode: 'connect', provider: connects, sub });
  await redirectToProvider(deps, res, connects, {
    kind: 'connect',
    connects,
    grantId,
    sub,
    ...(tx.clientName ? { clientName: tx.clientName } : {}),
  });
}

/**
 * Issue 19, the second step: the tokens of the provider being connected land on the grant whose
 * user proved who they are in the first step, if it is still active and still theirs (L2, R2), and
 * only for the same user at that provider as before, unless the user disconnected it (R5).
 */
async function completeConnect(
  deps: CallbackDeps,
  res: Response,
  tx: LinkTransaction,
  provider: UpstreamProvider,
  tokens: UpstreamTokens,
  user: UpstreamUser,
) {
  const { grantId, sub } = tx;
  if (grantId === undefined || sub === undefined) throw new CorruptRecordError(COLLECTIONS.linkTransactions);
  try {
    await linkGrant(deps, provider.id, grantId, tokens, user, sub);
  } catch (err) {
    if (err instanceof GrantNotActiveError) {
      deps.audit('access_denied', { reason: 'grant_not_active', mode: 'connect', provider: provider.id, sub });
      sendRefusalPage(res, { code: 'relink_grant_not_active' });
      return;
    }
    if (!(err instanceof LinkUserMismatchError)) throw err;
    deps.audit('access_denied', {
      reason: `different_${provider.id}_user`,
      mode: 'connect',
      provider: provider.id,
      sub,
    });
    sendRefusalPage(res, { code: 'provider_user_mismatch', provider: provider.displayName });
    return;
  }
  deps.audit('sign_in_completed', { sub, ...userFields(provider.id, user), mode: 'connect', grantId });
  sendConnectedPage(deps, res, provider.displayName);
}
