/**
 * GET /authorize and POST /consent: validate the MCP client's request,
 * ask the user (per-client consent against the confused deputy), then send
 * the browser to Rally with our own state and PKCE pair.
 * @module
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import { publicUrls } from '../config/config.js';
import type { Deps } from '../services/deps.js';
import { addSeconds } from '../kernel/clock.js';
import { randomToken, sha256Id } from '../kernel/hash.js';
import { html, sendPage } from '../http/pages.js';
import { sendRefusalPage } from '../http/page-errors.js';
import { createAuthRequest, consumeAuthRequest, authRequestPath } from '../store/auth-requests.repo.js';
import { isPrivateUseRedirect, resolveClient, redirectUriMatches } from './clients.js';
import { redirectToProvider, type SignInDeps } from '../upstream-link/sign-in.js';
import { PRIMARY_PROVIDER } from '../upstream/provider.js';
import { CLIENT_STATE } from '../upstream-link/token-codec.js';
import { parseScopes, type Scope } from './scopes.js';
import { singleParams } from '../http/params.js';
import { isSameOriginPost } from '../http/origin.js';
import type { OAuthErrorCode } from './errors.js';
import { redirectOAuthError } from './oauth-errors.js';

const AUTH_REQUEST_TTL_SECONDS = 600;
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

const SCOPE_TEXT: Record<Scope, string> = {
  'rally.read': 'Read your Rally work items, projects and iterations',
  'rally.write': 'Create and update stories, defects, tasks and comments as you',
};

/** What /authorize and the consent POST use: records, the address throttle, logs, and the start of a Rally sign-in. */
export type AuthorizeDeps = Pick<Deps, 'config' | 'clock' | 'db' | 'log' | 'audit' | 'limitAddress'> & SignInDeps;

export async function handleAuthorize(deps: AuthorizeDeps, req: Request, res: Response): Promise<void> {
  deps.limitAddress('authorize'); // L20: anyone can call this, and it stores an auth request
  const { issuer, resource } = publicUrls(deps.config);
  const now = deps.clock.now();
  const params = singleParams(new URL(req.originalUrl ?? req.url, issuer).searchParams);
  if (!params.ok) {
    sendRefusalPage(res, { code: 'duplicate_parameter', parameter: params.duplicate });
    return;
  }
  const q = params.values;
  const db = await deps.db();
  const clientId = q.client_id;
  const client = clientId
    ? await resolveClient(clientId, { db, now, allowLoopbackCimd: deps.config.DANGEROUSLY_ALLOW_LOOPBACK_CIMD })
    : undefined;
  if (!client) {
    sendRefusalPage(res, { code: 'unknown_client' });
    return;
  }
  let redirectUri = q.redirect_uri;
  if (redirectUri === undefined) {
    const [onlyUri] = client.redirectUris;
    if (client.redirectUris.length !== 1 || onlyUri === undefined) {
      sendRefusalPage(res, { code: 'redirect_uri_missing' });
      return;
    }
    redirectUri = onlyUri;
  } else if (!redirectUriMatches(redirectUri, client.redirectUris)) {
    sendRefusalPage(res, { code: 'redirect_uri_mismatch' });
    return;
  }
  // From here on errors go back to the (validated) client (RFC 6749 §4.1.2.1).
  const back = (code: OAuthErrorCode, description: string) =>
    redirectOAuthError(res, 302, { redirectUri, issuer, state: q.state }, code, description);
  if (q.state !== undefined && q.state.length > 512) return back('invalid_request', 'state is too long.');
  if (q.response_type !== 'code') return back('unsupported_response_type', 'Only response_type=code is supported.');
  if (!q.code_challenge) return back('invalid_request', 'code_challenge is required (PKCE).');
  if (q.code_challenge_method !== 'S256') return back('invalid_request', 'code_challenge_method must be S256.');
  if (!S256_CHALLENGE.test(q.code_challenge))
    return back('invalid_request', 'code_challenge must be 43 base64url characters.');
  if (q.resource !== undefined && q.resource !== resource)
    return back('invalid_target', `resource must be ${resource}.`);
  const scopes = parseScopes(q.scope);
  if (!scopes) return back('invalid_scope', 'Unknown scope requested.');

  const requestId = randomToken(24);
  const csrf = randomToken(24);
  const { sealer } = await deps.auth();
  await createAuthRequest(db, requestId, {
    clientId: client.clientId,
    clientName: client.clientName,
    redirectUri,
    codeChallenge: q.code_challenge,
    scopes,
    resource,
    csrfHash: sha256Id(csrf),
    ...(q.state !== undefined
      ? { sealedState: await CLIENT_STATE.seal(sealer, q.state, authRequestPath(requestId)) }
      : {}),
    createdAt: now,
    expiresAt: addSeconds(now, AUTH_REQUEST_TTL_SECONDS),
  });
  // A private-use scheme (native clients, H24) has no host: the page names the scheme, and the
  // consent form may be answered with a redirect to that scheme (CSP form-action scheme-source).
  const privateUse = isPrivateUseRedirect(redirectUri);
  const target = new URL(redirectUri);
  const redirectHost = privateUse ? target.protocol.slice(0, -1) : target.host;
  const loopbackOnly = client.redirectUris.every(
    (u) => /^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)[:/]/.test(u) || isPrivateUseRedirect(u),
  );
  sendPage(
    res,
    200,
    'Allow access to Rally?',
    html`<h1>Allow ${client.clientName} to use Rally as you?</h1>
<p>An application is asking to work with your Broadcom Rally account through this server.</p>
<dl><dt>Application</dt><dd>${client.clientName}</dd>
<dt>Returns to</dt><dd>${redirectHost}</dd>
<dt>Registered</dt><dd>${client.source === 'cimd' ? `by metadata at ${new URL(client.clientId).host}` : 'by the application itself (unverified name)'}</dd>
<dt>Requested</dt><dd>${scopes.map((s) => html`<div>${SCOPE_TEXT[s]}</div>`)}</dd>
<dt>Started</dt><dd>${now.toISOString().replace('T', ' ').slice(0, 19)} UTC</dd></dl>
${loopbackOnly ? html`<p class="warn">This application runs on your own computer (it returns to ${redirectHost}). Continue only if you just started signing in from it.</p>` : ''}
<p>Next, Rally will ask you to sign in and allow access. You can see and end this access at any time on <a href="/account">Your access</a>.</p>
<form method="post" action="/consent"><input type="hidden" name="request_id" value="${requestId}"><input type="hidden" name="csrf" value="${csrf}">
<div class="actions"><button class="secondary" name="decision" value="deny" type="submit">Cancel</button><button class="primary" name="decision" value="allow" type="submit">Allow</button></div></form>`,
    [new URL(deps.config.RALLY_BASE_URL).origin, privateUse ? target.protocol : target.origin],
  );
}

