import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import type { RallySandboxHandle } from '../../rally-sandbox/index.js';
import { launchBrowser, signInToRallySandbox } from '../helpers/browser.js';
import { CLIENT, startSandbox, tokenRequest, wsapi } from './support.js';

const SHOTS = 'test-results/sandbox';

/** A tiny redirect target that records every query string it receives. */
async function startCallback(): Promise<{ server: Server; url: string; hits: URLSearchParams[] }> {
  const hits: URLSearchParams[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/oauth/callback') hits.push(url.searchParams); // Chromium also asks for /favicon.ico
    res.writeHead(200, { 'content-type': 'text/html' }).end('<p>Signed in. You can close this window.</p>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth/callback`, hits };
}

describe('sandbox sign-in in headless Chromium', () => {
  let browser: Browser;
  let page: Page;
  let sb: RallySandboxHandle | undefined;
  let cb: Awaited<ReturnType<typeof startCallback>>;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    browser = await launchBrowser();
    cb = await startCallback();
  });
  afterAll(async () => {
    await browser.close();
    await new Promise((r) => cb.server.close(r));
  });
  beforeEach(async () => {
    page = await (await browser.newContext({ viewport: { width: 1100, height: 760 } })).newPage();
    cb.hits.length = 0;
  });
  afterEach(async () => {
    await page.context().close();
    await sb?.stop();
    sb = undefined;
  });

  const authorizeUrl = (s: RallySandboxHandle) =>
    `${s.url}/login/oauth2/auth?${new URLSearchParams({ response_type: 'code', client_id: CLIENT.clientId, redirect_uri: cb.url, scope: 'alm', state: 'browser-state' }).toString()}`;

  it('completes sign-in → Allow → redirect, and the code redeems for working tokens', async () => {
    sb = await startSandbox({ redirectUris: [cb.url] });
    await page.goto(authorizeUrl(sb));
    await page.screenshot({ path: `${SHOTS}/1-sign-in.png` });
    await page.fill('input[name="username"]', 'alice');
    await page.fill('input[name="password"]', 'wrong');
    await page.click('button[type="submit"]');
    await page.locator('[role="alert"]').waitFor();
    await page.screenshot({ path: `${SHOTS}/2-sign-in-error.png` });
    await page.fill('input[name="password"]', 'alice');
    await page.click('button[type="submit"]');
    await page.locator('button', { hasText: 'Allow' }).waitFor();
    await page.screenshot({ path: `${SHOTS}/3-allow-access.png` });
    await page.click('button:has-text("Allow")');
    await page.waitForURL((u) => u.pathname === '/oauth/callback');
    expect(cb.hits).toHaveLength(1);
    const hit = cb.hits[0] as URLSearchParams;
    expect(hit.get('state')).toBe('browser-state');
    const code = hit.get('code') as string;
    const tokens = await tokenRequest(sb, { grant_type: 'authorization_code', code, redirect_uri: cb.url });
    expect(tokens.status).toBe(200);
    const me = await wsapi(sb, tokens.body.access_token as string).get('/user');
    expect(me.body.User.UserName).toBe('alice@example.com');
  });

  it('signInToRallySandbox works with and without autoApprove', async () => {
    for (const autoApprove of [false, true]) {
      sb = await startSandbox({ redirectUris: [cb.url], autoApprove });
      await page.goto(authorizeUrl(sb));
      await signInToRallySandbox(page, 'bob');
      expect(new URL(page.url()).pathname).toBe('/oauth/callback');
      await sb.stop();
      sb = undefined;
    }
    expect(cb.hits.map((h) => h.get('state'))).toEqual(['browser-state', 'browser-state']);
    expect(cb.hits.every((h) => (h.get('code') ?? '').length === 32)).toBe(true);
  });

  it('signInToRallySandbox reports a failed sign-in', async () => {
    sb = await startSandbox({ redirectUris: [cb.url] });
    await page.goto(authorizeUrl(sb));
    await expect(signInToRallySandbox(page, 'alice', { password: 'nope' })).rejects.toThrow(
      'The username or password you entered is incorrect.',
    );
    expect(cb.hits).toEqual([]);
  });

  it('shows an error page (no redirect) for a mismatched redirect_uri', async () => {
    sb = await startSandbox({ redirectUris: [cb.url] });
    const res = await page.goto(
      authorizeUrl(sb).replace(encodeURIComponent('/oauth/callback'), encodeURIComponent('/evil')),
    );
    expect(res?.status()).toBe(400);
    await page.screenshot({ path: `${SHOTS}/4-bad-redirect.png` });
    expect(await page.locator('h1').textContent()).toBe('Invalid redirect URI');
    expect(cb.hits).toEqual([]);
  });
});
