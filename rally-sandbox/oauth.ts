/**
 * Rally's OAuth endpoints (rally-api.md §2, §5.1–5.3): the authorize flow with
 * sign-in and "Allow Access" pages, and the form-encoded token endpoint.
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { html, json, redirect, type Reply, type SandboxRequest } from './http.js';
import { consentPage, errorPage, signInPage } from './pages.js';
import type { Store } from './store.js';
import type { SignInTx, TokenState } from './tokens.js';

export interface OAuthConfig {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly redirectUris: readonly string[];
  readonly acceptOpenidScope: boolean;
  readonly pkce: 'ignore' | 'verify';
  readonly autoApprove: boolean;
}

export interface OAuthDeps {
  readonly config: OAuthConfig;
  readonly tokens: TokenState;
  readonly store: () => Store;
  /** Counts token requests by grant type. */
  readonly countGrant: (grantType: string) => void;
}

/** Rally's token error body: the extra null client_id/client_secret keys are real (§2.4). */
function tokenError(status: number, error: string, description: string, headers: Record<string, string> = {}): Reply {
  return json(
    status,
    { error, error_description: description, client_id: null, client_secret: null },
    { 'cache-control': 'no-store', ...headers },
  );
}

function withParams(base: string, params: Record<string, string | null>): string {
  const url = new URL(base);
  for (const [k, v] of Object.entries(params)) if (v !== null) url.searchParams.set(k, v);
  return url.toString();
}

const safeEqual = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** GET /login/oauth2/auth */
export function authorize(req: SandboxRequest, deps: OAuthDeps): Reply {
  const q = req.query;
  const { config } = deps;
  const clientId = q.get('client_id');
  const redirectUri = q.get('redirect_uri');
  if (clientId !== config.clientId)
    return html(400, errorPage('Unknown application', 'The client_id is not registered with Rally.'));
  // Exact string match, no normalisation: a mismatch never redirects (RFC 6749 §4.1.2.1).
  if (redirectUri === null || !config.redirectUris.includes(redirectUri)) {
    return html(
      400,
      errorPage('Invalid redirect URI', 'The redirect_uri does not match the one registered for this application.'),
    );
  }
  const state = q.get('state');
  if (q.get('response_type') !== 'code') {
    return redirect(
      withParams(redirectUri, {
        error: 'unsupported_response_type',
        error_description: 'response_type must be code',
        state,
      }),
    );
  }
  const scope = (q.get('scope') ?? '').trim();
  const allowed = new Set(config.acceptOpenidScope ? ['alm', 'openid'] : ['alm']);
  const scopes = scope.split(/\s+/).filter(Boolean);
  if (scopes.length === 0 || !scopes.every((s) => allowed.has(s))) {
    return redirect(
      withParams(redirectUri, {
        error: 'invalid_scope',
        error_description: `Unsupported scope: ${scope || '(none)'}`,
        state,
      }),
    );
  }
  const tx = deps.tokens.startTx({
    clientId,
    redirectUri,
    state,
    scope,
    codeChallenge: q.get('code_challenge'),
    codeChallengeMethod: q.get('code_challenge_method'),
  });
  return html(200, signInPage({ tx: tx.id }));
}

function finish(tx: SignInTx, login: string, deps: OAuthDeps): Reply {
  const code = deps.tokens.issueCode(tx, login);
  return redirect(withParams(tx.redirectUri, { code, state: tx.state }));
}

function consentFor(tx: SignInTx, login: string, deps: OAuthDeps): Reply {
  const store = deps.store();
  const account = store.accounts.get(login);
  const user = account ? store.get(account.userOid) : undefined;
  return html(
    200,
    consentPage({
      tx: tx.id,
      clientId: tx.clientId,
      redirectUri: tx.redirectUri,
      displayName: String(user?.values.DisplayName ?? login),
      userName: String(user?.values.UserName ?? login),
    }),
  );
}

const expired = (): Reply =>
  html(
    400,
    errorPage('Sign-in expired', 'This sign-in request is unknown or has expired. Start again from the application.'),
  );