export async function handleConsent(deps: AuthorizeDeps, req: Request, res: Response): Promise<void> {
  const { issuer } = publicUrls(deps.config);
  const body = (req.body ?? {}) as Record<string, unknown>;
  const requestId = typeof body.request_id === 'string' ? body.request_id : undefined;
  const csrf = typeof body.csrf === 'string' ? body.csrf : undefined;
  if (!isSameOriginPost(req, issuer) || !requestId || !csrf || requestId.length > 64 || csrf.length > 64) {
    sendRefusalPage(res, { code: 'consent_not_same_origin' });
    return;
  }
  const now = deps.clock.now();
  const { sealer } = await deps.auth();
  const db = await deps.db();
  const consumed = await consumeAuthRequest(db, requestId, csrf, now);
  if (!consumed.ok) {
    deps.log.warn('consent_refused', { reason: consumed.reason });
    sendRefusalPage(res, { code: 'consent_request_expired' });
    return;
  }
  const ar = consumed.request;
  const clientState = ar.sealedState
    ? (await CLIENT_STATE.open(sealer, ar.sealedState, authRequestPath(requestId))).value
    : undefined;
  if (body.decision !== 'allow') {
    deps.log.info('consent_denied', { clientId: ar.clientId });
    redirectOAuthError(res, 303, { redirectUri: ar.redirectUri, issuer, state: clientState }, 'access_denied');
    return;
  }
  deps.audit('consent_granted', { clientId: ar.clientId });
  await redirectToProvider(
    deps,
    res,
    PRIMARY_PROVIDER,
    {
      kind: 'authorize',
      clientId: ar.clientId,
      clientName: ar.clientName,
      redirectUri: ar.redirectUri,
      codeChallenge: ar.codeChallenge,
      scopes: ar.scopes,
      resource: ar.resource,
    },
    clientState,
  );
}
