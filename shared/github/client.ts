/**
 * GitHub REST transport (docs/github-api.md §3): GET requests to the configured
 * API base URL with `Authorization: Bearer`, GitHub's media type, a pinned API
 * version and our User-Agent; one refresh after a 401 through the token port;
 * bounded retries for 5xx and network failures; responses decided by status
 * first, then validated with zod. Rate limits become an error carrying when to
 * try again. GitHub text is passed on as data, never interpreted.
 * @module
 */
import type { z } from 'zod';
import type { Clock } from '../kernel/clock.js';
import type { FetchLike } from '../kernel/fetch.js';
import type { Logger } from '../logging/logger.js';
import { SERVER_INFO } from '../kernel/version.js';
import { cleanLine, MAX_MESSAGE_CHARS } from '../sanitize/text.js';
import { GitHubApiError, GitHubRateLimitedError, type GitHubValidationDetail } from './errors.js';
import type { GitHubTokenProvider } from './ports.js';

/** The REST API version we are written against (sent as X-GitHub-Api-Version). */
export const GITHUB_API_VERSION = '2022-11-28';
export const GITHUB_MEDIA_TYPE = 'application/vnd.github+json';
/** GitHub: "wait for at least one minute before retrying" when a secondary limit gives no time. */
const DEFAULT_RETRY_AFTER_SECONDS = 60;
const SLOW_GITHUB_MS = 2000;
const MAX_DETAILS = 5;

