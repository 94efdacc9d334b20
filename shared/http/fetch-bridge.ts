/**
 * Hands a Node request, already read and bounded by the body gate
 * (shared/http/body.ts), to a web-standard `fetch`-shaped handler, and writes
 * the handler's `Response` back. Only what the handler needs crosses: the
 * method, the protocol headers and an abort signal; never the bearer token or
 * a cookie, and never the body bytes (the caller passes the parsed body).
 * @module
 */
import type { Request as NodeRequest, Response as NodeResponse } from '@google-cloud/functions-framework';

/** Credentials and framing that belong to our gates and this hop, not to the handler. */
const NOT_FORWARDED = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'host',
  'connection',
  'keep-alive',
  'content-length',
  'content-encoding',
  'transfer-encoding',
]);

/**
 * A web `Request` whose `signal` is the exchange's own, which is all the handler reads of it. Given a
 * signal (`new Request(url, { signal })`), undici follows it with a listener, an abort controller of
 * its own and a FinalizationRegistry entry per request: the scavenger keeps those alive until a full
 * collection, and their held values survive that one too. Measured in isolation, about 1 KB promoted
 * to the old space per request and a heap several times larger (issue 16). Only a fetch with the
 * request itself would read undici's own signal, and no handler does.
 */
class ExchangeRequest extends Request {
  readonly #signal: AbortSignal;
  constructor(url: string, init: RequestInit, signal: AbortSignal) {
    super(url, init);
    this.#signal = signal;
  }
  override get signal(): AbortSignal {
    return this.#signal;
  }
  /** The same bodiless request on the same signal (undici's clone would follow only a signal given to it). */
  override clone(): ExchangeRequest {
    return new ExchangeRequest(this.url, { method: this.method, headers: this.headers }, this.#signal);
  }
}

export interface WebExchange {
  readonly request: globalThis.Request;
  /** Writes the handler's answer to `res` (status, headers, then the body as it streams). */
  send(response: globalThis.Response): Promise<void>;
}

/**
 * Builds the web `Request` for `url` (fixed by the caller, never taken from the
 * Host header) with no body, aborted when the client goes away first.
 */
export function webExchange(url: string, req: NodeRequest, res: NodeResponse): WebExchange {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || NOT_FORWARDED.has(name)) continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const abort = new AbortController();
  let finished = false;
  const onClose = () => {
    if (!finished) abort.abort();
  };
  res.once('close', onClose);
  const request = new ExchangeRequest(url, { method: req.method, headers }, abort.signal);
  return {
    request,
    send: async (response) => {
      try {
        res.status(response.status);
        response.headers.forEach((value, name) => res.setHeader(name, value));
        if (response.body === null) return;
        for await (const chunk of response.body) {
          if (abort.signal.aborted) break;
          if (!res.write(chunk)) await drained(res, abort.signal);
        }
      } finally {
        finished = true;
        res.off('close', onClose);
        if (!res.writableEnded) res.end();
      }
    },
  };
}

function drained(res: NodeResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    res.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}
