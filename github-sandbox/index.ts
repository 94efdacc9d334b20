/**
 * Starts the GitHub sandbox: two plain node:http servers on 127.0.0.1, the web
 * origin (github.com: OAuth pages and token endpoint, html_url pages, the
 * sandbox's /_sandbox controls) and the API origin (api.github.com: REST), plus
 * in-process test controls. Dev/test only. docs/github-api.md says what it copies.
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GitHubFaults } from './faults.js';
import { html, json, noContent, redirect, segments, type GhRequest, type Reply } from './http.js';
import { accessToken, authorize, decision, signIn, type OAuthDeps } from './oauth.js';
import { itemPage, notFoundPage } from './pages.js';
import { RateLimits } from './ratelimit.js';
import { githubError, handleApi, secondaryLimitReply } from './rest.js';
import { seedWorld, type World } from './seed.js';
import type { Origins } from './serialize.js';
import { TokenState } from './tokens.js';
import type {
  GitHubRecordedRequest,
  GitHubSandbox,
  GitHubSandboxOptions,
  GitHubSandboxServer,
  GitHubRateResource,
} from './types.js';

export type * from './types.js';
export { SEED, SEED_USERS, HOSTILE_PR_BODY } from './seed.js';

/** The sandbox plus a socket-free entry point. */
export interface GitHubSandboxHandle extends GitHubSandbox {
  /** Runs one request through the same pipeline as the server; `null` means the connection would be reset. */
  dispatch(request: {
    server: GitHubSandboxServer;
    method: string;
    url: string;
    headers?: Record<string, string>;
    body?: string;
  }): Promise<Reply | null>;
}

interface MutableRecord {
  time: number;
  server: GitHubSandboxServer;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  user?: string;
  status: number;
}

export const GITHUB_API_VERSION = '2022-11-28';

