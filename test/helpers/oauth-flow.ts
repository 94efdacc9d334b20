/**
 * A browserless OAuth client for tests and benchmarks: real HTTP through
 * every page of the flow (our consent page, the sandbox's sign-in and Allow
 * pages, our callback), with a cookie jar and form parsing, no shortcuts
 * around our endpoints. The SDK's own client + Chromium is exercised in
 * the end-to-end test; this helper makes many sign-ins cheap. Also a
 * recorded sign-in (every intermediate value a leak check needs), the
 * consent → Rally redirect, and small /mcp call wrappers.
 */
import { createHash, randomBytes } from 'node:crypto';
import { parseDocument } from 'htmlparser2';
import { findAll, getAttributeValue, hasAttrib, textContent } from 'domutils';
import type { Element } from 'domhandler';

/** Where test clients are sent back to (nothing listens there: the flow stops at it). */
export const DEFAULT_REDIRECT = 'http://127.0.0.1:33418/callback';
/** The __Host- cookie binding a sign-in to the browser that started it. */
export const BINDING_COOKIE = '__Host-rally-mcp-tx';

export class CookieJar {
  readonly #cookies = new Map<string, Map<string, string>>();
  store(url: string, res: Response): void {
    const origin = new URL(url).origin;
    for (const header of res.headers.getSetCookie()) {
      const [pair] = header.split(';');
      const eq = pair!.indexOf('=');
      const jar = this.#cookies.get(origin) ?? new Map<string, string>();
      jar.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
      this.#cookies.set(origin, jar);
    }
  }
  header(url: string): string | undefined {
    const jar = this.#cookies.get(new URL(url).origin);
    return jar && jar.size ? [...jar].map(([k, v]) => `${k}=${v}`).join('; ') : undefined;
  }
  clear(): void {
    this.#cookies.clear();
  }
}

export interface ParsedForm {
  readonly action: string;
  /** What the form sends as it stands: hidden and text inputs, and the checkboxes that are ticked. */
  readonly fields: Record<string, string>;
  readonly buttons: Array<{ name: string; value: string; text: string }>;
  /** Every checkbox, ticked or not, with the text of its label. */
  readonly checkboxes: Array<{ name: string; value: string; label: string }>;
}

export function parseForms(html: string, pageUrl: string): ParsedForm[] {
  const doc = parseDocument(html);
  return findAll((e) => e.name === 'form', doc.children).map((form: Element) => {
    const fields: Record<string, string> = {};
    const checkboxes: ParsedForm['checkboxes'] = [];
    for (const input of findAll((e) => e.name === 'input', form.children)) {
      const name = getAttributeValue(input, 'name');
      const value = getAttributeValue(input, 'value') ?? '';
      if (name && getAttributeValue(input, 'type') === 'checkbox') {
        const label = input.parent && 'children' in input.parent ? textContent(input.parent).trim() : '';
        checkboxes.push({ name, value, label });
        if (!hasAttrib(input, 'checked')) continue; // a browser sends only ticked boxes
      }
      if (name) fields[name] = value;
    }
    const buttons = findAll((e) => e.name === 'button', form.children).map((b) => ({
      name: getAttributeValue(b, 'name') ?? '',
      value: getAttributeValue(b, 'value') ?? '',
      text: b.children.map((c) => ('data' in c ? String(c.data) : '')).join(''),
    }));
    return {
      action: new URL(getAttributeValue(form, 'action') ?? pageUrl, pageUrl).toString(),
      fields,
      buttons,
      checkboxes,
    };
  });
}

export const pkcePair = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

export interface FlowOptions {
  readonly username: string;
  readonly password?: string;
  /** Which button to press on our consent page and on Rally's Allow page. */
  readonly consent?: 'allow' | 'deny';
  readonly jar?: CookieJar;
  /** Stop when the browser would be sent to a URL starting with this. */
  readonly stopAt: string;
  readonly maxSteps?: number;
  /** Sees every response before it is followed (tests that record what passed by). */
  readonly onResponse?: (url: string, res: Response) => void;
}

