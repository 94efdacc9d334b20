/**
 * Rally WSAPI v2.0 transport: request building, authentication with
 * `ZSESSIONID` only, bounded retries for reads, and response parsing by status
 * first (a 401 body is HTML). Plain typed operations; no MCP knowledge.
 * @module
 */
import { LinkRequiredError } from '../upstream/link-required.js';
import type { Clock } from '../kernel/clock.js';
import { fetchDeadline } from '../kernel/fetch.js';
import type { Logger } from '../logging/logger.js';
import { cleanLine, MAX_MESSAGE_CHARS } from '../sanitize/text.js';
import { RallyApiError, type RallyErrorCode } from './errors.js';
import type { ConcurrencyLimiter } from './concurrency.js';
import type { RallyRequestLabels, RallyTokenProvider } from './ports.js';
import {
  EDITABLE_COLLECTIONS,
  FIELD_NAME,
  MAX_PAGE_SIZE,
  OBJECT_ID,
  ORDER,
  OperationResultSchema,
  QueryResultSchema,
  RALLY_COLLECTIONS,
  RallyObjectSchema,
  isRallyType,
  type EditableCollection,
  type QueryPage,
  type RallyCollection,
  type RallyObject,
  type RallyType,
} from './types.js';
import { MAX_QUERY_LENGTH } from './query.js';
import { SERVER_INFO, VENDOR } from '../kernel/version.js';

export const WSAPI_PATH = '/slm/webservice/v2.0';
const MAX_RALLY_MESSAGES = 5;
const SLOW_RALLY_MS = 2000;