async function listen(server: Server, port: number): Promise<number> {
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

export async function startGitHubSandbox(options: GitHubSandboxOptions): Promise<GitHubSandboxHandle> {
  if (options.callbackUrls.length === 0) throw new Error('startGitHubSandbox: at least one callback URL');
  const now = options.now ?? (() => new Date());
  const mode = options.tokenMode ?? 'oauth-app';
  let world: World = seedWorld(now(), options.extraUsers ?? 0);
  const tokens = new TokenState(
    {
      mode,
      accessTtl: options.accessTokenTtlSeconds ?? 28_800,
      refreshTtl: options.refreshTokenTtlSeconds ?? 15_897_600,
      codeTtl: options.codeTtlSeconds ?? 600,
    },
    () => now().getTime(),
  );
  const limits = new RateLimits({ core: options.coreLimit ?? 5000, search: options.searchLimit ?? 30 }, () =>
    now().getTime(),
  );
  const faults = new GitHubFaults();
  let log: MutableRecord[] = [];
  let tokenRequests: Record<string, number> = {};
  let origins: Origins = { api: '', web: '' };
  const oauth: OAuthDeps = {
    config: {
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      callbackUrls: options.callbackUrls,
      mode,
      appName: options.appName ?? 'Rally MCP (sandbox)',
      autoApprove: options.autoApprove ?? false,
    },
    tokens,
    users: () => world.users,
    countGrant: (g) => void (tokenRequests[g] = (tokenRequests[g] ?? 0) + 1),
  };
  const apiDeps = {
    config: {
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      mode,
      apiVersions: options.apiVersions ?? [GITHUB_API_VERSION],
      primaryLimitStatus: options.primaryLimitStatus ?? 403,
    },
    world: () => world,
    tokens,
    limits,
    origins: () => origins,
  } as const;

  const loginOf = (login: string): string => {
    if (!world.users.has(login)) throw new Error(`Unknown GitHub sandbox user "${login}"`);
    return login;
  };

  const controls = {
    reset() {
      world = seedWorld(now(), options.extraUsers ?? 0);
      tokens.clear();
      limits.clear();
      faults.clear();
      log = [];
      tokenRequests = {};
    },
    revokeAuthorization: (login: string) => tokens.revokeUser(loginOf(login)),
    expireAccessTokens: (login?: string) => tokens.expireAccess(login === undefined ? undefined : loginOf(login)),
    exhaustRateLimit: (login: string, resource: GitHubRateResource) => limits.exhaust(loginOf(login), resource),
  };

  /** POST /_sandbox/…: the controls over HTTP, for a developer poking at `npm start` (loopback only, like the rest). */
  function sandboxControl(req: GhRequest, parts: readonly string[]): Reply {
    if (req.method !== 'POST') return json(405, { message: 'Use POST' }, { allow: 'POST' });
    const [, what, login, action, resource] = parts;
    try {
      if (what === 'reset' && parts.length === 2) controls.reset();
      else if (what === 'users' && login !== undefined && action === 'revoke' && parts.length === 4)
        controls.revokeAuthorization(login);
      else if (what === 'users' && login !== undefined && action === 'expire-tokens' && parts.length === 4)
        controls.expireAccessTokens(login);
      else if (
        what === 'users' &&
        login !== undefined &&
        action === 'exhaust-rate-limit' &&
        (resource === 'core' || resource === 'search')
      )
        controls.exhaustRateLimit(login, resource);
      else return json(404, { message: 'Unknown sandbox control' });
    } catch (err) {
      return json(404, { message: (err as Error).message });
    }
    return noContent();
  }

  /** The pages behind html_url links of public repositories (the web origin has no session for private ones). */
  function webPage(parts: readonly string[]): Reply {
    const [owner, name, kind, id] = parts;
    const repo = world.repos.find((r) => !r.private && r.owner === owner && r.name === name);
    if (!repo || parts.length !== 4 || id === undefined) return html(404, notFoundPage());
    if (kind === 'pull' || kind === 'issues') {
      const item = repo.items.find((i) => String(i.number) === id);
      if (!item) return html(404, notFoundPage());
      if ((kind === 'pull') !== (item.kind === 'pull'))
        return redirect(`${origins.web}/${repo.fullName}/${item.kind === 'pull' ? 'pull' : 'issues'}/${id}`, 301);
      return html(200, itemPage(`${repo.fullName} #${id}`, item.title, item.body));
    }
    if (kind === 'commit') {
      const c = repo.commits.get(id);
      return c
        ? html(200, itemPage(`${repo.fullName} @ ${c.sha.slice(0, 7)}`, c.message.split('\n')[0] ?? '', c.message))
        : html(404, notFoundPage());
    }
    return html(404, notFoundPage());
  }

  function routeWeb(req: GhRequest): Reply {
    const { method, rawPath } = req;
    if (rawPath === '/login/oauth/authorize' && method === 'GET') return authorize(req, oauth);
    if (rawPath === '/login/oauth/authorize/signin' && method === 'POST') return signIn(req, oauth);
    if (rawPath === '/login/oauth/authorize/decision' && method === 'POST') return decision(req, oauth);
    if (rawPath === '/login/oauth/access_token') {
      if (method === 'POST') return accessToken(req, oauth);
      return html(404, notFoundPage());
    }
    const parts = segments(rawPath);
    if (!parts) return html(400, notFoundPage());
    if (parts[0] === '_sandbox') return sandboxControl(req, parts);
    if (method === 'GET') return webPage(parts);
    return html(404, notFoundPage());
  }

  async function pipeline(server: GitHubSandboxServer, req: GhRequest, rec: { user?: string }): Promise<Reply | null> {
    const fault = faults.matchAt(server, req.method, req.rawPath);
    if (fault?.kind === 'reset') return null;
    if (fault?.kind === 'redirect') return redirect(fault.location);
    if (fault?.kind === 'status') {
      const body = fault.body ?? (server === 'api' ? JSON.stringify({ message: 'Server Error' }) : notFoundPage());
      const type =
        fault.contentType ??
        (body.trimStart().startsWith('<') ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8');
      return { status: fault.status, headers: { 'content-type': type, ...fault.headers }, body };
    }
    if (fault?.kind === 'secondary-rate-limit')
      return secondaryLimitReply(fault.status ?? 403, fault.retryAfterSeconds);
    if (fault?.kind === 'latency') await faults.sleep(fault.ms, faults.epoch);
    if (server === 'web') return routeWeb(req);
    const out = handleApi(req, apiDeps);
    if (out.user !== undefined) rec.user = out.user;
    return out.reply;
  }

  async function run(
    server: GitHubSandboxServer,
    method: string,
    url: string,
    headers: Record<string, string>,
    body: string,
  ): Promise<Reply | null> {
    const rec: MutableRecord = { time: now().getTime(), server, method, url, headers, body, status: 0 };
    log.push(rec);
    const q = url.indexOf('?');
    const req: GhRequest = {
      method: method.toUpperCase(),
      rawPath: q < 0 ? url : url.slice(0, q),
      query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)),
      headers,
      body,
    };
    let reply: Reply | null;
    try {
      reply = await pipeline(server, req, rec);
    } catch {
      reply = githubError(500, 'Server Error', 'https://docs.github.com/rest');
    }
    if (reply && req.method === 'HEAD') reply = { ...reply, body: '' };
    rec.status = reply?.status ?? 0;
    return reply;
  }

  const handler =
    (server: GitHubSandboxServer) =>
    (req: IncomingMessage, res: ServerResponse): void => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers))
          if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        void run(server, req.method ?? 'GET', req.url ?? '/', headers, Buffer.concat(chunks).toString('utf8')).then(
          (reply) => {
            if (reply === null) {
              req.socket.destroy();
              return;
            }
            res.writeHead(reply.status, { ...reply.headers, 'content-length': String(Buffer.byteLength(reply.body)) });
            res.end(reply.body);
          },
        );
      });
    };

  const web = createServer(handler('web'));
  const api = createServer(handler('api'));
  const webPort = await listen(web, options.webPort ?? 0);
  let apiPort: number;
  try {
    apiPort = await listen(api, options.apiPort ?? 0);
  } catch (err) {
    web.close();
    throw err;
  }
  const webUrl = `http://127.0.0.1:${webPort}`;
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  origins = { web: webUrl, api: apiUrl };

  const close = (s: Server) =>
    new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });

  return {
    webUrl,
    apiUrl,
    webPort,
    apiPort,
    clientId: options.clientId,
    tokenMode: mode,
    async stop() {
      faults.clear();
      await Promise.all([close(web), close(api)]);
    },
    reset: controls.reset,
    requests: () => log.map((r): GitHubRecordedRequest => ({ ...r, headers: { ...r.headers } })),
    clearRequests() {
      log = [];
    },
    injectFault: (rule) => faults.add(rule),
    clearFaults: () => faults.clear(),
    issueTokens(login, scopes = ['repo', 'read:user']) {
      const user = loginOf(login);
      const granted = mode === 'oauth-app' ? [...scopes] : [];
      tokens.authorize(user, granted);
      return tokens.issue(user, granted);
    },
    revokeAuthorization: controls.revokeAuthorization,
    revokeToken: (token) => void tokens.revokeAccess(token),
    expireAccessTokens: controls.expireAccessTokens,
    exhaustRateLimit: controls.exhaustRateLimit,
    rateLimit: (login, resource) => limits.peek(loginOf(login), resource),
    stats: () => ({ tokenRequests: { ...tokenRequests } }),
    async dispatch(r) {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = v;
      return run(r.server, r.method, r.url, headers, r.body ?? '');
    },
  };
}