/** Follows redirects and submits forms like a user would, until the browser is sent to `stopAt`. */
export async function browse(
  startUrl: string,
  o: FlowOptions,
): Promise<{ url: string; status: number; body: string; steps: string[]; visited: string[] }> {
  const jar = o.jar ?? new CookieJar();
  const steps: string[] = [];
  const visited: string[] = [];
  let next: { url: string; init: RequestInit } = { url: startUrl, init: { method: 'GET' } };
  for (let i = 0; i < (o.maxSteps ?? 12); i++) {
    visited.push(next.url);
    if (next.url.startsWith(o.stopAt)) return { url: next.url, status: 0, body: '', steps, visited };
    const cookie = jar.header(next.url);
    const res = await fetch(next.url, {
      ...next.init,
      redirect: 'manual',
      headers: { ...(next.init.headers as Record<string, string>), ...(cookie ? { cookie } : {}) },
    });
    jar.store(next.url, res);
    o.onResponse?.(next.url, res);
    steps.push(`${next.init.method} ${new URL(next.url).pathname} -> ${res.status}`);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      next = { url: new URL(location, next.url).toString(), init: { method: 'GET' } };
      continue;
    }
    const body = await res.text();
    const form = res.status === 200 ? parseForms(body, next.url)[0] : undefined;
    if (!form) return { url: next.url, status: res.status, body, steps, visited };
    const fields = { ...form.fields };
    if ('username' in fields) {
      fields.username = o.username;
      fields.password = o.password ?? o.username;
    }
    const want = o.consent ?? 'allow';
    const button =
      form.buttons.find((b) => (want === 'allow' ? /allow|continue/i : /deny|cancel/i).test(`${b.value} ${b.text}`)) ??
      form.buttons.find((b) => b.name);
    if (button?.name) fields[button.name] = button.value;
    next = {
      url: form.action,
      init: {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          origin: new URL(form.action).origin,
          'sec-fetch-site': 'same-origin',
        },
        body: new URLSearchParams(fields).toString(),
      },
    };
  }
  throw new Error(`flow did not finish: ${steps.join(', ')}`);
}

export interface SignedIn {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly scope: string;
}

export async function registerTestClient(
  base: string,
  redirectUri = DEFAULT_REDIRECT,
  name = 'Test MCP client',
): Promise<string> {
  const res = await fetch(`${base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: name, redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' }),
  });
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { client_id: string }).client_id;
}

export interface AuthorizeOptions {
  readonly clientId: string;
  readonly redirectUri?: string;
  readonly username?: string;
  readonly scope?: string;
  readonly jar?: CookieJar;
  readonly consent?: 'allow' | 'deny';
  /** Extra or overriding /authorize parameters (undefined removes one). */
  readonly params?: Record<string, string | undefined>;
}

/** Drives /authorize → consent → Rally → callback; returns where the client was sent, with the PKCE verifier. */
export async function authorizeToRedirect(
  base: string,
  o: AuthorizeOptions,
): Promise<{ redirect: URL; verifier: string; state: string; steps: string[] }> {
  const redirectUri = o.redirectUri ?? DEFAULT_REDIRECT;
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(12).toString('base64url');
  const authorize = new URL(`${base}/authorize`);
  const params: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: o.clientId,
    redirect_uri: redirectUri,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    resource: `${base}/mcp`,
    ...(o.scope ? { scope: o.scope } : {}),
    ...o.params,
  };
  for (const [k, v] of Object.entries(params)) if (v !== undefined) authorize.searchParams.set(k, v);
  const end = await browse(authorize.toString(), {
    username: o.username ?? 'alice',
    stopAt: redirectUri,
    ...(o.jar ? { jar: o.jar } : {}),
    ...(o.consent ? { consent: o.consent } : {}),
  });
  if (!end.url.startsWith(redirectUri))
    throw new Error(`flow ended at ${end.url} (${end.status}): ${end.steps.join(', ')} ${end.body.slice(0, 300)}`);
  return { redirect: new URL(end.url), verifier, state, steps: end.steps };
}

export async function tokenRequest(
  base: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON that the test reads freely and checks with expect()
): Promise<{ status: number; headers: Headers; json: any }> {
  const res = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

/** Register → authorize → consent → Rally sign-in → callback → token, all over real HTTP. */
export async function signIn(
  base: string,
  username: string,
  o: { scope?: string; clientId?: string; redirectUri?: string; jar?: CookieJar } = {},
): Promise<SignedIn> {
  const redirectUri = o.redirectUri ?? DEFAULT_REDIRECT;
  const clientId = o.clientId ?? (await registerTestClient(base, redirectUri));
  const { redirect, verifier, state } = await authorizeToRedirect(base, {
    clientId,
    redirectUri,
    username,
    ...(o.scope ? { scope: o.scope } : {}),
    ...(o.jar ? { jar: o.jar } : {}),
  });
  const code = redirect.searchParams.get('code');
  if (!code || redirect.searchParams.get('state') !== state)
    throw new Error(`no code in redirect ${redirect.searchParams.get('error') ?? ''}`);
  const res = await tokenRequest(base, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
    client_id: clientId,
    resource: `${base}/mcp`,
  });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${JSON.stringify(res.json)}`);
  return {
    clientId,
    redirectUri,
    accessToken: res.json.access_token,
    refreshToken: res.json.refresh_token,
    scope: res.json.scope,
  };
}

