/**
 * The "Your access" page (issue 23) in Chromium against the local stack: alice signs in with two
 * clients (the MCP SDK's own OAuth client, and a second client registered with markup in its
 * name), opens /account through the Rally sign-in, sees both, ends one, then everything. Bob's
 * page never shows her rows, and neither a missing nor bob's CSRF token changes anything.
 * axe-core checks the page in the same Chromium. Screenshots land in test-results/.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, signInToRallySandbox } from '../../helpers/browser.js';
import { TestProvider } from '../../helpers/sdk-oauth-provider.js';
import { depsFor, startTestStack, waitOutLinkCache, type TestStack } from '../../helpers/stack.js';
import {
  BINDING_COOKIE,
  browse,
  CookieJar,
  callTool,
  registerTestClient,
  resultText,
  signIn,
  tokenRequest,
  type SignedIn,
} from '../../helpers/oauth-flow.js';
import { listActiveGrants } from '../../../shared/store/grants.repo.js';
import { runAccessCommand } from '../../../ops/admin.js';

const MARKUP_NAME = '<img src=x onerror="window.__pwned=1">Evil <b>Bot</b><script>window.__pwned=2</script>';
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeResult {
  violations: Array<{ id: string; impact: string | null; nodes: unknown[] }>;
  passes: unknown[];
}

describe('"Your access" page (/account)', () => {
  let stack: TestStack;
  let browser: Browser;
  let redirectServer: Server;
  let redirectUrl: string;
  const codes: URLSearchParams[] = [];
  let provider: TestProvider;
  let second: SignedIn;
  let alice: BrowserContext;
  let alicePage: Page;
  let bob: BrowserContext;
  let bobPage: Page;

  const grantsOf = async (sub: string) =>
    listActiveGrants(await depsFor(stack).db(), sub, stack.clock.now()).then((gs) => gs.map((g) => g.clientId).sort());
  const sdkConnect = async () => {
    const client = new Client({ name: 'account-e2e', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(stack.mcpUrl), { authProvider: provider }));
    return client;
  };
  /** Opens /account in `page` and signs in through Rally as `user` unless already signed in. */
  const openAccount = async (page: Page, user: string) => {
    await page.goto(`${stack.url}/account`);
    const signInButton = page.locator('button', { hasText: 'Sign in with Rally' });
    if ((await signInButton.count()) > 0) {
      await signInButton.click();
      await page.waitForURL((u) => u.pathname.startsWith('/login/oauth2/'));
      await signInToRallySandbox(page, user);
      await page.waitForURL(`${stack.url}/account`);
    }
    expect(await page.locator('p').first().textContent()).toContain(`Signed in to Rally as`);
  };
  const csrfOf = async (page: Page) => page.locator('form[action="/account/end-all"] input[name="csrf"]').inputValue();
  const rowIdOf = async (page: Page, name: string) =>
    (await page
      .locator('section.access-row', { has: page.locator('h3', { hasText: name }) })
      .getAttribute('data-row-id'))!;
  let aliceObjectId: string | undefined;
  /** alice's Rally ObjectID, read once from her signed-in page. */
  const aliceSub = async () => {
    aliceObjectId ??= /Rally user (\d+)/.exec((await alicePage.locator('p').first().textContent())!)![1]!;
    return aliceObjectId;
  };

  /** A POST from inside the browser context (its cookies), as one of our forms would send it. */
  const post = (ctx: BrowserContext, path: string, form: Record<string, string>, extra: Record<string, string> = {}) =>
    ctx.request.post(`${stack.url}${path}`, {
      form,
      headers: { origin: stack.url, 'sec-fetch-site': 'same-origin', ...extra },
      maxRedirects: 0,
    });

  beforeAll(async () => {
    redirectServer = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/callback') codes.push(url.searchParams);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('You can close this window.');
    });
    await new Promise<void>((r) => redirectServer.listen(0, '127.0.0.1', r));
    redirectUrl = `http://127.0.0.1:${(redirectServer.address() as AddressInfo).port}/callback`;
    stack = await startTestStack();
    browser = await launchBrowser();
    alice = await browser.newContext({ viewport: { width: 900, height: 900 } });
    bob = await browser.newContext();
    alicePage = await alice.newPage();
    bobPage = await bob.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await new Promise((r) => redirectServer?.close(r));
  });

  it('alice signs in with the SDK client and a second registered client', async () => {
    provider = new TestProvider(redirectUrl, 'SDK E2E client');
    const first = await sdkConnect();
    await expect(first.callTool({ name: 'get_rally_user', arguments: {} })).rejects.toBeInstanceOf(UnauthorizedError);
    const page = await alice.newPage();
    await page.goto(provider.authorizationUrls.at(-1)!.toString());
    await page.locator('button[value="allow"]').click();
    await page.waitForURL((u) => u.pathname.startsWith('/login/oauth2/'));
    await signInToRallySandbox(page, 'alice');
    await page.waitForURL((u) => u.toString().startsWith(redirectUrl));
    await page.close();
    const transport = new StreamableHTTPClientTransport(new URL(stack.mcpUrl), { authProvider: provider });
    await transport.finishAuth(codes.at(-1)!.get('code')!);
    expect((await (await sdkConnect()).callTool({ name: 'get_rally_user', arguments: {} })).isError).toBeFalsy();

    const clientId = await registerTestClient(stack.url, 'http://127.0.0.1:33418/callback', MARKUP_NAME);
    second = await signIn(stack.url, 'alice', { clientId, scope: 'rally.read' });
    expect((await callTool(stack.mcpUrl, second.accessToken, 'get_rally_user')).status).toBe(200);
  });

  it('Q3: the page is no-store, sends no referrer, has the strict CSP and cannot be framed', async () => {
    const res = await fetch(`${stack.url}/account`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('script-src');
    const framer = await browser.newPage();
    await framer.setContent(`<iframe src="${stack.url}/account"></iframe>`);
    const frame = framer.frames().find((f) => f !== framer.mainFrame());
    expect(frame?.url()).toBe('chrome-error://chromewebdata/');
    await framer.close();
  });

  it('Q4: alice sees both clients with their scopes, the markup name as text, and axe finds nothing serious', async () => {
    let dialogs = 0;
    alicePage.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    await openAccount(alicePage, 'alice');
    const rows = alicePage.locator('section.access-row');
    expect(await rows.count()).toBe(2);
    expect(await rows.locator('h3').allTextContents()).toEqual(['SDK E2E client', MARKUP_NAME]);
    const sdkRow = (await rows.nth(0).textContent())!;
    expect(sdkRow).toContain('rally.read (read), rally.write (write)');
    expect(sdkRow).toContain('by the application itself');
    expect(sdkRow).toContain('127.0.0.1:');
    expect(sdkRow).toContain('Rally user alice');
    const markupRow = (await rows.nth(1).textContent())!;
    expect(markupRow).toContain('rally.read (read)');
    expect(markupRow).not.toContain('rally.write');
    expect(markupRow).toContain(`Granted${stack.clock.now().toISOString().slice(0, 10)}`);
    expect(await rows.locator('img, b, script').count()).toBe(0); // Q4: no element from the name
    expect(await alicePage.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(dialogs).toBe(0);
    await alicePage.screenshot({ path: 'test-results/account-page.png', fullPage: true });

    // axe-core in the same Chromium (evaluated through the DevTools protocol: the page's CSP allows no script).
    await alicePage.evaluate(axeSource);
    const result = await alicePage.evaluate(() =>
      (window as unknown as { axe: { run(): Promise<AxeResult> } }).axe.run(),
    );
    expect(result.passes.length).toBeGreaterThan(10); // axe really ran
    writeFileSync('test-results/account-axe.json', JSON.stringify(result.violations.map((v) => [v.id, v.impact])));
    const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    expect(serious.map((v) => v.id)).toEqual([]);
  });

  it('Q2: bob never sees alice’s rows, and ending her row with his own session changes nothing', async () => {
    await openAccount(bobPage, 'bob');
    expect(await bobPage.locator('section.access-row').count()).toBe(0);
    expect(await bobPage.content()).not.toContain('SDK E2E client');
    const aliceRow = await rowIdOf(alicePage, 'SDK E2E client');
    const res = await post(bob, '/account/end', { csrf: await csrfOf(bobPage), row: aliceRow });
    expect(res.status()).toBe(403);
    const endAll = await post(bob, '/account/end-all', { csrf: await csrfOf(bobPage) });
    expect(endAll.status()).toBe(303);
    expect(await grantsOf(`rally:${await aliceSub()}`)).toHaveLength(2);
  });

  it('Q1: a change without the CSRF token, or with bob’s, is refused (403) and changes nothing', async () => {
    const row = await rowIdOf(alicePage, 'SDK E2E client');
    const bobCsrf = await csrfOf(bobPage);
    for (const form of [{ row }, { row, csrf: '' }, { row, csrf: bobCsrf }]) {
      expect((await post(alice, '/account/end', form)).status()).toBe(403);
    }
    expect((await post(alice, '/account/end-all', { csrf: bobCsrf })).status()).toBe(403);
    expect((await post(alice, '/account/sign-out', {})).status()).toBe(403);
    expect(await grantsOf(`rally:${await aliceSub()}`)).toHaveLength(2);
    await alicePage.reload();
    expect(await alicePage.locator('section.access-row').count()).toBe(2);
  });

  it('Q5: a cross-site POST is refused before any session is read; Origin null needs Sec-Fetch-Site same-origin', async () => {
    const row = await rowIdOf(alicePage, 'SDK E2E client');
    const csrf = await csrfOf(alicePage);
    expect((await post(alice, '/account/end', { row, csrf }, { 'sec-fetch-site': 'cross-site' })).status()).toBe(403);
    expect((await post(alice, '/account/end', { row, csrf }, { origin: 'https://evil.example' })).status()).toBe(403);
    const nullOrigin = { origin: 'null', 'sec-fetch-site': 'cross-site' };
    expect((await post(alice, '/account/end', { row, csrf }, nullOrigin)).status()).toBe(403);
    expect(await grantsOf(`rally:${await aliceSub()}`)).toHaveLength(2);
  });

  it('Q6: ending one client refuses its tokens within the cache window; the other keeps working', async () => {
    const posted = alicePage.waitForRequest((r) => r.method() === 'POST' && r.url() === `${stack.url}/account/end`);
    await alicePage
      .locator('section.access-row', { has: alicePage.locator('h3', { hasText: 'Evil' }) })
      .locator('button', { hasText: 'End access' })
      .click();
    // Q5: a real form post from a no-referrer page carries Origin null, vouched for by Sec-Fetch-Site.
    const sent = await (await posted).allHeaders();
    expect([sent.origin, sent['sec-fetch-site'], sent.referer]).toEqual(['null', 'same-origin', undefined]);
    await alicePage.waitForURL(`${stack.url}/account`);
    expect(await alicePage.locator('section.access-row h3').allTextContents()).toEqual(['SDK E2E client']);
    await waitOutLinkCache(stack);
    expect((await callTool(stack.mcpUrl, second.accessToken, 'get_rally_user')).status).toBe(401);
    const refresh = await tokenRequest(stack.url, {
      grant_type: 'refresh_token',
      refresh_token: second.refreshToken,
      client_id: second.clientId,
    });
    expect(refresh.status).toBe(400);
    expect(refresh.json.error).toBe('invalid_grant');
    expect((await (await sdkConnect()).callTool({ name: 'get_rally_user', arguments: {} })).isError).toBeFalsy();
  });

  it('a session link of alice (session-link mode) is listed and ended the way disconnect_rally ends it', async () => {
    const headers = { 'content-type': 'application/json', 'Session-ID': randomUUID() };
    const rest = async (tool: string, args: unknown = {}) => {
      const res = await fetch(`${stack.url}/tools/${tool}`, { method: 'POST', headers, body: JSON.stringify(args) });
      return { status: res.status, json: (await res.json()) as { authUrl?: string; isError?: boolean } };
    };
    const first = await rest('get_rally_user');
    const end = await browse(first.json.authUrl!, { username: 'alice', stopAt: 'never', jar: new CookieJar() });
    const code = /<span class="code">(\d{3}) (\d{3})<\/span>/.exec(end.body)!;
    expect((await rest('confirm_rally_link', { code: `${code[1]}${code[2]}` })).json.isError).toBeFalsy();
    expect((await rest('get_rally_user')).status).toBe(200);

    await alicePage.reload();
    const row = alicePage.locator('section.access-row', { has: alicePage.locator('h3', { hasText: 'Agent session' }) });
    expect(await row.count()).toBe(1);
    expect(await row.textContent()).toContain('Rally user alice@example.com since');
    await row.locator('button', { hasText: 'End access' }).click();
    await alicePage.waitForURL(`${stack.url}/account`);
    expect(await alicePage.locator('h3', { hasText: 'Agent session' }).count()).toBe(0);
    await waitOutLinkCache(stack);
    expect((await rest('get_rally_user')).status).toBe(401);
    expect(stack.logs.some((l) => l.includes('"event":"rally_disconnected"') && l.includes('"mode":"session"'))).toBe(
      true,
    );
  });

  it('Q6: a re-connect link handed out before the end cannot bring the client back', async () => {
    const third = await signIn(stack.url, 'alice', {
      clientId: await registerTestClient(stack.url, 'http://127.0.0.1:33418/callback', 'Relink client'),
    });
    expect((await callTool(stack.mcpUrl, third.accessToken, 'disconnect_rally')).json.result.isError).toBeFalsy();
    const prompt = await callTool(stack.mcpUrl, third.accessToken, 'get_rally_user');
    const link = /\((http[^)]+\/connect\/[A-Za-z0-9_-]+)\)/.exec(resultText(prompt.json))![1]!;
    await alicePage.reload();
    await alicePage
      .locator('section.access-row', { has: alicePage.locator('h3', { hasText: 'Relink client' }) })
      .locator('button', { hasText: 'End access' })
      .click();
    await alicePage.waitForURL(`${stack.url}/account`);
    expect(await alicePage.locator('section.access-row h3').allTextContents()).toEqual(['SDK E2E client']);
    const relink = await browse(link, { username: 'alice', stopAt: 'never' });
    expect(relink.body).not.toContain('Rally is connected.');
    expect(relink.status).toBe(404);
    expect((await callTool(stack.mcpUrl, third.accessToken, 'get_rally_user')).status).toBe(401);
  });

  it('Q6: "End everything" ends the rest, and the SDK client must sign in again', async () => {
    await alicePage.locator('button', { hasText: 'End everything' }).click();
    await alicePage.waitForURL(`${stack.url}/account`);
    expect(await alicePage.locator('section.access-row').count()).toBe(0);
    expect(await grantsOf(`rally:${await aliceSub()}`)).toEqual([]);
    await waitOutLinkCache(stack);
    const before = provider.authorizationUrls.length;
    await expect((await sdkConnect()).callTool({ name: 'get_rally_user', arguments: {} })).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
    expect(provider.authorizationUrls.length).toBe(before + 1);
  });

  it('the operator command lists the same rows and ends them through the same path', async () => {
    const again = await signIn(stack.url, 'alice', {
      clientId: await registerTestClient(stack.url, 'http://127.0.0.1:33418/callback', 'Operator test client'),
    });
    const objectId = await aliceSub();
    const run = async (...argv: string[]) => {
      const lines: string[] = [];
      const code = await runAccessCommand(argv, depsFor(stack), (l) => lines.push(l));
      return { code, out: lines.join('\n') };
    };
    const listed = await run('list', objectId);
    expect(listed.code).toBe(0);
    expect(listed.out).toContain('"Operator test client"');
    expect(listed.out).toContain('Scopes: rally.read (read), rally.write (write)');
    const rowId = listed.out.split('\t')[1]!;
    await alicePage.reload();
    expect(await rowIdOf(alicePage, 'Operator test client')).toBe(rowId); // the page's row, the same id
    expect((await run('end', '1', rowId)).code).toBe(1); // another user's row: nothing changes
    expect(await grantsOf(`rally:${objectId}`)).toEqual([again.clientId]);
    expect(await run('end', objectId, rowId)).toEqual({ code: 0, out: `ended ${rowId}` });
    expect(await grantsOf(`rally:${objectId}`)).toEqual([]);
    await waitOutLinkCache(stack);
    expect((await callTool(stack.mcpUrl, again.accessToken, 'get_rally_user')).status).toBe(401);
    expect((await run('list', objectId)).out).toContain('nothing acts for this user');
    expect((await run('list', 'alice')).code).toBe(2);
  });

  it('Q7: an unknown cookie lists nothing and changes nothing; signing out ends the session', async () => {
    const cookie = `${BINDING_COOKIE}=${'A'.repeat(43)}`;
    const page = await fetch(`${stack.url}/account`, { headers: { cookie } });
    expect(await page.text()).toContain('Sign in with Rally');
    const change = await fetch(`${stack.url}/account/end-all`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, origin: stack.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: 'x' }),
    });
    expect(change.status).toBe(403);

    await alicePage.locator('button', { hasText: 'Sign out of this page' }).click();
    await alicePage.waitForURL(`${stack.url}/account`);
    expect(await alicePage.locator('button', { hasText: 'Sign in with Rally' }).count()).toBe(1);

    // bob's session ends on its own after 15 minutes: his page asks to sign in, and his token changes nothing.
    const csrf = await csrfOf(bobPage);
    await stack.clock.advanceSeconds(15 * 60 + 1);
    expect((await post(bob, '/account/end-all', { csrf })).status()).toBe(403);
    await bobPage.reload();
    expect(await bobPage.locator('button', { hasText: 'Sign in with Rally' }).count()).toBe(1);
  });
  it('"Last used" is the last refresh, taken from the rotation’s own write', async () => {
    const signedIn = await signIn(stack.url, 'alice', {
      clientId: await registerTestClient(stack.url, 'http://127.0.0.1:33418/callback', 'Refreshing client'),
    });
    const granted = stack.clock.now().toISOString().slice(0, 10);
    await stack.clock.advanceSeconds(2 * 86_400);
    const refreshed = await tokenRequest(stack.url, {
      grant_type: 'refresh_token',
      refresh_token: signedIn.refreshToken,
      client_id: signedIn.clientId,
    });
    expect(refreshed.status).toBe(200);
    const lines: string[] = [];
    await runAccessCommand(['list', await aliceSub()], depsFor(stack), (l) => lines.push(l));
    const out = lines.join('\n');
    expect(out).toContain(`Granted: ${granted}`);
    expect(out).toContain(`Last used: ${stack.clock.now().toISOString().slice(0, 10)}`);
    expect(granted).not.toBe(stack.clock.now().toISOString().slice(0, 10));
  });
});
