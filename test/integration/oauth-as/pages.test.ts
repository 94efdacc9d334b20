/**
 * The pages a person sees, rendered by headless Chromium: the consent page
 * and the connect page read well, keep Cancel as prominent as Allow, and
 * cannot be framed. Screenshots land in test-results/ for a human look.
 */
import { randomUUID } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../../helpers/browser.js';
import { startTestStack, type TestStack } from '../../helpers/stack.js';
import { pkcePair, registerTestClient } from '../../helpers/oauth-flow.js';

describe('pages in a browser', () => {
  let stack: TestStack;
  let browser: Browser;
  beforeAll(async () => {
    stack = await startTestStack({ env: { SESSION_LINK_MODE: 'true' } });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('C8/C9: the consent page names the client and the access, and Cancel is as large as Allow', async () => {
    const clientId = await registerTestClient(stack.url, 'http://127.0.0.1:33418/callback', 'Visual Studio Code');
    const url = new URL(`${stack.url}/authorize`);
    for (const [k, v] of Object.entries({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: 'http://127.0.0.1:33418/callback',
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
      state: 's',
    }))
      url.searchParams.set(k, v);
    const page = await browser.newPage({ viewport: { width: 900, height: 760 } });
    await page.goto(url.toString());
    await page.screenshot({ path: 'test-results/consent-page.png', fullPage: true });
    expect(await page.locator('h1').textContent()).toBe('Allow Visual Studio Code to use Rally as you?');
    const cancel = await page.locator('button[value="deny"]').boundingBox();
    const allow = await page.locator('button[value="allow"]').boundingBox();
    expect(cancel!.width).toBeGreaterThanOrEqual(allow!.width - 1);
    expect(cancel!.height).toBe(allow!.height);
    // C9: the page refuses to be framed by another origin.
    const framer = await browser.newPage();
    // setContent resolves on the window's load, which waits for the frame's navigation to end, refused or not.
    await framer.setContent(`<iframe id="f" src="${url.toString()}"></iframe>`);
    const frame = framer.frames().find((f) => f !== framer.mainFrame());
    expect(frame?.url()).toBe('chrome-error://chromewebdata/'); // Chromium's page for a refused navigation
    expect(await frame!.locator('h1').count()).toBe(0);
  });

  it('the connect page shows who asked, when, and the verification code', async () => {
    const res = await fetch(`${stack.url}/tools/get_rally_user`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'Session-ID': randomUUID(),
        'x-ms-copilot-agent-id': 'sales-assistant',
      },
      body: '{}',
    });
    const body = (await res.json()) as { authUrl: string; message: string };
    const code = /verification code ([A-Z0-9]{3}-[A-Z0-9]{3})/.exec(body.message)![1]!;
    const page = await browser.newPage({ viewport: { width: 900, height: 760 } });
    await page.goto(body.authUrl);
    await page.screenshot({ path: 'test-results/connect-page.png', fullPage: true });
    expect(await page.locator('.code').textContent()).toBe(code);
    expect(await page.locator('dl').textContent()).toContain('sales-assistant');
  });
});
