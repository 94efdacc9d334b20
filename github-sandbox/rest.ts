/**
 * The REST API on the API origin (docs/github-api.md §3): authentication,
 * API-version and User-Agent checks, primary rate limits with their headers on
 * every answer, and the few endpoints the product calls, with GitHub's error
 * bodies (`message`, `documentation_url`, `status`; `errors[]` on 422).
 * @module
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { json, noContent, segments, type GhRequest, type Reply } from './http.js';
import { ANONYMOUS, type RateLimits } from './ratelimit.js';
import { kindOf, matches, namedScopes, parseQuery, textLength } from './search.js';
import {
  authenticatedUser,
  commit as commitJson,
  pullRequest,
  repository,
  searchItem,
  type Origins,
} from './serialize.js';
import type { CommitRec, RepoRec, World } from './seed.js';
import type { AccessRec, TokenState } from './tokens.js';
import type { GitHubRateResource, GitHubTokenMode } from './types.js';

export interface ApiConfig {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly mode: GitHubTokenMode;
  readonly apiVersions: readonly string[];
  readonly primaryLimitStatus: 403 | 429;
}

export interface ApiDeps {
  readonly config: ApiConfig;
  readonly world: () => World;
  readonly tokens: TokenState;
  readonly limits: RateLimits;
  readonly origins: () => Origins;
}

export interface ApiOutcome {
  readonly reply: Reply;
  /** The user the request authenticated as. */
  readonly user?: string;
}

const DOCS = 'https://docs.github.com/rest';
export const DOC_URLS = {
  rest: DOCS,
  user: `${DOCS}/users/users#get-the-authenticated-user`,
  repo: `${DOCS}/repos/repos#get-a-repository`,
  pull: `${DOCS}/pulls/pulls#get-a-pull-request`,
  commit: `${DOCS}/commits/commits#get-a-commit`,
  search: `${DOCS}/search/search#search-issues-and-pull-requests`,
  rateLimits: `${DOCS}/overview/rate-limits-for-the-rest-api`,
  secondary:
    'https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
  apps: `${DOCS}/apps/oauth-applications`,
} as const;

/** GitHub's error body: message, documentation_url and (lately) the status as a string. */
export function githubError(status: number, message: string, doc: string, extra: Record<string, unknown> = {}): Reply {
  return json(status, { message, ...extra, documentation_url: doc, status: String(status) });
}

const validationFailed = (errors: readonly Record<string, string>[], doc: string): Reply =>
  githubError(422, 'Validation Failed', doc, { errors });

export const requestId = (): string =>
  `${randomBytes(2).toString('hex').toUpperCase()}:${randomBytes(3).toString('hex').toUpperCase()}:${randomBytes(4).toString('hex').toUpperCase()}`;

/** The secondary rate limit answer (a fault: the sandbox has no concurrency or points model of its own). */
export function secondaryLimitReply(status: 403 | 429, retryAfterSeconds: number | undefined): Reply {
  const reply = githubError(
    status,
    `You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID ${requestId()}.`,
    DOC_URLS.secondary,
  );
  return retryAfterSeconds === undefined
    ? reply
    : { ...reply, headers: { ...reply.headers, 'retry-after': String(retryAfterSeconds) } };
}

const safeEqual = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

interface Caller {
  readonly login: string;
  readonly access: AccessRec;
}

/** Whether `caller` may read `repo`: public ones anyone; private ones collaborators, and an OAuth App token needs `repo`. */
function canSee(deps: ApiDeps, repo: RepoRec, caller: Caller | undefined): boolean {
  if (!repo.private) return true;
  if (!caller || !repo.collaborators.includes(caller.login)) return false;
  return deps.config.mode === 'github-app' || caller.access.scopes.includes('repo');
}

function findRepo(deps: ApiDeps, owner: string, name: string, caller: Caller | undefined): RepoRec | undefined {
  const full = `${owner}/${name}`.toLowerCase();
  const repo = deps.world().repos.find((r) => r.fullName.toLowerCase() === full);
  return repo && canSee(deps, repo, caller) ? repo : undefined;
}

