/**
 * The framework-free request/reply shapes of the GitHub sandbox, so handlers run
 * without a socket. Replies and their helpers are the Rally sandbox's.
 * @module
 */
import type { Reply } from '../rally-sandbox/http.js';

export { html, json, redirect, type Reply } from '../rally-sandbox/http.js';

export interface GhRequest {
  readonly method: string;
  /** Raw path, not decoded: GitHub's path parameters are percent-encoded one by one (a `/` in a ref is %2F). */
  readonly rawPath: string;
  readonly query: URLSearchParams;
  /** Lower-cased names, values joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export function noContent(headers: Record<string, string> = {}): Reply {
  return { status: 204, headers, body: '' };
}

/** The decoded segments of a raw path ('/a/b%2Fc' → ['a', 'b/c']); undefined when a segment is not valid UTF-8. */
export function segments(rawPath: string): string[] | undefined {
  try {
    return rawPath.split('/').slice(1).map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

/** Parameters from the query string and a form or JSON body (the body wins), as GitHub's token endpoint takes them. */
export function params(req: GhRequest): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of req.query) out.set(k, v);
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/json') {
    try {
      const body: unknown = JSON.parse(req.body);
      if (body && typeof body === 'object' && !Array.isArray(body))
        for (const [k, v] of Object.entries(body)) if (typeof v === 'string') out.set(k, v);
    } catch {
      // an unparsable body adds nothing
    }
  } else if (req.body) {
    for (const [k, v] of new URLSearchParams(req.body)) out.set(k, v);
  }
  return out;
}
