/**
 * The GitHub sandbox in tests: start one with a test client, walk its OAuth
 * pages without a browser (`signInToGitHubViaForms`, from any authorize URL,
 * ours included), or in Chromium (`signInToGitHubSandbox`), and call its token
 * endpoint and API the way GitHub's clients do.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { startGitHubSandbox, type GitHubSandboxHandle } from '../../github-sandbox/index.js';
import type { GitHubSandboxOptions } from '../../github-sandbox/types.js';

export const GITHUB_CLIENT = {
  clientId: 'Iv1.5a4d9e2b7c3f1a60',
  clientSecret: 'ghsandbox0f1e2d3c4b5a69788796a5b4c3d2e1f0a1b2c3d4',
  callbackUrl: 'http://127.0.0.1:9/oauth/callback',
} as const;

export function startTestGitHubSandbox(extra: Partial<GitHubSandboxOptions> = {}): Promise<GitHubSandboxHandle> {
  return startGitHubSandbox({
    clientId: GITHUB_CLIENT.clientId,
    clientSecret: GITHUB_CLIENT.clientSecret,
    callbackUrls: [GITHUB_CLIENT.callbackUrl],
    ...extra,
  });
}

export const githubPkcePair = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

/** An authorize URL on the sandbox; `params` override or (undefined) remove defaults. */
export function githubAuthorizeUrl(
  sb: Pick<GitHubSandboxHandle, 'webUrl'>,
  params: Record<string, string | undefined> = {},
): string {
  const url = new URL('/login/oauth/authorize', sb.webUrl);
  const all: Record<string, string | undefined> = {
    client_id: GITHUB_CLIENT.clientId,
    redirect_uri: GITHUB_CLIENT.callbackUrl,
    scope: 'repo read:user',
    state: 'st-123',
    ...params,
  };
  for (const [k, v] of Object.entries(all)) if (v !== undefined) url.searchParams.set(k, v);
  return url.toString();
}

export const hiddenTx = (html: string): string => {
  const m = /name="tx" value="([^"]+)"/.exec(html);
  if (!m?.[1]) throw new Error(`no tx field in page: ${html.slice(0, 300)}`);
  return m[1];
};

export function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
}

export interface GitHubFormSignIn {
  readonly user?: string;
  readonly password?: string;
  /** The Authorize page's button (when the page appears). */
  readonly decision?: 'allow' | 'deny';
}

/**
 * Opens `authorizeUrl` (a sandbox URL: `githubAuthorizeUrl`, or one our server built), signs in, presses
 * Authorize (or Cancel) if the page appears, and returns where the browser is sent: the callback with
 * `code` and `state`, or with `error`. Throws with the page's text when sign-in fails.
 */
export async function signInToGitHubViaForms(authorizeUrl: string, o: GitHubFormSignIn = {}): Promise<URL> {
  const user = o.user ?? 'alice';
  const origin = new URL(authorizeUrl).origin;
  const page = await fetch(authorizeUrl, { redirect: 'manual' });
  if (page.status === 302) return new URL(page.headers.get('location') ?? '');
  const html = await page.text();
  if (page.status !== 200) throw new Error(`authorize answered ${page.status}: ${html.slice(0, 300)}`);
  const tx = hiddenTx(html);
  const signed = await postForm(`${origin}/login/oauth/authorize/signin`, {
    tx,
    username: user,
    password: o.password ?? user,
  });
  if (signed.status === 302) return new URL(signed.headers.get('location') ?? '');
  const authorizePage = await signed.text();
  if (!authorizePage.includes('/login/oauth/authorize/decision'))
    throw new Error(
      `GitHub sandbox sign-in failed for ${user}: ${/role="alert">([^<]*)/.exec(authorizePage)?.[1] ?? signed.status}`,
    );
  const done = await postForm(`${origin}/login/oauth/authorize/decision`, { tx, decision: o.decision ?? 'allow' });
  if (done.status !== 302) throw new Error(`authorize decision did not redirect: ${done.status}`);
  return new URL(done.headers.get('location') ?? '');
}