/** A JSON-RPC call to /mcp; parses SSE or JSON answers. */
export async function mcpCall(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON that the test reads freely and checks with expect()
): Promise<{ status: number; headers: Headers; json: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  const data = text.split('\n').find((l) => l.startsWith('data: '));
  try {
    json = JSON.parse(data ? data.slice(6) : text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json };
}

export const initializeBody = (capabilities: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities, clientInfo: { name: 'test-client', version: '1.0.0' } },
});

export const toolCallBody = (name: string, args: Record<string, unknown>, id = 2) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

export interface RecordedSignIn {
  readonly clientId: string;
  readonly redirectUri: string;
  /** The MCP client's own state and PKCE verifier. */
  readonly clientState: string;
  readonly clientVerifier: string;
  /** The Rally authorize URL our /consent redirected to. */
  readonly rallyAuthorizeUrl: URL;
  /** Our state sent to Rally. */
  readonly rallyState: string;
  /** The __Host- binding cookie value. */
  readonly bindingCookie: string;
  /** Rally's authorization code as seen on /oauth/callback. */
  readonly rallyCode: string;
  /** Our authorization code returned to the client. */
  readonly code: string;
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly scope: string;
  /** Every URL the browser visited. */
  readonly urls: readonly string[];
}

async function follow(base: string, startUrl: string, username: string, stopAt: string, jar: CookieJar) {
  let rallyAuthorizeUrl: URL | undefined;
  let bindingCookie: string | undefined;
  const end = await browse(startUrl, {
    username,
    stopAt,
    jar,
    maxSteps: 14,
    onResponse: (url, res) => {
      const location = res.headers.get('location');
      if (new URL(url).pathname !== '/consent' || !location) return;
      rallyAuthorizeUrl = new URL(location);
      const set = res.headers.getSetCookie().find((c) => c.startsWith(`${BINDING_COOKIE}=`));
      bindingCookie = set?.split(';')[0]?.slice(BINDING_COOKIE.length + 1);
    },
  });
  if (!end.url.startsWith(stopAt)) throw new Error(`sign-in did not finish: ${end.steps.join(' → ')} (base ${base})`);
  return { final: new URL(end.url), urls: end.visited, rallyAuthorizeUrl, bindingCookie };
}