/** POST /login/oauth2/auth/signin: checks the password, then shows consent (or redirects when autoApprove). */
export function signIn(req: SandboxRequest, deps: OAuthDeps): Reply {
  const form = new URLSearchParams(req.body);
  const tx = deps.tokens.liveTx(form.get('tx') ?? '');
  if (!tx) return expired();
  const username = (form.get('username') ?? '').trim();
  const password = form.get('password') ?? '';
  const store = deps.store();
  const login = username.includes('@') ? (username.split('@')[0] ?? '') : username;
  const account = store.accounts.get(login);
  const user = account ? store.get(account.userOid) : undefined;
  const nameOk = account !== undefined && (username === login || user?.values.UserName === username);
  if (!account || !nameOk || !safeEqual(password, account.password)) {
    return html(200, signInPage({ tx: tx.id, username, error: 'The username or password you entered is incorrect.' }));
  }
  tx.login = account.login;
  return deps.config.autoApprove ? finish(tx, account.login, deps) : consentFor(tx, account.login, deps);
}

/** POST /login/oauth2/auth/consent: Allow issues a code, Deny sends error=access_denied. */
export function consent(req: SandboxRequest, deps: OAuthDeps): Reply {
  const form = new URLSearchParams(req.body);
  const tx = deps.tokens.liveTx(form.get('tx') ?? '');
  if (!tx || tx.login === undefined) return expired();
  if (form.get('decision') !== 'allow') {
    deps.tokens.txs.delete(tx.id);
    return redirect(
      withParams(tx.redirectUri, {
        error: 'access_denied',
        error_description: 'The user denied access',
        state: tx.state,
      }),
    );
  }
  return finish(tx, tx.login, deps);
}

/** Client credentials from HTTP Basic (preferred by Rally's samples) or the form body. */
function clientAuth(
  req: SandboxRequest,
  form: URLSearchParams,
): { id: string; secret: string; basic: boolean } | undefined {
  const auth = req.headers.authorization;
  if (auth?.toLowerCase().startsWith('basic ')) {
    const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const dec = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { id: dec(decoded.slice(0, colon)), secret: dec(decoded.slice(colon + 1)), basic: true };
  }
  const id = form.get('client_id');
  const secret = form.get('client_secret');
  return id !== null && secret !== null ? { id, secret, basic: false } : undefined;
}

/** POST /login/oauth2/token */
export function token(req: SandboxRequest, deps: OAuthDeps): Reply {
  const form = new URLSearchParams(req.body);
  const grantType = form.get('grant_type') ?? '';
  deps.countGrant(grantType || '(none)');
  const ctype = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (ctype !== 'application/x-www-form-urlencoded') {
    return tokenError(400, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded');
  }
  const { config, tokens } = deps;
  const client = clientAuth(req, form);
  if (!client || client.id !== config.clientId || !safeEqual(client.secret, config.clientSecret)) {
    return tokenError(
      401,
      'invalid_client',
      'Client authentication failed',
      client?.basic ? { 'www-authenticate': 'Basic realm="rally"' } : {},
    );
  }
  if (grantType === 'authorization_code') {
    const rec = tokens.takeCode(form.get('code') ?? '');
    if (!rec || rec.clientId !== client.id)
      return tokenError(400, 'invalid_grant', 'Invalid or expired authorization code');
    if (form.get('redirect_uri') !== rec.redirectUri)
      return tokenError(400, 'invalid_grant', 'redirect_uri does not match the authorization request');
    if (config.pkce === 'verify' && rec.codeChallenge !== null) {
      const verifier = form.get('code_verifier');
      const method = rec.codeChallengeMethod ?? 'plain';
      const computed =
        verifier === null
          ? ''
          : method === 'S256'
            ? createHash('sha256').update(verifier).digest('base64url')
            : verifier;
      if (verifier === null || !safeEqual(computed, rec.codeChallenge))
        return tokenError(400, 'invalid_grant', 'PKCE verification failed');
    }
    const grant = tokens.newGrant(rec.login, client.id);
    return json(
      200,
      { ...tokens.issue(grant), token_type: 'Bearer' },
      { 'cache-control': 'no-store', pragma: 'no-cache' },
    );
  }
  if (grantType === 'refresh_token') {
    const old = form.get('refresh_token') ?? '';
    const live = tokens.liveRefresh(old);
    if (!live || live.grant.clientId !== client.id)
      return tokenError(400, 'invalid_grant', 'Invalid, expired or revoked refresh token');
    if (tokens.rotate) tokens.refresh.delete(old);
    const issued = tokens.issue(live.grant, tokens.rotate ? undefined : old);
    return json(200, { ...issued, token_type: 'Bearer' }, { 'cache-control': 'no-store', pragma: 'no-cache' });
  }
  return tokenError(400, 'invalid_grant', 'Invalid value for grant_type params - must be authorization_code');
}
