/**
 * The GitHub sandbox's sign-in in headless Chromium: the pages work in a real
 * browser (form posts, redirects), `signInToGitHubSandbox` drives them, and the
 * code the callback receives redeems. Screenshots land in test-results/sandbox/.
 */
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import type { GitHubSandboxHandle } from '../../github-sandbox/index.js';
import { launchBrowser } from '../helpers/browser.js';
import {
  GITHUB_CLIENT,
  githubApi,
  githubAuthorizeUrl,
  githubPkcePair,
  githubTokenRequest,
  signInToGitHubSandbox,
  startTestGitHubSandbox,
} from '../helpers/github-sandbox.js';

const SHOTS = 'test-results/sandbox';

async function startCallback(): Promise<{ server: Server; url: string; hits: URLSearchParams[] }> {
  const hits: URLSearchParams[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/oauth/callback') hits.push(url.searchParams);
    res.writeHead(200, { 'content-type': 'text/html' }).end('<p>Signed in.</p>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth/callback`, hits };
}

describe('GitHub sandbox sign-in in headless Chromium', () => {
  let browser: Browser;
  let page: Page;
  let sb: GitHubSandboxHandle;
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
    page = await (await browser.newContext({ viewport: { width: 1000, height: 720 } })).newPage();
    cb.hits.length = 0;
    sb = await startTestGitHubSandbox({ callbackUrls: [cb.url], tokenMode: 'github-app' });
  });
  afterEach(async () => {
    await page.context().close();
    await sb.stop();
  });

  it('signs in, authorizes, lands on the callback with code and state; the code redeems with its verifier', async () => {
    const { verifier, challenge } = githubPkcePair();
    await page.goto(
      githubAuthorizeUrl(sb, {
        redirect_uri: cb.url,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state: 'browser',
      }),
    );
    await page.screenshot({ path: `${SHOTS}/github-1-sign-in.png` });
    await page.fill('input[name="username"]', 'alice');
    await page.fill('input[name="password"]', 'nope');
    await page.click('button[type="submit"]');
    await page.locator('[role="alert"]').waitFor();
    await page.screenshot({ path: `${SHOTS}/github-2-sign-in-error.png` });
    await page.locator('button[type="submit"]').waitFor();
    await signInToGitHubSandbox(page, 'alice');
    expect(cb.hits).toHaveLength(1);
    const back = cb.hits[0]!;
    expect(back.get('state')).toBe('browser');
    const tokens = await githubTokenRequest(sb, {
      code: back.get('code') ?? '',
      redirect_uri: cb.url,
      code_verifier: verifier,
    });
    expect((await githubApi(sb, '/user', tokens.body.access_token)).body.login).toBe('alice');
  });

  it('Cancel on the Authorize page sends access_denied to the callback', async () => {
    await page.goto(githubAuthorizeUrl(sb, { redirect_uri: cb.url }));
    await page.fill('input[name="username"]', 'bob');
    await page.fill('input[name="password"]', 'bob');
    await page.click('button[type="submit"]');
    await page.locator('button[value="deny"]').waitFor();
    await page.screenshot({ path: `${SHOTS}/github-3-authorize.png` });
    await page.click('button[value="deny"]');
    await page.waitForURL((u) => u.pathname === '/oauth/callback');
    expect(cb.hits[0]?.get('error')).toBe('access_denied');
    expect(GITHUB_CLIENT.clientId).toBe(sb.clientId);
  });
});