/**
 * Chromium: fills the sandbox sign-in form on `page` (already at a GitHub sandbox authorize URL), presses
 * Authorize if that page appears, and waits until the browser has left the sandbox's /login/oauth pages.
 */
export async function signInToGitHubSandbox(
  page: Page,
  username: string,
  options: { password?: string; timeoutMs?: number } = {},
): Promise<void> {
  const timeout = options.timeoutMs ?? 15_000;
  const origin = new URL(page.url()).origin;
  const leftSignIn = (u: URL) => u.origin !== origin || !u.pathname.startsWith('/login/oauth/');
  await page.locator('input[name="username"]').fill(username, { timeout });
  await page.locator('input[name="password"]').fill(options.password ?? username, { timeout });
  await page.locator('button[type="submit"]').first().click({ timeout });
  const authorize = page.locator('button[value="allow"]').first();
  const alert = page.locator('[role="alert"]').first();
  const next = await Promise.race(
    [
      authorize.waitFor({ state: 'visible', timeout }).then(() => 'authorize' as const),
      page.waitForURL(leftSignIn, { timeout, waitUntil: 'commit' }).then(() => 'away' as const),
      alert.waitFor({ state: 'visible', timeout }).then(() => 'error' as const),
    ].map((p) => p.catch(() => 'timeout' as const)),
  );
  if (next === 'away') return;
  if (next !== 'authorize') {
    const text = await alert.textContent({ timeout: 1000 }).catch(() => null);
    throw new Error(`GitHub sandbox sign-in failed for ${username}: ${text ?? next}`);
  }
  await authorize.click({ timeout });
  await page.waitForURL(leftSignIn, { timeout, waitUntil: 'commit' });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- sandbox JSON that the tests read freely and check with expect()
export type Json = Record<string, any>;

/** POST /login/oauth/access_token with the test client's credentials (unless given) and `Accept: application/json`. */
export async function githubTokenRequest(
  sb: Pick<GitHubSandboxHandle, 'webUrl'>,
  form: Record<string, string>,
  accept = 'application/json',
): Promise<{ status: number; text: string; body: Json; headers: Headers }> {
  const res = await postForm(
    `${sb.webUrl}/login/oauth/access_token`,
    { client_id: GITHUB_CLIENT.clientId, client_secret: GITHUB_CLIENT.clientSecret, ...form },
    { accept },
  );
  const text = await res.text();
  let body: Json = {};
  try {
    body = JSON.parse(text) as Json;
  } catch {
    // form-encoded or XML
  }
  return { status: res.status, text, body, headers: res.headers };
}

/** Signs `user` in through the pages with PKCE and exchanges the code: the sandbox's token answer. */
export async function githubSignIn(
  sb: GitHubSandboxHandle,
  user = 'alice',
  params: Record<string, string | undefined> = {},
): Promise<Json> {
  const { verifier, challenge } = githubPkcePair();
  const back = await signInToGitHubViaForms(
    githubAuthorizeUrl(sb, { code_challenge: challenge, code_challenge_method: 'S256', ...params }),
    { user },
  );
  const code = back.searchParams.get('code');
  if (!code) throw new Error(`no code: ${back.toString()}`);
  const res = await githubTokenRequest(sb, {
    code,
    redirect_uri: params.redirect_uri ?? GITHUB_CLIENT.callbackUrl,
    code_verifier: verifier,
  });
  if (!res.body.access_token) throw new Error(`token request failed: ${res.text}`);
  return res.body;
}

/** GET on the sandbox API the way a GitHub client does. */
export async function githubApi(
  sb: Pick<GitHubSandboxHandle, 'apiUrl'>,
  path: string,
  token: string | undefined,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json; text: string; headers: Headers }> {
  const res = await fetch(`${sb.apiUrl}${path}`, {
    headers: {
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
      'user-agent': 'rally-mcp-tests',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...headers,
    },
    redirect: 'manual',
  });
  const text = await res.text();
  let body: Json = {};
  try {
    body = JSON.parse(text) as Json;
  } catch {
    // plain text
  }
  return { status: res.status, body, text, headers: res.headers };
}
