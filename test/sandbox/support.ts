/**
 * Helpers shared by the sandbox tests: start a sandbox with the test client,
 * call WSAPI with a token, and walk the OAuth pages without a browser.
 */
import { startRallySandbox, type RallySandboxHandle } from '../../rally-sandbox/index.js';
import type { RallySandboxOptions } from '../../rally-sandbox/types.js';

export const CLIENT = {
  clientId: '0123456789abcdef0123456789abcdef',
  clientSecret: 'Qm7xT2vK9pLw4RzN8cYh3JdF6sGa1UeBo5WiXnMq0t',
  redirectUri: 'http://127.0.0.1:9/oauth/callback',
} as const;

export function startSandbox(extra: Partial<RallySandboxOptions> = {}): Promise<RallySandboxHandle> {
  return startRallySandbox({
    clientId: CLIENT.clientId,
    clientSecret: CLIENT.clientSecret,
    redirectUris: [CLIENT.redirectUri],
    ...extra,
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- sandbox JSON that the tests read freely and check with expect()
export type Json = Record<string, any>;

export interface WsapiResponse {
  readonly status: number;
  readonly body: Json;
  readonly text: string;
  readonly headers: Headers;
}

/** A small WSAPI client bound to one credential (ZSESSIONID header). */
export function wsapi(sb: RallySandboxHandle, credential: string) {
  const base = `${sb.url}/slm/webservice/v2.0`;
  const call = async (method: string, path: string, body?: unknown): Promise<WsapiResponse> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ZSESSIONID: credential, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: Json = {};
    try {
      parsed = JSON.parse(text) as Json;
    } catch {
      // HTML (401/403 pages)
    }
    return { status: res.status, body: parsed, text, headers: res.headers };
  };
  return {
    get: (path: string) => call('GET', path),
    post: (path: string, body: unknown) => call('POST', path, body),
    put: (path: string, body: unknown) => call('PUT', path, body),
    del: (path: string) => call('DELETE', path),
    /** Query results as objects; fails the test on Errors. */
    async query(type: string, params: Record<string, string>): Promise<{ total: number; results: Json[]; body: Json }> {
      const r = await call('GET', `/${type}?${new URLSearchParams(params).toString()}`);
      const qr = r.body.QueryResult as Json;
      return { total: qr.TotalResultCount as number, results: qr.Results as Json[], body: r.body };
    },
  };
}

/** Finds one object's ObjectID by FormattedID, as the given user. */
export async function oidOf(sb: RallySandboxHandle, formattedId: string): Promise<number> {
  const item = [...sb.items('hierarchicalrequirement'), ...sb.items('defect'), ...sb.items('task')].find(
    (i) => i.FormattedID === formattedId,
  );
  if (!item) throw new Error(`no item ${formattedId}`);
  return item.ObjectID as number;
}

export function authorizeUrl(sb: RallySandboxHandle, params: Record<string, string> = {}): string {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT.clientId,
    redirect_uri: CLIENT.redirectUri,
    scope: 'alm',
    state: 'st-123',
    ...params,
  });
  return `${sb.url}/login/oauth2/auth?${q.toString()}`;
}

export const hiddenTx = (html: string): string => {
  const m = /name="tx" value="([^"]+)"/.exec(html);
  if (!m?.[1]) throw new Error(`no tx field in page: ${html.slice(0, 200)}`);
  return m[1];
};

export async function postForm(
  url: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
}

/** Walks authorize → sign-in → Allow with plain HTTP; returns the redirect Location. */
export async function signInViaForms(
  sb: RallySandboxHandle,
  opts: { user?: string; params?: Record<string, string>; decision?: 'allow' | 'deny' } = {},
): Promise<URL> {
  const user = opts.user ?? 'alice';
  const page = await fetch(authorizeUrl(sb, opts.params), { redirect: 'manual' });
  const tx = hiddenTx(await page.text());
  const signed = await postForm(`${sb.url}/login/oauth2/auth/signin`, { tx, username: user, password: user });
  if (signed.status === 302) return new URL(signed.headers.get('location') ?? '');
  const consentTx = hiddenTx(await signed.text());
  const done = await postForm(`${sb.url}/login/oauth2/auth/consent`, {
    tx: consentTx,
    decision: opts.decision ?? 'allow',
  });
  if (done.status !== 302) throw new Error(`consent did not redirect: ${done.status}`);
  return new URL(done.headers.get('location') ?? '');
}

export async function tokenRequest(
  sb: RallySandboxHandle,
  form: Record<string, string>,
  opts: { basic?: boolean } = {},
): Promise<{ status: number; body: Json }> {
  const withClient = opts.basic ? form : { client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, ...form };
  const headers: Record<string, string> = opts.basic
    ? { authorization: `Basic ${Buffer.from(`${CLIENT.clientId}:${CLIENT.clientSecret}`).toString('base64')}` }
    : {};
  const res = await postForm(`${sb.url}/login/oauth2/token`, withClient, headers);
  return { status: res.status, body: (await res.json()) as Json };
}