const notFound = (doc: string = DOCS): Reply => githubError(404, 'Not Found', doc);

/** A commit SHA (or a unique prefix of 7+), a branch, `heads/<branch>` or `refs/heads/<branch>`. */
function resolveRef(repo: RepoRec, ref: string): CommitRec | undefined {
  const branch = ref.replace(/^refs\/heads\/|^heads\//, '');
  const byBranch = repo.branches.get(branch);
  if (byBranch !== undefined) return repo.commits.get(byBranch);
  if (!/^[0-9a-f]{7,40}$/i.test(ref)) return undefined;
  const hits = [...repo.commits.values()].filter((c) => c.sha.startsWith(ref.toLowerCase()));
  return hits.length === 1 ? hits[0] : undefined;
}

interface Route {
  readonly resource: GitHubRateResource | null;
  readonly run: (caller: Caller | undefined) => Reply;
}

function route(req: GhRequest, deps: ApiDeps, parts: readonly string[]): Route | undefined {
  const o = deps.origins();
  const [a, b, c, d, e] = parts;
  const get = req.method === 'GET' || req.method === 'HEAD';
  if (get && parts.length === 1 && a === 'user') {
    return {
      resource: 'core',
      run: (caller) => {
        if (!caller) return githubError(401, 'Requires authentication', DOC_URLS.user);
        const user = deps.world().users.get(caller.login);
        return user ? json(200, authenticatedUser(o, user, deps.world())) : notFound(DOC_URLS.user);
      },
    };
  }
  if (get && parts.length === 1 && a === 'rate_limit') {
    return { resource: null, run: (caller) => json(200, rateLimitBody(deps, caller)) };
  }
  if (get && parts.length === 2 && a === 'search' && b === 'issues') {
    return { resource: 'search', run: (caller) => search(req, deps, caller) };
  }
  if (a === 'repos' && b !== undefined && c !== undefined && get) {
    if (parts.length === 3) {
      return {
        resource: 'core',
        run: (caller) => {
          const repo = findRepo(deps, b, c, caller);
          return repo ? json(200, repository(o, repo, deps.world(), caller?.login)) : notFound(DOC_URLS.repo);
        },
      };
    }
    if (parts.length === 5 && d === 'pulls' && e !== undefined) {
      return {
        resource: 'core',
        run: (caller) => {
          const repo = findRepo(deps, b, c, caller);
          const item = repo && /^\d+$/.test(e) ? repo.items.find((i) => i.number === Number(e)) : undefined;
          if (!repo || item?.kind !== 'pull') return notFound(DOC_URLS.pull);
          return json(200, pullRequest(o, repo, item, deps.world()));
        },
      };
    }
    if (parts.length >= 5 && d === 'commits' && e !== undefined && e !== '') {
      const ref = parts.slice(4).join('/');
      return {
        resource: 'core',
        run: (caller) => {
          const repo = findRepo(deps, b, c, caller);
          if (!repo) return notFound(DOC_URLS.commit);
          const found = resolveRef(repo, ref);
          if (!found) return githubError(422, `No commit found for SHA: ${ref}`, DOC_URLS.commit);
          return json(200, commitJson(o, repo, found, deps.world()));
        },
      };
    }
  }
  if (
    req.method === 'DELETE' &&
    a === 'applications' &&
    b !== undefined &&
    (c === 'grant' || c === 'token') &&
    parts.length === 3
  ) {
    return { resource: null, run: () => deleteAppToken(req, deps, b, c) };
  }
  return undefined;
}

function rateLimitBody(deps: ApiDeps, caller: Caller | undefined): Record<string, unknown> {
  const who = caller?.login ?? ANONYMOUS;
  const core = deps.limits.peek(who, 'core');
  const search = deps.limits.peek(who, 'search');
  return { resources: { core, search }, rate: { ...core, resource: 'core' } };
}

/** DELETE /applications/{client_id}/token|grant: the app (Basic client_id:client_secret) deletes a token or the whole authorization. */
function deleteAppToken(req: GhRequest, deps: ApiDeps, clientId: string, what: 'grant' | 'token'): Reply {
  const auth = req.headers.authorization ?? '';
  const decoded = auth.toLowerCase().startsWith('basic ') ? Buffer.from(auth.slice(6).trim(), 'base64').toString() : '';
  const colon = decoded.indexOf(':');
  const id = colon < 0 ? '' : decoded.slice(0, colon);
  const secret = colon < 0 ? '' : decoded.slice(colon + 1);
  if (clientId !== deps.config.clientId || id !== clientId || !safeEqual(secret, deps.config.clientSecret))
    return notFound(DOC_URLS.apps);
  let token: unknown;
  try {
    token = (JSON.parse(req.body) as { access_token?: unknown }).access_token;
  } catch {
    token = undefined;
  }
  if (typeof token !== 'string')
    return validationFailed([{ resource: 'Token', field: 'access_token', code: 'missing_field' }], DOC_URLS.apps);
  const rec = deps.tokens.accessOf(token);
  if (!rec) return notFound(DOC_URLS.apps);
  if (what === 'grant') deps.tokens.revokeUser(rec.login);
  else deps.tokens.revokeAccess(token);
  return noContent();
}

function search(req: GhRequest, deps: ApiDeps, caller: Caller | undefined): Reply {
  const o = deps.origins();
  const world = deps.world();
  const q = req.query.get('q') ?? '';
  if (!q.trim()) return validationFailed([{ resource: 'Search', field: 'q', code: 'missing' }], DOC_URLS.search);
  const parsed = parseQuery(q);
  const invalid = (message: string) =>
    validationFailed([{ message, resource: 'Search', field: 'q', code: 'invalid' }], DOC_URLS.search);
  if (textLength(parsed) > 256) return invalid('The search is longer than 256 characters.');
  if (parsed.operators.length > 5) return invalid('The search contains more than five AND / OR / NOT operators.');
  if (parsed.operators.some((op) => op !== 'AND')) return invalid('The GitHub sandbox does not implement OR and NOT.');
  if (kindOf(parsed) === undefined)
    return githubError(422, "Query must include 'is:issue' or 'is:pull-request'", DOC_URLS.search);
  const visible = world.repos.filter((r) => canSee(deps, r, caller));
  const named = namedScopes(parsed);
  let candidates = visible;
  if (named.repos.length || named.owners.length) {
    candidates = visible.filter(
      (r) => named.repos.includes(r.fullName.toLowerCase()) || named.owners.includes(r.owner.toLowerCase()),
    );
    const knownOwner = named.owners.some((n) => world.owners.has(n));
    if (candidates.length === 0 && !knownOwner) {
      return invalid(
        'The listed users and repositories cannot be searched either because the resources do not exist or you do not have permission to view them.',
      );
    }
  }
  const perPage = Math.min(100, Math.max(1, Number.parseInt(req.query.get('per_page') ?? '30', 10) || 30));
  const page = Math.max(1, Number.parseInt(req.query.get('page') ?? '1', 10) || 1);
  if ((page - 1) * perPage >= 1000)
    return githubError(422, 'Only the first 1000 search results are available', DOC_URLS.search);
  const sort = req.query.get('sort');
  const asc = req.query.get('order') === 'asc';
  const key = (i: { item: { createdAt: string; updatedAt: string; comments: number } }): number | string =>
    sort === 'created' ? i.item.createdAt : sort === 'comments' ? i.item.comments : i.item.updatedAt;
  const hits = candidates
    .flatMap((repo) => repo.items.filter((item) => matches(parsed, repo, item)).map((item) => ({ repo, item })))
    .sort((x, y) => {
      const [kx, ky] = [key(x), key(y)];
      const c = kx < ky ? -1 : kx > ky ? 1 : y.item.number - x.item.number;
      return asc ? c : -c;
    });
  const shown = hits.slice((page - 1) * perPage, page * perPage);
  const last = Math.max(1, Math.ceil(Math.min(hits.length, 1000) / perPage));
  const link = (p: number) => {
    const u = new URL(`${o.api}/search/issues`);
    for (const [k, v] of req.query) if (k !== 'page') u.searchParams.set(k, v);
    u.searchParams.set('page', String(p));
    return u.toString();
  };
  const rels: string[] = [];
  if (page > 1) rels.push(`<${link(page - 1)}>; rel="prev"`);
  if (page < last) rels.push(`<${link(page + 1)}>; rel="next"`, `<${link(last)}>; rel="last"`);
  if (page > 1) rels.push(`<${link(1)}>; rel="first"`);
  return json(
    200,
    {
      total_count: hits.length,
      incomplete_results: false,
      items: shown.map(({ repo, item }) => searchItem(o, repo, item, world)),
    },
    rels.length ? { link: rels.join(', ') } : {},
  );
}

/** One API request, after faults: version, User-Agent, credentials, route, rate limit, handler, common headers. */
export function handleApi(req: GhRequest, deps: ApiDeps): ApiOutcome {
  const rid = requestId();
  const base: Record<string, string> = {
    'x-github-request-id': rid,
    'x-github-media-type': 'github.v3; format=json',
  };
  const finish = (reply: Reply, extra: Record<string, string> = {}, user?: string): ApiOutcome => ({
    reply: { ...reply, headers: { ...reply.headers, ...base, ...extra } },
    ...(user === undefined ? {} : { user }),
  });
  const version = req.headers['x-github-api-version'];
  if (version !== undefined && !deps.config.apiVersions.includes(version)) {
    return finish(
      githubError(
        400,
        `Unsupported 'X-GitHub-Api-Version' header value: ${version}. Supported versions: ${deps.config.apiVersions.join(', ')}.`,
        `${DOCS}/overview/api-versions`,
      ),
    );
  }
  base['x-github-api-version-selected'] = version ?? deps.config.apiVersions[0] ?? '2022-11-28';
  if (!(req.headers['user-agent'] ?? '').trim()) {
    return finish({
      status: 403,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.\n',
    });
  }
  const parts = segments(req.rawPath);
  const r = parts ? route(req, deps, parts) : undefined;
  const auth = req.headers.authorization ?? '';
  const bearer = /^(?:bearer|token)\s+(\S+)$/i.exec(auth.trim())?.[1];
  let caller: Caller | undefined;
  const isAppEndpoint = parts?.[0] === 'applications';
  if (auth && !isAppEndpoint) {
    const access = bearer === undefined ? undefined : deps.tokens.accessOf(bearer);
    if (!access) {
      const anon = deps.limits.peek(ANONYMOUS, 'core');
      return finish(githubError(401, 'Bad credentials', DOCS), rateHeaders(anon, 'core'));
    }
    caller = { login: access.login, access };
  }
  const scopeHeaders: Record<string, string> =
    caller && deps.config.mode === 'oauth-app'
      ? { 'x-oauth-scopes': caller.access.scopes.join(', '), 'x-accepted-oauth-scopes': '' }
      : {};
  const who = caller?.login ?? ANONYMOUS;
  const resource = r ? r.resource : 'core';
  let limitHeaders: Record<string, string> = {};
  if (resource !== null) {
    const taken = deps.limits.take(who, resource);
    limitHeaders = rateHeaders(taken, resource);
    if (taken.exceeded) {
      const id = caller ? deps.world().users.get(caller.login)?.id : undefined;
      const message =
        id === undefined
          ? `API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.) If you reach out to GitHub Support for help, please include the request ID ${rid}.`
          : `API rate limit exceeded for user ID ${id}. If you reach out to GitHub Support for help, please include the request ID ${rid}.`;
      return finish(
        githubError(deps.config.primaryLimitStatus, message, DOC_URLS.rateLimits),
        { ...limitHeaders, ...scopeHeaders },
        caller?.login,
      );
    }
  }
  const reply = r ? r.run(caller) : notFound();
  return finish(reply, { ...limitHeaders, ...scopeHeaders }, caller?.login);
}

function rateHeaders(s: { limit: number; remaining: number; used: number; reset: number }, resource: string) {
  return {
    'x-ratelimit-limit': String(s.limit),
    'x-ratelimit-remaining': String(s.remaining),
    'x-ratelimit-reset': String(s.reset),
    'x-ratelimit-used': String(s.used),
    'x-ratelimit-resource': resource,
  };
}
