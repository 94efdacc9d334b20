/** Canned-response fetch and token provider for client unit tests. */
import { createRallyClient, type RallyClient, type RallyClientOptions } from '../../../shared/rally/client.js';
import { createConcurrencyLimiter } from '../../../shared/rally/concurrency.js';
import type { RallyTokenProvider } from '../../../shared/rally/ports.js';
import { silentLogger } from '../../../shared/logging/logger.js';

export interface SeenRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
  readonly redirect: RequestRedirect | undefined;
  readonly hasSignal: boolean;
}

export type Canned = Response | Error | (() => Response | Promise<Response>);

export const json = (body: unknown, status = 200): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

export const html401 = (): Response =>
  new Response(
    '<html><head><title>Error 401 Full authentication is required to access this resource</title></head></html>',
    {
      status: 401,
      headers: { 'content-type': 'text/html' },
    },
  );

export function fakeFetch(responses: Canned[]) {
  const seen: SeenRequest[] = [];
  const queue = [...responses];
  const fn = (async (input: string | URL | Request, init?: RequestInit) => {
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((v, k) => {
      headers[k] = v;
    });
    seen.push({
      url: String(input),
      method: init?.method ?? 'GET',
      headers,
      body: typeof init?.body === 'string' ? init.body : undefined,
      redirect: init?.redirect,
      hasSignal: init?.signal instanceof AbortSignal,
    });
    const next = queue.shift();
    if (next === undefined) throw new Error('unexpected request');
    if (next instanceof Error) throw next;
    return typeof next === 'function' ? next() : next;
  }) as typeof fetch;
  return { fetch: fn, seen, remaining: () => queue.length };
}

export function fakeTokens(first = 'tok-1', refreshed: string[] = ['tok-2']) {
  const refreshCalls: string[] = [];
  const queue = [...refreshed];
  const tokens: RallyTokenProvider = {
    accessToken: async () => first,
    refreshAfterUnauthorized: async (rejected) => {
      refreshCalls.push(rejected);
      const next = queue.shift();
      if (!next) throw new Error('no refresh');
      return next;
    },
  };
  return { tokens, refreshCalls };
}

export function clientWith(responses: Canned[], overrides: Partial<RallyClientOptions> = {}) {
  const f = fakeFetch(responses);
  const t = fakeTokens();
  const sleeps: number[] = [];
  const client: RallyClient = createRallyClient({
    baseUrl: 'https://rally.test',
    fetch: f.fetch,
    tokens: t.tokens,
    labels: { requestId: 'req-123', correlationId: 'corr-456' },
    limiter: createConcurrencyLimiter(4),
    limiterKey: 'alice',
    timeoutMs: 1000,
    userAgent: 'rally-mcp/0.1.0 (test)',
    clock: { now: () => new Date('2026-01-05T10:00:00Z') },
    log: silentLogger,
    retry: { attempts: 3, baseDelayMs: 100 },
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...overrides,
  });
  return { client, ...f, ...t, sleeps };
}

export const queryResult = (results: unknown[], extra: Record<string, unknown> = {}) => ({
  QueryResult: {
    _rallyAPIMajor: '2',
    _rallyAPIMinor: '0',
    Errors: [],
    Warnings: [],
    TotalResultCount: results.length,
    StartIndex: 1,
    PageSize: 20,
    Results: results,
    ...extra,
  },
});