export interface GitHubClientOptions {
  /** From configuration only: https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server. */
  readonly apiBaseUrl: string;
  readonly fetch: FetchLike;
  readonly tokens: GitHubTokenProvider;
  readonly timeoutMs: number;
  /**
   * GitHub refuses requests without a User-Agent. Default `rally-mcp/<version>` (shared/kernel/version.ts);
   * the app may add its public URL as it does for Rally: `rally-mcp/0.1.0 (+https://…)`.
   */
  readonly userAgent?: string;
  readonly clock: Clock;
  readonly log: Logger;
  /** Attempts in total for 5xx and network failures (default 3) and the full-jitter base delay (default 200 ms). */
  readonly retry?: { readonly attempts: number; readonly baseDelayMs: number };
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The primary rate limit as GitHub last reported it for one resource. */
export interface GitHubRateLimit {
  readonly resource: string;
  readonly limit: number;
  readonly remaining: number;
  readonly used: number;
  readonly resetAt: Date;
}

export interface GitHubResponse<T> {
  readonly data: T;
  /** Page numbers from the `Link` header (its URLs are never followed: only the number is kept). */
  readonly nextPage: number | undefined;
  readonly lastPage: number | undefined;
  readonly rateLimit: GitHubRateLimit | undefined;
}

export interface GitHubGet {
  /** Path segments, each percent-encoded on its own (a `/` inside a segment becomes %2F, as GitHub asks). */
  readonly path: readonly string[];
  readonly query?: Readonly<Record<string, string>>;
  /** A template for logs, e.g. '/repos/{owner}/{repo}/pulls/{number}' (never the values). */
  readonly route: string;
}

export interface GitHubClient {
  get<S extends z.ZodType>(request: GitHubGet, schema: S): Promise<GitHubResponse<z.output<S>>>;
  /** The last rate-limit state GitHub reported for `resource` (core, search, …) to this client. */
  lastRateLimit(resource: string): GitHubRateLimit | undefined;
}

const sleepReal = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const intHeader = (h: Headers, name: string): number | undefined => {
  const v = h.get(name);
  return v !== null && /^\d{1,12}$/.test(v.trim()) ? Number(v.trim()) : undefined;
};

export function parseRateLimit(h: Headers): GitHubRateLimit | undefined {
  const limit = intHeader(h, 'x-ratelimit-limit');
  const remaining = intHeader(h, 'x-ratelimit-remaining');
  const reset = intHeader(h, 'x-ratelimit-reset');
  if (limit === undefined || remaining === undefined || reset === undefined) return undefined;
  const resource = h.get('x-ratelimit-resource') ?? 'core';
  return {
    resource: /^[a-z_]{1,40}$/.test(resource) ? resource : 'core',
    limit,
    remaining,
    used: intHeader(h, 'x-ratelimit-used') ?? Math.max(0, limit - remaining),
    resetAt: new Date(reset * 1000),
  };
}

/** Page numbers of the `next` and `last` links; a link to any other place or without a page number is ignored. */
export function parseLinkPages(link: string | null, apiRoot: string): { next?: number; last?: number } {
  const out: { next?: number; last?: number } = {};
  if (!link) return out;
  const root = new URL(apiRoot);
  const rootPath = root.pathname.replace(/\/+$/, '');
  for (const part of link.split(',')) {
    const m = /^\s*<([^>]*)>\s*;\s*rel="([a-z ]+)"\s*$/.exec(part);
    if (!m?.[1] || !m[2]) continue;
    let url: URL;
    try {
      url = new URL(m[1]);
    } catch {
      continue;
    }
    if (url.origin !== root.origin || !url.pathname.startsWith(`${rootPath}/`)) continue;
    const page = url.searchParams.get('page');
    if (page === null || !/^\d{1,6}$/.test(page)) continue;
    for (const rel of m[2].split(' ')) if (rel === 'next' || rel === 'last') out[rel] = Number(page);
  }
  return out;
}

const cleanMessage = (m: unknown): string | undefined =>
  typeof m === 'string' && m.trim() ? cleanLine(m, MAX_MESSAGE_CHARS) : undefined;

function details(body: unknown): GitHubValidationDetail[] {
  const errors = (body as { errors?: unknown } | undefined)?.errors;
  if (!Array.isArray(errors)) return [];
  return errors.slice(0, MAX_DETAILS).flatMap((e: unknown): GitHubValidationDetail[] => {
    if (!e || typeof e !== 'object') return [];
    const r = e as Record<string, unknown>;
    const label = (v: unknown) => (typeof v === 'string' && /^[A-Za-z_]{1,40}$/.test(v) ? v : undefined);
    const d = {
      ...(label(r.code) ? { code: label(r.code) } : {}),
      ...(label(r.field) ? { field: label(r.field) } : {}),
      ...(label(r.resource) ? { resource: label(r.resource) } : {}),
      ...(cleanMessage(r.message) ? { message: cleanMessage(r.message) } : {}),
    } as GitHubValidationDetail;
    return [d];
  });
}

type Attempt =
  | { kind: 'ok'; res: Response; body: unknown }
  | { kind: 'unauthorized' }
  | { kind: 'retryable'; status?: number; cause?: unknown }
  | { kind: 'fail'; error: GitHubApiError };

export function createGitHubClient(options: GitHubClientOptions): GitHubClient {
  const base = new URL(options.apiBaseUrl);
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new Error('GitHub API base URL must be http(s)');
  if (base.search || base.hash || base.username || base.password)
    throw new Error('GitHub API base URL must be an origin and an optional path');
  const root = `${base.origin}${base.pathname.replace(/\/+$/, '')}`;
  const attempts = Math.max(1, options.retry?.attempts ?? 3);
  const baseDelayMs = Math.max(0, options.retry?.baseDelayMs ?? 200);
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? sleepReal;
  const log = options.log;
  const lastSeen = new Map<string, GitHubRateLimit>();
  const userAgent = options.userAgent ?? `${SERVER_INFO.name}/${SERVER_INFO.version}`;

  const urlFor = (req: GitHubGet): string => {
    // Every segment is encoded: no input can add a path segment, a query or a fragment.
    const path = req.path.map((s) => encodeURIComponent(s)).join('/');
    const qs = new URLSearchParams(req.query ?? {}).toString();
    return `${root}/${path}${qs ? `?${qs}` : ''}`;
  };

  const headersFor = (token: string): Headers => {
    const h = new Headers();
    h.set('Authorization', `Bearer ${token}`);
    h.set('Accept', GITHUB_MEDIA_TYPE);
    h.set('X-GitHub-Api-Version', GITHUB_API_VERSION);
    h.set('User-Agent', userAgent);
    return h;
  };

  function rateLimited(res: Response, body: unknown, rate: GitHubRateLimit | undefined): GitHubApiError | undefined {
    const message = cleanMessage((body as { message?: unknown } | undefined)?.message);
    const retryAfter = intHeader(res.headers, 'retry-after');
    const nowMs = options.clock.now().getTime();
    const untilReset = rate ? Math.max(0, Math.ceil((rate.resetAt.getTime() - nowMs) / 1000)) : undefined;
    const common = {
      status: res.status,
      ...(message ? { githubMessage: message } : {}),
      ...(rate ? { resetAt: rate.resetAt, resource: rate.resource } : {}),
    };
    if (rate?.remaining === 0 && retryAfter === undefined)
      return new GitHubRateLimitedError('primary', untilReset ?? DEFAULT_RETRY_AFTER_SECONDS, common);
    if (retryAfter !== undefined || res.status === 429 || /secondary rate limit/i.test(message ?? ''))
      return new GitHubRateLimitedError(
        'secondary',
        retryAfter ?? (rate?.remaining === 0 ? untilReset : undefined) ?? DEFAULT_RETRY_AFTER_SECONDS,
        common,
      );
    return undefined;
  }

  async function attempt(req: GitHubGet, token: string): Promise<Attempt> {
    const started = options.clock.now().getTime();
    let res: Response;
    try {
      res = await options.fetch(urlFor(req), {
        method: 'GET',
        headers: headersFor(token),
        redirect: 'manual', // never follow a redirect with the token attached
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (err) {
      log.warn('github_request_failed', {
        method: 'GET',
        path: req.route,
        errName: err instanceof Error ? err.name : typeof err,
      });
      return { kind: 'retryable', cause: err };
    }
    const status = res.status;
    const durationMs = options.clock.now().getTime() - started;
    (status >= 400 || durationMs > SLOW_GITHUB_MS ? log.warn : log.debug)('github_request_completed', {
      method: 'GET',
      path: req.route,
      status,
      durationMs,
    });
    const rate = parseRateLimit(res.headers);
    if (rate) lastSeen.set(rate.resource, rate);
    if (status === 401) {
      await res.body?.cancel().catch(() => undefined);
      return { kind: 'unauthorized' };
    }
    if (status >= 300 && status < 400) {
      // A renamed repository answers 301; following it would carry the token to a URL GitHub chose.
      await res.body?.cancel().catch(() => undefined);
      return { kind: 'fail', error: new GitHubApiError('github_unavailable', { status }) };
    }
    const text = await res.text().catch(() => undefined);
    let body: unknown;
    try {
      body = text === undefined ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (status === 403 || status === 429) {
      const limited = rateLimited(res, body, rate);
      if (limited) return { kind: 'fail', error: limited };
      const message = cleanMessage((body as { message?: unknown } | undefined)?.message);
      return {
        kind: 'fail',
        error: new GitHubApiError('github_forbidden', { status, ...(message ? { githubMessage: message } : {}) }),
      };
    }
    if (status >= 500) return { kind: 'retryable', status };
    const message = cleanMessage((body as { message?: unknown } | undefined)?.message);
    const withMessage = message ? { githubMessage: message } : {};
    if (status === 404)
      return { kind: 'fail', error: new GitHubApiError('github_not_found', { status, ...withMessage }) };
    if (status === 422)
      return {
        kind: 'fail',
        error: new GitHubApiError('github_validation_failed', { status, ...withMessage, details: details(body) }),
      };
    if (status !== 200)
      return { kind: 'fail', error: new GitHubApiError('github_rejected', { status, ...withMessage }) };
    if (body === undefined || body === null || typeof body !== 'object')
      return { kind: 'fail', error: new GitHubApiError('github_unavailable', { status }) };
    return { kind: 'ok', res, body };
  }

  async function send(req: GitHubGet): Promise<{ res: Response; body: unknown }> {
    let token = await options.tokens.accessToken();
    let refreshed = false;
    let lastStatus: number | undefined;
    let lastCause: unknown;
    for (let i = 0; i < attempts;) {
      const result = await attempt(req, token);
      switch (result.kind) {
        case 'ok':
          return result;
        case 'fail':
          throw result.error;
        case 'unauthorized':
          // A second 401 right after a fresh token: the authorization is gone (revoked at GitHub).
          if (refreshed) throw new GitHubApiError('github_unauthorized', { status: 401 });
          refreshed = true;
          token = await options.tokens.refreshAfterUnauthorized(token);
          continue; // does not use up a retry
        case 'retryable':
          lastStatus = result.status;
          lastCause = result.cause;
          i++;
          if (i < attempts) {
            const delay = Math.floor(random() * baseDelayMs * 2 ** (i - 1)); // full jitter
            log.info('github_retry', { attempt: i, ...(lastStatus === undefined ? {} : { status: lastStatus }) });
            await sleep(delay);
          }
          continue;
      }
    }
    throw new GitHubApiError('github_unavailable', {
      ...(lastStatus === undefined ? {} : { status: lastStatus }),
      cause: lastCause,
    });
  }

  return {
    async get(req, schema) {
      const { res, body } = await send(req);
      const parsed = schema.safeParse(body);
      if (!parsed.success) {
        log.warn('github_response_invalid', { path: req.route, status: res.status });
        throw new GitHubApiError('github_unavailable', { status: res.status, cause: parsed.error });
      }
      const pages = parseLinkPages(res.headers.get('link'), root);
      return {
        data: parsed.data,
        nextPage: pages.next,
        lastPage: pages.last,
        rateLimit: parseRateLimit(res.headers),
      };
    },
    lastRateLimit: (resource) => lastSeen.get(resource),
  };
}
