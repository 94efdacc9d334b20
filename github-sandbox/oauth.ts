/**
 * GitHub's OAuth web flow on the web origin (docs/github-api.md §2): the
 * authorize endpoint with its sign-in and "Authorize" pages, and the token
 * endpoint with GitHub's quirks: errors come back as HTTP 200 with an `error`
 * field, the answer's format follows `Accept`, parameters may come in the
 * query string or the body.
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { html, json, params, redirect, type GhRequest, type Reply } from './http.js';
import { authorizePage, errorPage, signInPage } from './pages.js';
import type { SeedUser } from './seed.js';
import type { SignInTx, TokenState } from './tokens.js';
import type { GitHubTokenMode } from './types.js';

export interface OAuthConfig {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly callbackUrls: readonly string[];
  readonly mode: GitHubTokenMode;
  readonly appName: string;
  readonly autoApprove: boolean;
}

export interface OAuthDeps {
  readonly config: OAuthConfig;
  readonly tokens: TokenState;
  readonly users: () => ReadonlyMap<string, SeedUser>;
  readonly countGrant: (grantType: string) => void;
}

/** OAuth App scopes GitHub knows (docs/github-api.md §2.2); others are dropped from a request. */
export const KNOWN_SCOPES: ReadonlySet<string> = new Set([
  'repo',
  'repo:status',
  'repo_deployment',
  'public_repo',
  'repo:invite',
  'security_events',
  'admin:repo_hook',
  'write:repo_hook',
  'read:repo_hook',
  'admin:org',
  'write:org',
  'read:org',
  'admin:public_key',
  'write:public_key',
  'read:public_key',
  'admin:org_hook',
  'gist',
  'notifications',
  'user',
  'read:user',
  'user:email',
  'user:follow',
  'project',
  'read:project',
  'delete_repo',
  'write:packages',
  'read:packages',
  'delete:packages',
  'admin:gpg_key',
  'write:gpg_key',
  'read:gpg_key',
  'codespace',
  'workflow',
]);

const DOCS = 'https://docs.github.com/apps/managing-oauth-apps';
const AUTHORIZE_ERRORS = `${DOCS}/troubleshooting-authorization-request-errors/`;
const TOKEN_ERRORS = `${DOCS}/troubleshooting-oauth-app-access-token-request-errors/`;

const safeEqual = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

function withParams(base: string, add: Record<string, string | null>): string {
  const url = new URL(base);
  for (const [k, v] of Object.entries(add)) if (v !== null) url.searchParams.set(k, v);
  return url.toString();
}

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * Whether `given` may be used as redirect_uri for the registered `callback`. A GitHub App needs an
 * exact match; an OAuth App accepts the same host (or a sub-domain) and port, a path at or under the
 * callback's, and any port on a loopback callback (docs/github-api.md §2.1).
 */
export function redirectAllowed(mode: GitHubTokenMode, callback: string, given: string): boolean {
  if (mode === 'github-app') return callback === given;
  let c: URL;
  let g: URL;
  try {
    c = new URL(callback);
    g = new URL(given);
  } catch {
    return false;
  }
  if (c.protocol !== g.protocol || g.username || g.password) return false;
  const hostOk = g.hostname === c.hostname || g.hostname.endsWith(`.${c.hostname}`);
  const portOk = g.port === c.port || (LOOPBACK.has(c.hostname) && g.hostname === c.hostname);
  const base = c.pathname.endsWith('/') ? c.pathname : `${c.pathname}/`;
  const pathOk = g.pathname === c.pathname || g.pathname.startsWith(base);
  return hostOk && portOk && pathOk;
}

/** Space- (or comma-) separated scopes, known ones only, de-duplicated in request order. */
export function normaliseScopes(raw: string): string[] {
  return [...new Set(raw.split(/[\s,]+/).filter((s) => KNOWN_SCOPES.has(s)))];
}

