/**
 * The project field of the /connections creation form in Chromium (issue 18, O23): after a real
 * sign-in through our server to the Rally sandbox, the form lists the user's open projects; ticking
 * one makes a token limited to it, which the list shows and /mcp enforces. Screenshots land in
 * test-results/ for a human look.
 */
import type { Browser } from 'playwright-core';
import { launchBrowser, signInToRallySandbox } from '../../helpers/browser.js';
import { startTestStack, type TestStack } from '../../helpers/stack.js';
import { callWithHeaders, TOKEN_SHAPE } from '../../helpers/connections.js';

describe('project allowlist on the /connections page (issue 18)', () => {
  let stack: TestStack;
  let browser: Browser;
  beforeAll(async () => {
    stack = await startTestStack();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('O23: in Chromium the form lists the user’s projects; a token made with one ticked is limited to it', async () => {
    const page = await browser.newPage({ viewport: { width: 900, height: 1200 } });
    await page.goto(`${stack.url}/connections`);
    await page.locator('button', { hasText: 'Sign in with Rally' }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/login/oauth2/'));
    await signInToRallySandbox(page, 'alice');
    await page.waitForURL((u) => u.toString() === `${stack.url}/connections`);

    const boxes = page.locator('#projects input[type="checkbox"][name="projects"]');
    expect(await page.locator('#projects label').allTextContents()).toEqual([
      ' Acme Mobile',
      ' Acme Online',
      ' Alice Private',
    ]);
    for (let i = 0; i < (await boxes.count()); i++) expect(await boxes.nth(i).isChecked()).toBe(false); // none: every project
    expect(await page.locator('#projects').isVisible()).toBe(true);
    await page.locator('#name').fill('Copilot coding agent: private repo');
    await page.locator('#projects label', { hasText: 'Alice Private' }).locator('input').check();
    await page.screenshot({ path: 'test-results/connections-projects-form.png', fullPage: true });

    await page.locator('button', { hasText: 'Create token' }).click();
    await page.waitForURL((u) => u.pathname === '/connections/create');
    const token = (await page.locator('#token').textContent())?.trim() ?? '';
    expect(token).toMatch(TOKEN_SHAPE);
    expect(await page.locator('main').textContent()).toContain('It reaches only these Rally projects: Alice Private.');
    await page.screenshot({ path: 'test-results/connections-projects-created.png', fullPage: true });

    await page.goto(`${stack.url}/connections`);
    const id = token.slice('rmcp_ct_'.length, 'rmcp_ct_'.length + 20);
    expect(await page.locator(`[data-token-id="${id}"]`).textContent()).toContain('projects: Alice Private');
    await page.screenshot({ path: 'test-results/connections-projects-list.png', fullPage: true });

    const headers = { 'X-Rally-MCP-Token': token };
    const inside = await callWithHeaders(stack.url, headers, 'get_rally_issue', { id: 'US34' });
    expect(inside.json.result.isError).toBeFalsy();
    const outside = await callWithHeaders(stack.url, headers, 'get_rally_issue', { id: 'US1' });
    expect(outside.json.result.isError).toBe(true);
    expect(outside.json.result.content[0].text).toMatch(/only some Rally projects/);
    await page.close();
  });
});