/** Register → authorize → consent → Rally sign-in → callback → token, recording every secret on the way. */
export async function recordedSignIn(
  base: string,
  username: string,
  o: { scope?: string; clientId?: string } = {},
): Promise<RecordedSignIn> {
  const redirectUri = DEFAULT_REDIRECT;
  const clientId = o.clientId ?? (await registerTestClient(base, redirectUri));
  const { verifier, challenge } = pkcePair();
  const clientState = randomBytes(16).toString('base64url');
  const authorize = new URL(`${base}/authorize`);
  const q = {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: clientState,
    resource: `${base}/mcp`,
    ...(o.scope ? { scope: o.scope } : {}),
  };
  for (const [k, v] of Object.entries(q)) authorize.searchParams.set(k, v);
  const jar = new CookieJar();
  const r = await follow(base, authorize.toString(), username, redirectUri, jar);
  const callbackUrl = r.urls.map((u) => new URL(u)).find((u) => u.pathname === '/oauth/callback' && u.origin === base);
  const code = r.final.searchParams.get('code');
  if (
    !code ||
    r.final.searchParams.get('state') !== clientState ||
    !r.rallyAuthorizeUrl ||
    !r.bindingCookie ||
    !callbackUrl
  ) {
    throw new Error(`incomplete sign-in: ${r.urls.join(' → ')}`);
  }
  const res = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
      client_id: clientId,
      resource: `${base}/mcp`,
    }),
  });
  const body = (await res.json()) as { access_token: string; refresh_token: string; scope: string };
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${JSON.stringify(body)}`);
  return {
    clientId,
    redirectUri,
    clientState,
    clientVerifier: verifier,
    rallyAuthorizeUrl: r.rallyAuthorizeUrl,
    rallyState: r.rallyAuthorizeUrl.searchParams.get('state') ?? '',
    bindingCookie: r.bindingCookie,
    rallyCode: callbackUrl.searchParams.get('code') ?? '',
    code,
    accessToken: body.access_token,
    refreshToken: body.refresh_token,
    scope: body.scope,
    urls: r.urls,
  };
}

export interface ConsentOutcome {
  readonly status: number;
  readonly location: string | null;
  readonly setCookie: readonly string[];
  readonly body: string;
}

/** GET /authorize for a fresh registered client, then POST the consent form as the same-origin page would. */
export async function consentToRally(
  base: string,
  o: { clientId?: string; jar?: CookieJar; scope?: string; extra?: Record<string, string> } = {},
): Promise<ConsentOutcome & { clientId: string }> {
  const clientId = o.clientId ?? (await registerTestClient(base, DEFAULT_REDIRECT));
  const { challenge } = pkcePair();
  const authorize = new URL(`${base}/authorize`);
  const q = {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: DEFAULT_REDIRECT,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: randomBytes(12).toString('base64url'),
    ...(o.scope ? { scope: o.scope } : {}),
    ...o.extra,
  };
  for (const [k, v] of Object.entries(q)) authorize.searchParams.set(k, v);
  const page = await fetch(authorize, { redirect: 'manual' });
  const html = await page.text();
  if (page.status !== 200) throw new Error(`authorize: ${page.status} ${html.slice(0, 200)}`);
  const form = parseForms(html, authorize.toString())[0];
  if (!form) throw new Error('no consent form');
  const cookie = o.jar?.header(form.action);
  const res = await fetch(form.action, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      origin: new URL(base).origin,
      'sec-fetch-site': 'same-origin',
      ...(cookie ? { cookie } : {}),
    },
    body: new URLSearchParams({ ...form.fields, decision: 'allow' }).toString(),
  });
  o.jar?.store(form.action, res);
  return {
    clientId,
    status: res.status,
    location: res.headers.get('location'),
    setCookie: res.headers.getSetCookie(),
    body: await res.text(),
  };
}

export const bearer = (token: string, extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${token}`,
  ...extra,
});

/** tools/call with a bearer; returns the HTTP status, headers and the JSON-RPC message. */
export function callTool(
  url: string,
  token: string,
  name: string,
  args: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) {
  return mcpCall(url, toolCallBody(name, args), bearer(token, headers));
}

/** The text of a tool result (first content item). */
export function resultText(json: unknown): string {
  const content = (json as { result?: { content?: Array<{ text?: string }> } } | undefined)?.result?.content;
  return content?.[0]?.text ?? '';
}

/** JWT/JWS (3 parts) or JWE (5 parts) compact serialisations. */
export const JOSE_LIKE = /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)?/;