const PKCE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const PKCE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

/** GET /login/oauth/authorize */
export function authorize(req: GhRequest, deps: OAuthDeps): Reply {
  const q = req.query;
  const { config } = deps;
  if (q.get('client_id') !== config.clientId) return html(404, errorPage('Not Found', 'No such application.'));
  const state = q.get('state');
  const fallback = config.callbackUrls[0];
  if (fallback === undefined) return html(500, errorPage('Misconfigured', 'The application has no callback URL.'));
  const given = q.get('redirect_uri');
  // A redirect_uri that does not match goes back to the registered callback with the error (documented).
  if (given !== null && !config.callbackUrls.some((c) => redirectAllowed(config.mode, c, given))) {
    return redirect(
      withParams(fallback, {
        error: 'redirect_uri_mismatch',
        error_description: 'The redirect_uri MUST match the registered callback URL for this application.',
        error_uri: `${AUTHORIZE_ERRORS}#redirect-uri-mismatch`,
        state,
      }),
    );
  }
  const redirectUri = given ?? fallback;
  const challenge = q.get('code_challenge');
  const method = q.get('code_challenge_method');
  // Each requires the other, S256 only, a 43-character challenge (documented); the error itself is our choice.
  if (
    (challenge !== null || method !== null) &&
    (challenge === null || method !== 'S256' || !PKCE_CHALLENGE.test(challenge))
  ) {
    return redirect(
      withParams(redirectUri, {
        error: 'invalid_request',
        error_description: 'code_challenge must be a 43-character S256 challenge and code_challenge_method S256',
        state,
      }),
    );
  }
  const scopeParam = q.get('scope');
  const tx = deps.tokens.startTx({
    redirectUri,
    state,
    scopes: config.mode === 'oauth-app' ? normaliseScopes(scopeParam ?? '') : [],
    scopeGiven: scopeParam !== null,
    codeChallenge: challenge,
    login: q.get('login'),
  });
  return html(200, signInPage({ tx: tx.id, ...(tx.login ? { username: tx.login } : {}) }));
}

function finish(tx: SignInTx, login: string, deps: OAuthDeps): Reply {
  const scopes = deps.tokens.scopesFor(login, tx);
  deps.tokens.authorize(login, scopes);
  const code = deps.tokens.issueCode(tx, login, scopes);
  return redirect(withParams(tx.redirectUri, { code, state: tx.state }));
}

const expired = (): Reply =>
  html(400, errorPage('Sign-in expired', 'This sign-in is unknown or has expired. Start again from the application.'));

/** POST /login/oauth/authorize/signin (a sandbox path): the password, then the Authorize page unless already authorized. */
export function signIn(req: GhRequest, deps: OAuthDeps): Reply {
  const form = new URLSearchParams(req.body);
  const tx = deps.tokens.liveTx(form.get('tx') ?? '');
  if (!tx) return expired();
  const username = (form.get('username') ?? '').trim();
  const password = form.get('password') ?? '';
  const user = [...deps.users().values()].find((u) => u.login === username || u.email === username);
  if (!user || !safeEqual(password, user.password)) {
    return html(200, signInPage({ tx: tx.id, username, error: 'Incorrect username or password.' }));
  }
  tx.user = user.login;
  // GitHub skips the Authorize page for a user who already authorized these scopes (docs/github-api.md §2.1).
  if (deps.config.autoApprove || deps.tokens.covers(user.login, tx)) return finish(tx, user.login, deps);
  return html(
    200,
    authorizePage({
      tx: tx.id,
      appName: deps.config.appName,
      login: user.login,
      name: user.name,
      redirectUri: tx.redirectUri,
      scopes: deps.config.mode === 'oauth-app' ? tx.scopes : undefined,
    }),
  );
}

