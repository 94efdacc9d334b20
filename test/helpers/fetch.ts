/**
 * Outbound HTTP, faked. In process: the one fake fetch of the tests
 * (shared/kernel/fetch.ts `FetchLike`), which records every request and
 * answers either from a queue (one answer per request, in order; a request
 * past the end fails) or from a route function. Across processes: a
 * recording server on loopback.
 * @module
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FetchLike } from '../../shared/kernel/fetch.js';

export interface RecordedRequest {
  readonly url: string;
  readonly method: string;
  /** Lower-case names, as `Headers` gives them. */
  readonly headers: Record<string, string>;
  /** A string body as sent; undefined for no body or a non-string one. */
  readonly body: string | undefined;
  readonly redirect: RequestRedirect | undefined;
  readonly hasSignal: boolean;
}

/** A queued answer: a response, an error the fetch rejects with, or a function building either. */
export type FakeAnswer = Response | Error | (() => Response | Promise<Response>);

/** A routed answer: decides from the request. A rejection is the fetch's rejection. */
export type FakeRoute = (request: RecordedRequest) => Response | Promise<Response>;

export interface FakeFetch {
  readonly fetch: FetchLike;
  /** Every request, in arrival order. */
  readonly calls: RecordedRequest[];
  /** Queued answers not yet used (0 for a routed fake). */
  remaining(): number;
}

export function fakeFetch(answers: readonly FakeAnswer[] | FakeRoute): FakeFetch {
  const calls: RecordedRequest[] = [];
  const queue = typeof answers === 'function' ? undefined : [...answers];
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((v, k) => {
      headers[k] = v;
    });
    const request: RecordedRequest = {
      url: String(input),
      method: init?.method ?? 'GET',
      headers,
      body: typeof init?.body === 'string' ? init.body : undefined,
      redirect: init?.redirect,
      hasSignal: init?.signal instanceof AbortSignal,
    };
    calls.push(request);
    if (typeof answers === 'function') return answers(request);
    const next = queue!.shift();
    if (next === undefined) throw new Error(`fakeFetch: unexpected request ${request.method} ${request.url}`);
    if (next instanceof Error) throw next;
    return typeof next === 'function' ? next() : next;
  }) as FetchLike;
  return { fetch, calls, remaining: () => queue?.length ?? 0 };
}

/** A JSON response, as servers send it. */
export const jsonResponse = (body: unknown, status = 200): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** A throwaway HTTP server on loopback that records what reaches it (e.g. "another origin" for D7) and answers `{}`. */
export async function recordingServer(): Promise<{ port: number; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
