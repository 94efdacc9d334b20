/** A Rally client on the shared fake fetch (canned responses, in order), a fake token provider and a fake clock. */
import { createRallyClient, type RallyClient, type RallyClientOptions } from '../../../shared/rally/client.js';
import { createConcurrencyLimiter } from '../../../shared/rally/concurrency.js';
import type { RallyTokenProvider } from '../../../shared/rally/ports.js';
import { silentLogger } from '../../../shared/logging/logger.js';
import { fakeFetch, jsonResponse, type FakeAnswer } from '../../helpers/fetch.js';
import { FakeClock } from '../../helpers/clock.js';

export const json = jsonResponse;

export const html401 = (): Response =>
  new Response(
    '<html><head><title>Error 401 Full authentication is required to access this resource</title></head></html>',
    {
      status: 401,
      headers: { 'content-type': 'text/html' },
    },
  );

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

export function clientWith(responses: FakeAnswer[], overrides: Partial<RallyClientOptions> = {}) {
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
    clock: new FakeClock('2026-01-05T10:00:00Z'),
    log: silentLogger,
    retry: { attempts: 3, baseDelayMs: 100 },
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...overrides,
  });
  return { client, seen: f.calls, remaining: f.remaining, ...t, sleeps };
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
