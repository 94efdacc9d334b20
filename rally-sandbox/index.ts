/**
 * Starts the Rally sandbox: a plain node:http server on 127.0.0.1 that speaks
 * Rally's OAuth and WSAPI v2.0 (dev/test only), plus in-process test controls.
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { html, json, redirect, type Reply, type SandboxRequest } from './http.js';
import { typeByPath } from './model.js';
import { authorize, consent, signIn, token, type OAuthDeps } from './oauth.js';
import { jettyPage } from './pages.js';
import { seedStore } from './seed.js';
import { Serializer } from './serialize.js';
import { DEFAULT_PREFIXES, Store, newApiKey } from './store.js';
import { Faults } from './faults.js';
import { UserLimiter } from './limiter.js';
import { TokenState } from './tokens.js';
import type { IssuedTokens, RallySandbox, RallySandboxOptions, RecordedRequest } from './types.js';
import { SecurityTokens, invalidKey } from './security.js';
import { WSAPI_PREFIX, authenticate, routeWsapi, unauthorized } from './wsapi.js';

export type * from './types.js';
export { WSAPI_PREFIX } from './wsapi.js';

/** The public sandbox plus a socket-free entry point (benchmarks, fast tests). */
export interface RallySandboxHandle extends RallySandbox {
  /** Runs one request through the same pipeline as the server; `null` means the connection would be reset. */
  dispatch(request: {
    method: string;
    url: string;
    headers?: Record<string, string>;
    body?: string;
  }): Promise<Reply | null>;
}

interface MutableRecord {
  time: number;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  user?: string;
  status: number;
}

const DAY = 86_400;

