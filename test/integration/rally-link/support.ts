/**
 * Helpers for the authorization-layer integration tests: a recorded sign-in
 * (every intermediate value a leak check needs), the consent → Rally redirect,
 * direct Firestore reads through an in-process Deps built from the stack's
 * own server environment, and small /mcp call wrappers.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import type { Firestore } from '@google-cloud/firestore';
import { createDeps } from '../../../shared/app/deps.js';
import { type Deps } from '../../../shared/services/deps.js';
import { loadConfig } from '../../../shared/config/config.js';
import { createLogger } from '../../../shared/logging/logger.js';
import { COLLECTIONS } from '../../../shared/store/collections.js';
import { browse, CookieJar, mcpCall, parseForms, registerTestClient, toolCallBody } from '../../helpers/oauth-flow.js';
import type { TestStack } from '../../helpers/stack.js';

export const BINDING_COOKIE = '__Host-rally-mcp-tx';
export const DEFAULT_REDIRECT = 'http://127.0.0.1:33418/callback';

/** base64url(SHA-256): how the product names documents for secret lookup values. */
export const sha256Id = (v: string): string => createHash('sha256').update(v, 'utf8').digest('base64url');

/** Deps in the test process, on the same emulator project, keys and config as the stack's servers. */
/** The test's own view of the stack's stores. It reads Firestore every time (no link cache): tests inspect the truth. */
export function depsFor(stack: TestStack, overrides: Record<string, string> = {}, clock?: { now(): Date }): Deps {
  const config = loadConfig({ ...stack.serverEnv, LINK_CACHE_SECONDS: '0', ...overrides });
  return createDeps(config, { log: createLogger({ level: 'error', write: () => {} }), ...(clock ? { clock } : {}) });
}

export interface StoredDoc {
  readonly collection: string;
  readonly id: string;
  readonly json: string;
}

/** Every document in every collection the product uses (shared/store/collections.ts), including subcollections. */
export async function dumpFirestore(db: Firestore): Promise<StoredDoc[]> {
  const out: StoredDoc[] = [];
  const seen = new Set<string>(Object.values(COLLECTIONS));
  for (const c of await db.listCollections()) seen.add(c.id);
  for (const name of seen) {
    const snap = await db.collection(name).get();
    for (const d of snap.docs) {
      out.push({ collection: name, id: d.id, json: JSON.stringify(d.data()) });
      for (const sub of await d.ref.listCollections()) {
        for (const s of (await sub.get()).docs)
          out.push({ collection: `${name}/${d.id}/${sub.id}`, id: s.id, json: JSON.stringify(s.data()) });
      }
    }
  }
  return out;
}

export const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

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
  const { verifier, challenge } = pkce();
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
  const { challenge } = pkce();
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

export const wsapi = (stack: TestStack) =>
  (stack.sandbox?.requests() ?? []).filter((r) => r.url.startsWith('/slm/webservice/'));

export function sandboxOf(stack: TestStack) {
  if (!stack.sandbox) throw new Error('stack without sandbox');
  return stack.sandbox;
}

export const refreshCount = (stack: TestStack): number => sandboxOf(stack).stats().tokenRequests.refresh_token ?? 0;

/** A throwaway HTTP server on loopback that records what reaches it (e.g. "another origin" for D7). */
export async function listen(): Promise<{ port: number; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
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
