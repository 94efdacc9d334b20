/**
 * WSAPI v2.0 entry: ZSESSIONID authentication (header in any case, cookie,
 * optional Bearer) and routing of `/slm/webservice/v2.0/...` paths.
 * @module
 */
import { cookie, html, type Reply, type SandboxRequest } from './http.js';
import { typeByPath } from './model.js';
import { jettyPage } from './pages.js';
import type { Account, Store } from './store.js';
import type { TokenState } from './tokens.js';
import { operationResult, queryError, type WsapiContext } from './wsapi-common.js';
import { collection, currentUser, query, read, subscription } from './wsapi-read.js';
import { create, editCollection, remove, update } from './wsapi-write.js';

export const WSAPI_PREFIX = '/slm/webservice/v2.0';

/** The credential a request presents: ZSESSIONID header (Node lower-cases names), cookie, or Bearer when enabled. */
export function presentedToken(req: SandboxRequest, acceptBearer: boolean): string | undefined {
  const header = req.headers.zsessionid ?? cookie(req.headers.cookie, 'zsessionid');
  if (header) return header.trim();
  const auth = req.headers.authorization;
  if (acceptBearer && auth && /^bearer\s+/i.test(auth)) return auth.replace(/^bearer\s+/i, '').trim();
  return undefined;
}

/** How a request authenticated: Basic (user name and password) needs the security token on writes (§2.11). */
export interface Authenticated {
  readonly account: Account;
  readonly basic: boolean;
}

/** `Authorization: Basic` with a sign-in name or e-mail and its password (rally-node's user/password mode). */
function basicAccount(req: SandboxRequest, store: Store): Account | undefined {
  const m = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const user = decoded.slice(0, colon);
  const login = user.includes('@') ? user.slice(0, user.indexOf('@')) : user;
  const account = store.accounts.get(login);
  return account && account.password === decoded.slice(colon + 1) ? account : undefined;
}

/** Resolves an API key (`_…`), a live access token, or Basic credentials to its account. */
export function authenticate(
  req: SandboxRequest,
  store: Store,
  tokens: TokenState,
  apiKeys: ReadonlyMap<string, string>,
  acceptBearer: boolean,
): Authenticated | undefined {
  const token = presentedToken(req, acceptBearer);
  if (!token) {
    const account = basicAccount(req, store);
    return account ? { account, basic: true } : undefined;
  }
  const login = token.startsWith('_') ? apiKeys.get(token) : tokens.accessLogin(token);
  const account = login === undefined ? undefined : store.accounts.get(login);
  return account ? { account, basic: false } : undefined;
}

/**
 * Rally's Jetty 401 page (toolkit): HTML, not JSON, with a Basic challenge. rally-node's
 * user/password mode (request's `sendImmediately: false`) only sends credentials after it.
 */
export function unauthorized(path: string): Reply {
  return html(401, jettyPage(401, 'Full authentication is required to access this resource', path), {
    'www-authenticate': 'Basic realm="Rally ALM"',
  });
}

/** Routes an authenticated WSAPI request. `sub` is the path after the version prefix. */
export function routeWsapi(req: SandboxRequest, sub: string, ctx: WsapiContext): Reply {
  const segments = sub.split('/').filter(Boolean);
  // Portfolio levels are two segments (`portfolioitem/feature`, rally-api.md §3.9).
  if (segments[0]?.toLowerCase() === 'portfolioitem' && segments[1] !== undefined && !/^\d+$/.test(segments[1]))
    segments.splice(0, 2, `${segments[0]}/${segments[1]}`);
  const [typeSeg, ...rest] = segments;
  const method = req.method;
  if (typeSeg === undefined) return operationResult(['Requested type name "" is unknown.']);
  const lower = typeSeg.toLowerCase();
  if (method === 'GET' && rest.length === 0 && lower === 'user' && !req.query.has('query'))
    return currentUser(req, ctx);
  if (method === 'GET' && rest.length === 0 && lower === 'subscription') return subscription(req, ctx);
  const type = typeByPath(typeSeg);
  if (!type) {
    const msg = `Requested type name "${typeSeg}" is unknown.`;
    return method === 'GET' && rest.length === 0 ? queryError(msg) : operationResult([msg]);
  }
  const [first, second, ...more] = rest;
  if (first === undefined) {
    if (method === 'GET') return query(type, req, ctx);
    return operationResult([`Cannot ${method} to a type URL; use /${type.key}/create`]);
  }
  if (first.toLowerCase() === 'create' && second === undefined && (method === 'POST' || method === 'PUT'))
    return create(type, req, ctx);
  if (!/^\d{1,15}$/.test(first)) return operationResult([`Invalid ObjectID "${first}"`]);
  const oid = Number(first);
  if (second === undefined) {
    if (method === 'GET') return read(type, oid, req, ctx);
    if (method === 'POST' || method === 'PUT') return update(type, oid, req, ctx);
    if (method === 'DELETE') return remove(type, oid, ctx);
  } else if (more.length === 0 && method === 'GET') {
    return collection(type, oid, second, req, ctx);
  } else if (more.length === 1 && method === 'POST' && /^(add|remove)$/i.test(more[0] ?? '')) {
    return editCollection(type, oid, second, (more[0] ?? '').toLowerCase() === 'add', req, ctx);
  }
  return html(405, jettyPage(405, 'Method Not Allowed', ctx.path));
}