export async function startRallySandbox(options: RallySandboxOptions): Promise<RallySandboxHandle> {
  const now = options.now ?? (() => new Date());
  const prefixes = { ...DEFAULT_PREFIXES, ...options.formattedIdPrefixes };
  const apiKeys = new Map<string, string>(); // login → key, stable across reset()
  const keyToLogin = new Map<string, string>();
  const apiKeyFor = (login: string): string => {
    let key = apiKeys.get(login);
    if (key === undefined) {
      key = newApiKey();
      apiKeys.set(login, key);
      keyToLogin.set(key, login);
    }
    return key;
  };
  const build = (): Store => {
    const s = new Store(prefixes);
    seedStore(s, { now: now(), extraUsers: options.extraUsers ?? 0, apiKeyFor });
    return s;
  };
  let store = build();
  const tokens = new TokenState(
    {
      accessTtl: options.accessTokenTtlSeconds ?? DAY,
      refreshTtl: options.refreshTokenTtlSeconds ?? 180 * DAY,
      codeTtl: options.codeTtlSeconds ?? 60,
      rotate: options.rotateRefreshTokens ?? true,
    },
    () => now().getTime(),
  );
  const faults = new Faults();
  const limiter = new UserLimiter(options.maxConcurrentPerUser ?? 12, options.overLimit ?? 'wait');
  let log: MutableRecord[] = [];
  let tokenRequests: Record<string, number> = {};
  const oauth: OAuthDeps = {
    config: {
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      redirectUris: options.redirectUris,
      acceptOpenidScope: options.acceptOpenidScope ?? false,
      pkce: options.pkce ?? 'ignore',
      autoApprove: options.autoApprove ?? false,
    },
    tokens,
    store: () => store,
    countGrant: (g) => void (tokenRequests[g] = (tokenRequests[g] ?? 0) + 1),
  };
  let serializer: Serializer | undefined;
  const securityTokens = new SecurityTokens();

  async function pipeline(req: SandboxRequest, rec: { user?: string }): Promise<Reply | null> {
    const fault = faults.match(req.method, req.path);
    if (fault?.kind === 'reset') return null;
    if (fault?.kind === 'redirect') return redirect(fault.location);
    if (fault?.kind === 'status') {
      const body = fault.body ?? jettyPage(fault.status, 'Injected fault', req.path);
      const type =
        fault.contentType ?? (body.trimStart().startsWith('<') ? 'text/html; charset=utf-8' : 'application/json');
      return { status: fault.status, headers: { 'content-type': type }, body };
    }
    const latency = fault?.kind === 'latency' ? fault.ms : 0;
    const epoch = faults.epoch;
    if (req.path === WSAPI_PREFIX || req.path.startsWith(`${WSAPI_PREFIX}/`)) {
      const auth = authenticate(req, store, tokens, keyToLogin, options.acceptBearer ?? false);
      if (!auth) {
        if (latency > 0) await faults.sleep(latency, epoch);
        return unauthorized(req.path);
      }
      const { account } = auth;
      rec.user = account.login;
      const slot = limiter.acquire(account.login);
      if (!(slot === true || (await slot))) {
        return json(
          429,
          {
            OperationResult: {
              _rallyAPIMajor: '2',
              _rallyAPIMinor: '0',
              Errors: ['Too many concurrent requests for this user'],
              Warnings: [],
            },
          },
          { 'retry-after': '1' },
        );
      }
      try {
        if (latency > 0) await faults.sleep(latency, epoch);
        const sub = req.path.slice(WSAPI_PREFIX.length);
        if (req.method === 'GET' && sub.toLowerCase() === '/security/authorize') {
          const token = securityTokens.issue(account.login);
          return json(200, {
            OperationResult: {
              _rallyAPIMajor: '2',
              _rallyAPIMinor: '0',
              Errors: [],
              Warnings: [],
              SecurityToken: token,
            },
          });
        }
        if (auth.basic && req.method !== 'GET' && !securityTokens.valid(req.query.get('key'), account.login))
          return invalidKey(sub);
        const ctx = { store, serializer: serializer as Serializer, now: now(), account, path: req.path };
        return routeWsapi(req, sub, ctx);
      } finally {
        limiter.release(account.login);
      }
    }
    if (latency > 0) await faults.sleep(latency, epoch);
    return routeOther(req);
  }

  function routeOther(req: SandboxRequest): Reply {
    const { method, path } = req;
    if (path === '/login/oauth2/auth' && method === 'GET') return authorize(req, oauth);
    if (path === '/login/oauth2/auth/signin' && method === 'POST') return signIn(req, oauth);
    if (path === '/login/oauth2/auth/consent' && method === 'POST') return consent(req, oauth);
    if (path === '/login/oauth2/token') {
      if (method === 'POST') return token(req, oauth);
      return json(
        405,
        { error: 'invalid_request', error_description: 'Use POST', client_id: null, client_secret: null },
        { allow: 'POST' },
      );
    }
    return html(404, jettyPage(404, 'Not Found', path));
  }

  function toRequest(method: string, url: string, headers: Record<string, string>, body: string): SandboxRequest {
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    let path = rawPath;
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      // keep the raw path; routing will 404 it
    }
    return {
      method: method.toUpperCase(),
      path,
      query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)),
      headers,
      body,
    };
  }

  async function run(
    method: string,
    url: string,
    headers: Record<string, string>,
    body: string,
  ): Promise<{ reply: Reply | null; rec: MutableRecord }> {
    const rec: MutableRecord = { time: Date.now(), method, url, headers, body, status: 0 };
    log.push(rec);
    let reply: Reply | null;
    try {
      reply = await pipeline(toRequest(method, url, headers, body), rec);
    } catch (err) {
      reply = json(500, {
        OperationResult: {
          _rallyAPIMajor: '2',
          _rallyAPIMinor: '0',
          Errors: [`Sandbox error: ${(err as Error).message}`],
          Warnings: [],
        },
      });
    }
    rec.status = reply?.status ?? 0;
    return { reply, rec };
  }

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers))
        if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      void run(req.method ?? 'GET', req.url ?? '/', headers, Buffer.concat(chunks).toString('utf8')).then(
        ({ reply }) => {
          if (reply === null) {
            req.socket.destroy();
            return;
          }
          res.writeHead(reply.status, { ...reply.headers, 'content-length': String(Buffer.byteLength(reply.body)) });
          res.end(reply.body);
        },
      );
    });
  }

  const server = createServer(onRequest);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const makeSerializer = () => new Serializer(store, `${url}${WSAPI_PREFIX}`, now);
  serializer = makeSerializer();

  const loginOf = (username: string): string => {
    const login = username.includes('@') ? (username.split('@')[0] ?? username) : username;
    if (!store.accounts.has(login)) throw new Error(`Unknown sandbox user "${username}"`);
    return login;
  };

  return {
    url,
    port,
    async stop() {
      faults.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    reset() {
      store = build();
      serializer = makeSerializer();
      tokens.clear();
      securityTokens.clear();
      faults.clear();
      log = [];
      tokenRequests = {};
      limiter.resetStats();
    },
    requests: () => log.map((r): RecordedRequest => ({ ...r, headers: { ...r.headers } })),
    clearRequests() {
      log = [];
    },
    injectFault: (rule) => faults.add(rule),
    clearFaults: () => faults.clear(),
    issueTokens(username): IssuedTokens {
      const grant = tokens.newGrant(loginOf(username), options.clientId);
      return tokens.issue(grant);
    },
    expireAccessTokens: (username) => tokens.expireAccess(username === undefined ? undefined : loginOf(username)),
    revokeGrants: (username) => tokens.revoke(loginOf(username)),
    apiKey: (username) => apiKeyFor(loginOf(username)),
    stats() {
      const snap = limiter.snapshot();
      return {
        tokenRequests: { ...tokenRequests },
        maxConcurrent: snap.maxConcurrent,
        inFlight: snap.inFlight,
        queued: snap.queued,
      };
    },
    items(type) {
      const def = typeByPath(type);
      if (!def) throw new Error(`Unknown Rally type "${type}"`);
      return [...store.all(def.key)].map(
        (o) => JSON.parse(JSON.stringify({ ...o.values, _type: def.name })) as Record<string, unknown>,
      );
    },
    async dispatch(r) {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = v;
      return (await run(r.method, r.url, headers, r.body ?? '')).reply;
    },
  };
}
