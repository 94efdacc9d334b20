/**
 * The whole default-mode flow as a real MCP client runs it: the MCP
 * TypeScript SDK's own OAuth client (discovery → registration → PKCE) and a
 * headless Chromium that clicks through our consent page and the Rally
 * sandbox's sign-in; then a tool call, a refresh and a revocation.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import type { Browser } from 'playwright-core';
import { launchBrowser, signInToRallySandbox } from '../../helpers/browser.js';
import { TestProvider } from '../../helpers/sdk-oauth-provider.js';
import { startTestStack, waitOutLinkCache, type TestStack } from '../../helpers/stack.js';

/** Short enough to state, long enough that no step of a slow sign-in outlives it: the test moves the clock past it. */
const ACCESS_TOKEN_TTL_SECONDS = 300;
/** The access-token check's leeway (shared/crypto/access-token.ts CLOCK_TOLERANCE_SECONDS). */
const VERIFY_LEEWAY_SECONDS = 5;

describe('MCP SDK client against the deployed shape (default mode)', () => {
  let stack: TestStack;
  let browser: Browser;
  let redirectServer: Server;
  let redirectUrl: string;
  const codes: URLSearchParams[] = [];

  beforeAll(async () => {
    redirectServer = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/callback') codes.push(url.searchParams);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('You can close this window.');
    });
    await new Promise<void>((r) => redirectServer.listen(0, '127.0.0.1', r));
    redirectUrl = `http://127.0.0.1:${(redirectServer.address() as AddressInfo).port}/callback`;
    stack = await startTestStack({ env: { ACCESS_TOKEN_TTL_SECONDS: String(ACCESS_TOKEN_TTL_SECONDS) } });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await new Promise((r) => redirectServer.close(r));
  });

  it('discovers, registers, signs in as alice in Chromium, calls a tool, refreshes, and is revoked', async () => {
    const provider = new TestProvider(redirectUrl);
    const connect = async () => {
      const client = new Client({ name: 'sdk-e2e', version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(new URL(stack.mcpUrl), { authProvider: provider });
      await client.connect(transport);
      return { client, transport };
    };

    // initialize and tools/list are public; the first tool call meets the 401 and the SDK runs discovery + DCR.
    const first = await connect();
    expect((await first.client.listTools()).tools.map((t) => t.name)).toContain('get_rally_user');
    await expect(first.client.callTool({ name: 'get_rally_user', arguments: {} })).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
    expect(provider.info?.client_id).toMatch(/^rmcp_/);
    const authUrl = provider.authorizationUrls.at(-1)!;
    expect(authUrl.origin + authUrl.pathname).toBe(`${stack.url}/authorize`);
    expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authUrl.searchParams.get('resource')).toBe(stack.mcpUrl);

    // The user: our consent page (Allow), then Rally's sign-in and Allow pages, then back to the client.
    const page = await browser.newPage();
    await page.goto(authUrl.toString());
    expect(await page.locator('h1').textContent()).toContain('SDK E2E client');
    await page.locator('button[value="allow"]').click();
    await page.waitForURL((u) => u.pathname.startsWith('/login/oauth2/'));
    await signInToRallySandbox(page, 'alice');
    await page.waitForURL((u) => u.toString().startsWith(redirectUrl));
    await page.close();
    const back = codes.at(-1)!;
    expect(back.get('iss')).toBe(stack.url);
    await first.transport.finishAuth(back.get('code')!);
    const firstAccess = provider.saved!.access_token;

    // Signed in: the retried tool call runs against Rally as alice.
    const second = await connect();
    const who = await second.client.callTool({ name: 'get_rally_user', arguments: {} });
    expect(who.isError).toBeFalsy();
    expect(JSON.stringify(who.structuredContent)).toContain('alice@example.com');

    // The access token expires (its TTL + the verification leeway, on the servers' clock); the SDK refreshes with its
    // refresh token on the 401 and retries.
    await stack.clock.advanceSeconds(ACCESS_TOKEN_TTL_SECONDS + VERIFY_LEEWAY_SECONDS + 1);
    const third = await connect();
    const again = await third.client.callTool({ name: 'get_rally_user', arguments: {} });
    expect(again.isError).toBeFalsy();
    expect(provider.saved!.access_token).not.toBe(firstAccess);

    // Revocation (RFC 7009) ends the grant: the next call is refused and the SDK must start over.
    const revoke = await fetch(`${stack.url}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: provider.saved!.refresh_token!, client_id: provider.info!.client_id }),
    });
    expect(revoke.status).toBe(200);
    await waitOutLinkCache(stack); // the warm instance may serve the link it read for LINK_CACHE_SECONDS
    const before = provider.authorizationUrls.length;
    // The access token is refused (401) and the SDK's refresh gets invalid_grant: it drops its tokens and
    // sends the user to sign in again.
    await expect(third.client.callTool({ name: 'get_rally_user', arguments: {} })).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
    expect(provider.saved).toBeUndefined();
    expect(provider.authorizationUrls.length).toBe(before + 1);

    // No MCP bearer ever reached Rally.
    for (const r of stack.sandbox!.requests()) {
      expect(r.headers.authorization).toBeUndefined();
      expect(JSON.stringify(r.headers)).not.toContain(firstAccess);
    }
  });
});