/** POST /login/oauth/authorize/decision (a sandbox path): Authorize issues a code, Cancel sends access_denied. */
export function decision(req: GhRequest, deps: OAuthDeps): Reply {
  const form = new URLSearchParams(req.body);
  const tx = deps.tokens.liveTx(form.get('tx') ?? '');
  if (!tx || tx.user === undefined) return expired();
  if (form.get('decision') !== 'allow') {
    deps.tokens.txs.delete(tx.id);
    return redirect(
      withParams(tx.redirectUri, {
        error: 'access_denied',
        error_description: 'The user has denied your application access.',
        error_uri: `${AUTHORIZE_ERRORS}#access-denied`,
        state: tx.state,
      }),
    );
  }
  return finish(tx, tx.user, deps);
}

/** The answer in the format `Accept` asks for: JSON, XML, or (default) form-encoded. */
function tokenReply(req: GhRequest, body: Readonly<Record<string, string | number>>): Reply {
  const accept = (req.headers.accept ?? '').toLowerCase();
  const headers = { 'cache-control': 'no-store' };
  if (accept.includes('application/json')) return json(200, body, headers);
  const entries = Object.entries(body).map(([k, v]): [string, string] => [k, String(v)]);
  if (accept.includes('application/xml')) {
    const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    const xml = `<OAuth>${entries.map(([k, v]) => `<${k}>${esc(v)}</${k}>`).join('')}</OAuth>`;
    return { status: 200, headers: { 'content-type': 'application/xml; charset=utf-8', ...headers }, body: xml };
  }
  return {
    status: 200,
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', ...headers },
    body: new URLSearchParams(entries).toString(),
  };
}

/** GitHub's token errors: HTTP 200 with error, error_description and error_uri. */
function tokenError(req: GhRequest, error: string, description: string, anchor: string): Reply {
  return tokenReply(req, { error, error_description: description, error_uri: `${TOKEN_ERRORS}#${anchor}` });
}

/** POST /login/oauth/access_token */
export function accessToken(req: GhRequest, deps: OAuthDeps): Reply {
  const p = params(req);
  const grantType = p.get('grant_type') ?? 'authorization_code';
  deps.countGrant(grantType);
  const { config, tokens } = deps;
  const secret = p.get('client_secret');
  if (p.get('client_id') !== config.clientId || secret === undefined || !safeEqual(secret, config.clientSecret)) {
    return tokenError(
      req,
      'incorrect_client_credentials',
      'The client_id and/or client_secret passed are incorrect.',
      'incorrect-client-credentials',
    );
  }
  if (grantType === 'refresh_token') {
    const issued = tokens.refreshWith(p.get('refresh_token') ?? '');
    if (!issued)
      return tokenError(
        req,
        'bad_refresh_token',
        'The refresh token passed is incorrect or expired.',
        'bad-refresh-token',
      );
    return tokenReply(req, { ...issued });
  }
  if (grantType !== 'authorization_code') {
    return tokenError(req, 'unsupported_grant_type', 'The grant type is not supported.', 'unsupported-grant-type');
  }
  const badCode = () =>
    tokenError(req, 'bad_verification_code', 'The code passed is incorrect or expired.', 'bad-verification-code');
  const rec = tokens.takeCode(p.get('code') ?? '');
  if (!rec) return badCode();
  const redirectUri = p.get('redirect_uri');
  if (redirectUri !== undefined && redirectUri !== rec.redirectUri) {
    return tokenError(
      req,
      'redirect_uri_mismatch',
      'The redirect_uri MUST match the registered callback URL for this application.',
      'redirect-uri-mismatch2',
    );
  }
  if (rec.codeChallenge !== null) {
    const verifier = p.get('code_verifier');
    if (
      verifier === undefined ||
      !PKCE_VERIFIER.test(verifier) ||
      !safeEqual(createHash('sha256').update(verifier).digest('base64url'), rec.codeChallenge)
    )
      return badCode();
  }
  return tokenReply(req, { ...tokens.issue(rec.login, rec.scopes) });
}
