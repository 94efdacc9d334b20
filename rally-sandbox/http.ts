/**
 * The framework-free request/reply shapes the route modules share, so that
 * handlers can be called (and timed) without a socket. The GitHub sandbox
 * answers with the same `Reply` and helpers (github-sandbox/http.ts).
 * @module
 */

export interface SandboxRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-cased names, values joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export function json(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(value),
  };
}

export function html(status: number, body: string, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...headers },
    body,
  };
}

export function redirect(location: string, status = 302): Reply {
  return { status, headers: { location, 'cache-control': 'no-store' }, body: '' };
}

/** Value of one cookie, or undefined. Cookie names compare case-insensitively here. */
export function cookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  const lower = name.toLowerCase();
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim().toLowerCase() === lower)
      return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}