export interface RallyClientOptions {
  /** Rally host from configuration (RALLY_BASE_URL), e.g. https://rally1.rallydev.com. Never from input. */
  readonly baseUrl: string;
  readonly fetch: typeof fetch;
  readonly tokens: RallyTokenProvider;
  readonly labels: RallyRequestLabels;
  readonly limiter: ConcurrencyLimiter;
  /** The Rally principal the limiter counts against. */
  readonly limiterKey: string;
  readonly timeoutMs: number;
  /** e.g. "rally-mcp/0.1.0 (+https://rally-mcp.example.com)" */
  readonly userAgent: string;
  readonly clock: Clock;
  readonly log: Logger;
  /** Attempts in total for reads (default 3) and the full-jitter base delay (default 200 ms). */
  readonly retry?: { readonly attempts: number; readonly baseDelayMs: number };
  /** Injectable randomness and sleep (tests). */
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface QueryOptions {
  /** A compiled or validated query string (see query.ts). Sent URL-encoded as a parameter. */
  readonly query?: string;
  readonly fetch?: readonly string[] | true;
  readonly order?: string;
  /** 1-based. */
  readonly start?: number;
  readonly pageSize?: number;
  /** Workspace and project ObjectIDs. */
  readonly workspace?: string;
  readonly project?: string;
  readonly projectScopeUp?: boolean;
  readonly projectScopeDown?: boolean;
  /**
   * A lookup of one named or numbered object (a FormattedID, an exact name), not a listing. Never sent
   * to Rally; a project allowlist (./project-scope.ts) then refuses a match outside its projects
   * instead of hiding it, so the caller learns why.
   */
  readonly lookup?: boolean;
}

export interface RallyClient {
  /** Whose Rally access this client uses (the limiter key): per-user caches are keyed by it. */
  readonly principalKey: string;
  query(type: RallyType, options?: QueryOptions): Promise<QueryPage>;
  read(type: RallyType, oid: string, fetch?: readonly string[] | true): Promise<RallyObject>;
  create(
    type: RallyType,
    fields: Readonly<Record<string, unknown>>,
    fetch?: readonly string[] | true,
  ): Promise<RallyObject>;
  update(
    type: RallyType,
    oid: string,
    fields: Readonly<Record<string, unknown>>,
    fetch?: readonly string[] | true,
  ): Promise<RallyObject>;
  collection(type: RallyType, oid: string, name: RallyCollection, options?: QueryOptions): Promise<QueryPage>;
  /** `POST /{type}/{oid}/{Collection}/add|remove` with `CollectionItems` refs (relative, validated). */
  editCollection(
    type: RallyType,
    oid: string,
    name: EditableCollection,
    op: 'add' | 'remove',
    items: readonly { readonly type: RallyType; readonly oid: string }[],
  ): Promise<void>;
  /** `GET /user` with the UserProfile's default workspace and project. */
  currentUser(fetch?: readonly string[] | true): Promise<RallyObject>;
}

type Method = 'GET' | 'POST';

interface RallyRequest {
  readonly method: Method;
  readonly segments: readonly string[];
  readonly params: URLSearchParams;
  readonly body?: unknown;
}

const sleepReal = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Rally's messages, cleaned and capped: they may reach the user. */
export function cleanRallyMessages(raw: readonly unknown[]): string[] {
  return raw
    .filter((m): m is string => typeof m === 'string')
    .slice(0, MAX_RALLY_MESSAGES)
    .map((m) => cleanLine(m, MAX_MESSAGE_CHARS))
    .filter((m) => m.length > 0);
}

/** Maps the Errors of an HTTP-200 answer to an error code (rally-api.md §3.7). */
export function codeForRallyErrors(messages: readonly string[]): RallyErrorCode {
  const all = messages.join('\n');
  if (/Cannot find object to read|Could not read|Object to delete cannot be null/i.test(all)) return 'rally_not_found';
  if (/Not authorized/i.test(all)) return 'rally_forbidden';
  return 'rally_rejected';
}

function fetchParam(fetch: readonly string[] | true | undefined): string | undefined {
  if (fetch === undefined) return undefined;
  if (fetch === true) return 'true';
  for (const f of fetch)
    if (!FIELD_NAME.test(f)) throw new RallyApiError('rally_rejected', [], { cause: new Error('invalid fetch field') });
  return fetch.join(',');
}

function assertOid(oid: string): void {
  if (!OBJECT_ID.test(oid)) throw new RallyApiError('rally_rejected', [], { cause: new Error('invalid ObjectID') });
}

/** `portfolioitem/feature` is two path segments; every other type is one (each is encoded separately). */
const typeSegments = (type: RallyType): string[] => type.split('/');

function assertType(type: string): asserts type is RallyType {
  if (!isRallyType(type)) throw new RallyApiError('rally_rejected', [], { cause: new Error('type not allowed') });
}

/** Builds query-string parameters from options, validating every value. */
export function queryParams(options: QueryOptions = {}): URLSearchParams {
  const p = new URLSearchParams();
  const invalid = (what: string) => new RallyApiError('rally_rejected', [], { cause: new Error(`invalid ${what}`) });
  if (options.query !== undefined) {
    if (options.query.length > MAX_QUERY_LENGTH) throw invalid('query');
    p.set('query', options.query);
  }
  const f = fetchParam(options.fetch);
  if (f !== undefined) p.set('fetch', f);
  if (options.order !== undefined) {
    if (!ORDER.test(options.order)) throw invalid('order');
    p.set('order', options.order);
  }
  if (options.start !== undefined) {
    if (!Number.isInteger(options.start) || options.start < 1) throw invalid('start');
    p.set('start', String(options.start));
  }
  if (options.pageSize !== undefined) {
    if (!Number.isInteger(options.pageSize) || options.pageSize < 1 || options.pageSize > MAX_PAGE_SIZE)
      throw invalid('pageSize');
    p.set('pagesize', String(options.pageSize));
  }
  if (options.workspace !== undefined) {
    assertOid(options.workspace);
    p.set('workspace', `/workspace/${options.workspace}`);
  }
  if (options.project !== undefined) {
    assertOid(options.project);
    p.set('project', `/project/${options.project}`);
    // Rally's defaults for these are disputed: always send both (rally-api.md §3.5).
    p.set('projectScopeUp', String(options.projectScopeUp ?? false));
    p.set('projectScopeDown', String(options.projectScopeDown ?? true));
  }
  return p;
}

/** Outcome of one HTTP attempt, decided by status before the body is parsed. */
type Attempt =
  | { kind: 'ok'; body: unknown }
  | { kind: 'unauthorized' }
  | { kind: 'retryable'; status?: number; cause?: unknown }
  | { kind: 'fail'; error: RallyApiError };

export function createRallyClient(options: RallyClientOptions): RallyClient {
  const base = new URL(options.baseUrl);
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new Error('Rally base URL must be http(s)');
  const root = `${base.origin}${base.pathname.replace(/\/+$/, '')}${WSAPI_PATH}`;
  const attempts = Math.max(1, options.retry?.attempts ?? 3);
  const baseDelayMs = Math.max(0, options.retry?.baseDelayMs ?? 200);
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? sleepReal;
  const log = options.log;

  const urlFor = (req: RallyRequest): string => {
    // Every segment is encoded: no input can add a path segment, a query or a fragment.
    const path = req.segments.map((s) => encodeURIComponent(s)).join('/');
    const qs = req.params.toString();
    return `${root}/${path}${qs ? `?${qs}` : ''}`;
  };

  const headersFor = (token: string, hasBody: boolean): Headers => {
    const h = new Headers();
    h.set('ZSESSIONID', token); // the only credential Rally ever sees (D6)
    h.set('Accept', 'application/json');
    if (hasBody) h.set('Content-Type', 'application/json');
    h.set('User-Agent', options.userAgent);
    h.set('X-Request-ID', options.labels.requestId);
    if (options.labels.correlationId) h.set('X-Correlation-ID', options.labels.correlationId);
    h.set('X-RallyIntegrationName', SERVER_INFO.name);
    h.set('X-RallyIntegrationVendor', VENDOR);
    h.set('X-RallyIntegrationVersion', SERVER_INFO.version);
    return h;
  };

  /** One HTTP attempt within the request timeout, which covers reading the answer too. */
  async function attempt(req: RallyRequest, token: string): Promise<Attempt> {
    let deadline: ReturnType<typeof fetchDeadline> | undefined;
    try {
      return await attemptWithin(req, token, () => (deadline = fetchDeadline(options.timeoutMs)).signal);
    } finally {
      deadline?.done(); // the answer is read or dropped: its timer need not outlive it
    }
  }

  async function attemptWithin(req: RallyRequest, token: string, startDeadline: () => AbortSignal): Promise<Attempt> {
    const started = options.clock.now().getTime();
    let res: Response;
    try {
      res = await options.limiter.run(options.limiterKey, () =>
        options.fetch(urlFor(req), {
          method: req.method,
          headers: headersFor(token, req.body !== undefined),
          ...(req.body === undefined ? {} : { body: JSON.stringify(req.body) }),
          redirect: 'manual', // never follow a redirect with ZSESSIONID attached (D7)
          signal: startDeadline(), // started once the limiter lets the request go
        }),
      );
    } catch (err) {
      log.warn('rally_request_failed', {
        method: req.method,
        rallyType: req.segments[0],
        errName: err instanceof Error ? err.name : typeof err,
      });
      return { kind: 'retryable', cause: err };
    }
    const status = res.status;
    const durationMs = options.clock.now().getTime() - started;
    // Every Rally request at debug (the audit line has the tool's duration); slow or failed ones at warn.
    (status >= 400 || durationMs > SLOW_RALLY_MS ? log.warn : log.debug)('rally_request_completed', {
      method: req.method,
      rallyType: req.segments[0],
      rallyStatus: status,
      durationMs,
    });
    if (status === 401) {
      await res.body?.cancel().catch(() => undefined);
      return { kind: 'unauthorized' };
    }
    if (status >= 300 && status < 400) {
      await res.body?.cancel().catch(() => undefined);
      return { kind: 'fail', error: new RallyApiError('rally_unavailable', [], { status }) };
    }
    if (status === 429 || status >= 500) {
      await res.body?.cancel().catch(() => undefined);
      return { kind: 'retryable', status };
    }
    const text = await res.text().catch(() => undefined);
    let body: unknown;
    try {
      body = text === undefined ? undefined : JSON.parse(text);
    } catch {
      body = undefined; // HTML error pages
    }
    if (status === 403)
      return { kind: 'fail', error: new RallyApiError('rally_forbidden', messagesIn(body), { status }) };
    if (status === 404) return { kind: 'fail', error: new RallyApiError('rally_unavailable', [], { status }) }; // Rally's IP allow-list page
    if (status !== 200 && status !== 201)
      return { kind: 'fail', error: new RallyApiError('rally_rejected', messagesIn(body), { status }) };
    if (body === undefined || body === null || typeof body !== 'object') {
      return { kind: 'fail', error: new RallyApiError('rally_unavailable', [], { status }) };
    }
    return { kind: 'ok', body };
  }

  async function send(req: RallyRequest): Promise<unknown> {
    const isRead = req.method === 'GET';
    let token = await options.tokens.accessToken();
    let refreshed = false;
    let lastStatus: number | undefined;
    let lastCause: unknown;
    for (let i = 0; i < attempts;) {
      const result = await attempt(req, token);
      switch (result.kind) {
        case 'ok':
          return result.body;
        case 'fail':
          throw result.error;
        case 'unauthorized':
          // Rally rejected the token: the request was not processed, so one retry is safe even for writes.
          if (refreshed) throw new LinkRequiredError('rally', 'revoked');
          refreshed = true;
          token = await options.tokens.refreshAfterUnauthorized(token);
          continue; // does not use up a retry
        case 'retryable':
          lastStatus = result.status;
          lastCause = result.cause;
          // Writes are not idempotent: a 5xx or a timeout may hide a completed create.
          if (!isRead)
            throw new RallyApiError('rally_unavailable', [], {
              ...(lastStatus === undefined ? {} : { status: lastStatus }),
              cause: lastCause,
            });
          i++;
          if (i < attempts) {
            const delay = Math.floor(random() * baseDelayMs * 2 ** (i - 1)); // full jitter
            log.info('rally_retry', { attempt: i, rallyStatus: lastStatus });
            await sleep(delay);
          }
          continue;
      }
    }
    throw new RallyApiError('rally_unavailable', [], {
      ...(lastStatus === undefined ? {} : { status: lastStatus }),
      cause: lastCause,
    });
  }

  const raise = (errors: readonly unknown[]): never => {
    const messages = cleanRallyMessages(errors);
    throw new RallyApiError(codeForRallyErrors(messages), messages, { status: 200 });
  };

  const warningsOf = (w: readonly unknown[]): string[] => cleanRallyMessages(w);

  function parseQuery(body: unknown): QueryPage {
    const parsed = QueryResultSchema.safeParse(body);
    if (!parsed.success) {
      const errs = messagesIn(body);
      if (errs.length) raise(errs);
      throw new RallyApiError('rally_unavailable', [], { status: 200 });
    }
    const q = parsed.data.QueryResult;
    if (q.Errors.length) raise(q.Errors);
    return {
      totalResultCount: q.TotalResultCount,
      startIndex: q.StartIndex,
      pageSize: q.PageSize,
      results: q.Results,
      warnings: warningsOf(q.Warnings),
    };
  }

  /** Single-object read: `{"<TypeName>": {…, Errors, Warnings}}` or an OperationResult with Errors. */
  function parseSingle(body: unknown): RallyObject {
    const errs = messagesIn(body);
    if (errs.length) raise(errs);
    const entries = Object.entries(body as Record<string, unknown>);
    if (entries.length !== 1) throw new RallyApiError('rally_unavailable', [], { status: 200 });
    const parsed = RallyObjectSchema.safeParse(entries[0]?.[1]);
    if (!parsed.success) throw new RallyApiError('rally_unavailable', [], { status: 200 });
    return parsed.data;
  }

  function parseOperation(body: unknown, key: 'CreateResult' | 'OperationResult'): RallyObject {
    const envelope = (body as Record<string, unknown>)[key];
    const parsed = OperationResultSchema.safeParse(envelope);
    if (!parsed.success) {
      const errs = messagesIn(body);
      if (errs.length) raise(errs);
      throw new RallyApiError('rally_unavailable', [], { status: 200 });
    }
    if (parsed.data.Errors.length) raise(parsed.data.Errors);
    if (!parsed.data.Object) throw new RallyApiError('rally_unavailable', [], { status: 200 });
    return parsed.data.Object;
  }

  const wrapperName = (type: RallyType): string => type; // Rally accepts wrapper keys case-insensitively

  return {
    principalKey: options.limiterKey,
    async query(type, opts = {}) {
      assertType(type);
      return parseQuery(await send({ method: 'GET', segments: typeSegments(type), params: queryParams(opts) }));
    },
    async read(type, oid, fetch) {
      assertType(type);
      assertOid(oid);
      return parseSingle(
        await send({
          method: 'GET',
          segments: [...typeSegments(type), oid],
          params: queryParams({ ...(fetch ? { fetch } : {}) }),
        }),
      );
    },
    async create(type, fields, fetch) {
      assertType(type);
      const body = { [wrapperName(type)]: fields };
      return parseOperation(
        await send({
          method: 'POST',
          segments: [...typeSegments(type), 'create'],
          params: queryParams({ ...(fetch ? { fetch } : {}) }),
          body,
        }),
        'CreateResult',
      );
    },
    async update(type, oid, fields, fetch) {
      assertType(type);
      assertOid(oid);
      const body = { [wrapperName(type)]: fields };
      return parseOperation(
        await send({
          method: 'POST',
          segments: [...typeSegments(type), oid],
          params: queryParams({ ...(fetch ? { fetch } : {}) }),
          body,
        }),
        'OperationResult',
      );
    },
    async collection(type, oid, name, opts = {}) {
      assertType(type);
      assertOid(oid);
      if (!(RALLY_COLLECTIONS as readonly string[]).includes(name))
        throw new RallyApiError('rally_rejected', [], { cause: new Error('collection not allowed') });
      return parseQuery(
        await send({ method: 'GET', segments: [...typeSegments(type), oid, name], params: queryParams(opts) }),
      );
    },
    async editCollection(type, oid, name, op, items) {
      assertType(type);
      assertOid(oid);
      if (!(EDITABLE_COLLECTIONS as readonly string[]).includes(name))
        throw new RallyApiError('rally_rejected', [], { cause: new Error('collection not editable') });
      const refs = items.map((i) => {
        assertType(i.type);
        assertOid(i.oid);
        return { _ref: `/${i.type}/${i.oid}` };
      });
      const body = await send({
        method: 'POST',
        segments: [...typeSegments(type), oid, name, op],
        params: new URLSearchParams(),
        body: { CollectionItems: refs },
      });
      const parsed = OperationResultSchema.safeParse((body as Record<string, unknown>).OperationResult);
      if (!parsed.success) {
        const errs = messagesIn(body);
        if (errs.length) raise(errs);
        throw new RallyApiError('rally_unavailable', [], { status: 200 });
      }
      if (parsed.data.Errors.length) raise(parsed.data.Errors);
    },
    async currentUser(fetch) {
      return parseSingle(
        await send({ method: 'GET', segments: ['user'], params: queryParams({ fetch: fetch ?? DEFAULT_USER_FETCH }) }),
      );
    },
  };
}

export const DEFAULT_USER_FETCH = [
  'ObjectID',
  'UserName',
  'DisplayName',
  'EmailAddress',
  'FirstName',
  'LastName',
  'UserProfile',
  'DefaultWorkspace',
  'DefaultProject',
];

/** Every `Errors` array anywhere at the first two levels of an envelope. */
function messagesIn(body: unknown): string[] {
  if (!body || typeof body !== 'object') return [];
  const out: unknown[] = [];
  const top = body as Record<string, unknown>;
  if (Array.isArray(top.Errors)) out.push(...top.Errors);
  for (const v of Object.values(top)) {
    if (v && typeof v === 'object' && Array.isArray((v as Record<string, unknown>).Errors))
      out.push(...((v as Record<string, unknown>).Errors as unknown[]));
  }
  return cleanRallyMessages(out);
}
