/**
 * Issue 18 end to end, as the Copilot coding agent would meet it: a person creates a connection
 * token on the /connections pages in Chromium (sign-in through our server to the Rally sandbox),
 * and the MCP SDK's own client, given nothing but a static header (no OAuth code, no auth
 * provider), reads; it is refused writes until a token has write scope, and refused (401) right
 * after the person revokes the token, once the documented cache window (LINK_CACHE_SECONDS) has
 * passed. Screenshots land in test-results/ for a human look.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, signInToRallySandbox } from '../../helpers/browser.js';
import { startTestStack, waitOutLinkCache, type TestStack } from '../../helpers/stack.js';
import { TOKEN_SHAPE } from '../../helpers/connections.js';

/** An MCP client configured like the coding agent's `mcpServers` entry: a URL and static headers. */
async function staticHeaderClient(url: string, headers: Record<string, string>) {
  const client = new Client({ name: 'copilot-coding-agent-like', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

async function createOnPage(page: Page, name: string, write: boolean): Promise<string> {
  await page.locator('#name').fill(name);
  if (write) await page.locator('input[name="write"]').check();
  await page.locator('button', { hasText: 'Create token' }).click();
  await page.waitForURL((u) => u.pathname === '/connections/create');
  const token = (await page.locator('#token').textContent())?.trim() ?? '';
  expect(token).toMatch(TOKEN_SHAPE);
  return token;
}

describe('headless agent end to end (issue 18)', () => {
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

  it('O11: token made in Chromium → a static-header MCP client reads, is refused writes until a write token, and gets 401 after revocation', async () => {
    const page = await browser.newPage({ viewport: { width: 900, height: 1000 } });
    await page.goto(`${stack.url}/connections`);
    await page.screenshot({ path: 'test-results/connections-sign-in.png', fullPage: true });
    await page.locator('button', { hasText: 'Sign in with Rally' }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/login/oauth2/'));
    await signInToRallySandbox(page, 'alice');
    await page.waitForURL((u) => u.toString() === `${stack.url}/connections`);
    expect(await page.locator('h1').textContent()).toBe('Connection tokens');
    expect(await page.locator('input[name="write"]').isChecked()).toBe(false); // read-only unless opted in
    await page.screenshot({ path: 'test-results/connections-page.png', fullPage: true });

    const readToken = await createOnPage(page, 'Copilot coding agent: acme/web', false);
    await page.screenshot({ path: 'test-results/connections-created.png', fullPage: true });
    // Shown once: reloading the creation page creates and shows nothing.
    await page.reload();
    expect(await page.content()).not.toContain(readToken);

    const reader = await staticHeaderClient(stack.mcpUrl, { 'X-Rally-MCP-Token': readToken });
    const who = await reader.callTool({ name: 'get_rally_user', arguments: {} });
    expect(who.isError).toBeFalsy();
    expect(JSON.stringify(who.structuredContent)).toContain('alice@example.com');
    await expect(
      reader.callTool({ name: 'create_rally_story', arguments: { name: 'From the agent' } }),
    ).rejects.toThrow(/403|insufficient_scope|scope/i);

    await page.goto(`${stack.url}/connections`);
    const writeToken = await createOnPage(page, 'Copilot coding agent: acme/api', true);
    const writer = await staticHeaderClient(stack.mcpUrl, { Authorization: `Bearer ${writeToken}` });
    const created = await writer.callTool({ name: 'create_rally_story', arguments: { name: 'From the agent' } });
    expect(created.isError).toBeFalsy();

    // The person revokes the read token on the page; after the cache window the agent gets 401.
    await page.goto(`${stack.url}/connections`);
    const id = readToken.slice('rmcp_ct_'.length, 'rmcp_ct_'.length + 20);
    await page.locator(`[data-token-id="${id}"] button`, { hasText: 'Revoke' }).click();
    await page.waitForURL((u) => u.toString() === `${stack.url}/connections`);
    expect(await page.locator(`[data-token-id="${id}"]`).textContent()).toContain('revoked');
    await waitOutLinkCache(stack);
    const refused = await fetch(stack.mcpUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'X-Rally-MCP-Token': readToken,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'get_rally_user', arguments: {} },
      }),
    });
    expect(refused.status).toBe(401);
    await expect(reader.callTool({ name: 'get_rally_user', arguments: {} })).rejects.toThrow(/invalid or expired/);
    // The write token was not revoked.
    expect((await writer.callTool({ name: 'get_rally_user', arguments: {} })).isError).toBeFalsy();
    await Promise.all([reader.close(), writer.close(), page.close()]);
  });
});
