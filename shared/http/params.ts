/**
 * OAuth parameters: each may appear at most once (RFC 6749 §3.1, §3.2), and
 * forms are read from the raw body so a repeated field is seen, not merged.
 * @module
 */
import type { Request } from '@google-cloud/functions-framework';

export type SingleParams = { ok: true; values: Record<string, string> } | { ok: false; duplicate: string };

export function singleParams(params: URLSearchParams): SingleParams {
  const values: Record<string, string> = {};
  for (const [k, v] of params) {
    if (Object.hasOwn(values, k)) return { ok: false, duplicate: k.slice(0, 40) };
    values[k] = v;
  }
  return { ok: true, values };
}

/** An application/x-www-form-urlencoded body, or undefined for any other content type. */
export function formParams(req: Request): SingleParams | undefined {
  if (!req.is('application/x-www-form-urlencoded')) return undefined;
  const raw = (req as Request & { rawBody?: Buffer }).rawBody;
  return singleParams(new URLSearchParams(raw ? raw.toString('utf8') : ''));
}
