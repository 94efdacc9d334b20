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
  const request = new Request(url, { method: req.method, headers, signal: abort.signal });
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
