/**
 * Session-link mode: the Session-ID / x-ms-copilot-session-id flow, end to
 * end over real HTTP with headless Chromium and the Rally sandbox, plus the
 * forwarded-link defences (group C) and the edge cases around them.
 */
import { randomUUID } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UrlElicitationRequiredError } from '@modelcontextprotocol/sdk/types.js';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, signInToRallySandbox } from '../../helpers/browser.js';
import { depsFor, startTestStack, type TestStack } from '../../helpers/stack.js';
import { COLLECTIONS } from '../../../shared/store/collections.js';
import { browse, CookieJar, initializeBody, mcpCall, signIn, toolCallBody } from '../../helpers/oauth-flow.js';
import { sha256Id } from '../../../shared/kernel/hash.js';

describe('session-link mode', () => {
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

  const rest = async (tool: string, args: unknown, headers: Record<string, string>) => {
    const res = await fetch(`${stack.url}/tools/${tool}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(args),
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON that the test reads freely and checks with expect()
    return { status: res.status, headers: res.headers, json: (await res.json()) as any };
  };

  /** The user's part in a browser: connect page (codes match) → Rally sign-in → the confirmation code. */
  async function signInInBrowser(
    authUrl: string,
    username: string,
    expectCode?: string,
  ): Promise<{ page: Page; code: string }> {
    const page = await (await browser.newContext()).newPage();
    await page.goto(authUrl);
    if (expectCode) expect(await page.locator('.code').textContent()).toBe(expectCode);
    await page.locator('button[value="continue"]').click();
    await page.waitForURL((u) => u.pathname.startsWith('/login/oauth2/'));
    await signInToRallySandbox(page, username);
    await page.waitForURL((u) => u.pathname === '/oauth/callback');
    expect(await page.locator('h1').textContent()).toBe('Rally is connected.');
    const code = (await page.locator('.code').textContent())!.replace(/\s/g, '');
    return { page, code };
  }

  it('REST: 401 + authUrl → browser sign-in as alice → confirmation → the same request retried succeeds', async () => {
    const headers = { 'Session-ID': randomUUID() };
    const first = await rest('get_rally_user', {}, headers);
    expect(first.status).toBe(401);
    expect(first.json.error).toBe('authorization_required');
    expect(first.headers.get('www-authenticate')).toContain('resource_metadata=');
    const authUrl: string = first.json.authUrl;
    expect(authUrl).toMatch(new RegExp(`^${stack.url}/connect/[A-Za-z0-9_-]{43}$`));
    expect(authUrl).not.toContain(headers['Session-ID']);
    const shownCode = /verification code ([A-Z0-9]{3}-[A-Z0-9]{3})/.exec(first.json.message)![1]!;

    const { page, code } = await signInInBrowser(authUrl, 'alice', shownCode);
    await page.screenshot({ path: 'test-results/session-link-connected.png' });
    // C3: until the code comes back over this session, the tokens are unusable.
    const pending = await rest('get_rally_user', {}, headers);
    expect(pending.status).toBe(401);
    expect(pending.json.error).toBe('confirmation_required');
    const confirm = await rest('confirm_rally_link', { code }, headers);
    expect(confirm.status).toBe(200);
    expect(confirm.json.isError).toBeFalsy();

    const retried = await rest('get_rally_user', {}, headers);
    expect(retried.status).toBe(200);
    expect(JSON.stringify(retried.json.structuredContent)).toContain('alice@example.com');

    // disconnect (REST twin): the next call asks to sign in again.
    expect((await rest('disconnect_rally', {}, headers)).status).toBe(200);
    expect((await rest('get_rally_user', {}, headers)).status).toBe(401);
  });

  it('MCP: a client with elicitation.url gets -32042, which the SDK parses as UrlElicitationRequiredError', async () => {
    const sessionId = randomUUID();
    const client = new Client(
      { name: 'elicit-client', version: '1.0.0' },
      { capabilities: { elicitation: { url: {} } } },
    );
    await client.connect(
      new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
        requestInit: { headers: { 'x-ms-copilot-session-id': sessionId } },
      }),
    );
    const err = await client.callTool({ name: 'get_rally_user', arguments: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UrlElicitationRequiredError);
    const elicitation = (err as UrlElicitationRequiredError).elicitations[0]!;
    expect(elicitation.mode).toBe('url');
    expect(elicitation.url).toMatch(new RegExp(`^${stack.url}/connect/[A-Za-z0-9_-]{43}$`));
    expect(elicitation.elicitationId).toMatch(/^[A-Za-z0-9_-]{32}$/);

    const { code } = await signInInBrowser(elicitation.url, 'bob');
    const confirmed = await client.callTool({ name: 'confirm_rally_link', arguments: { code } });
    expect(confirmed.isError).toBeFalsy();
    const who = await client.callTool({ name: 'get_rally_user', arguments: {} });
    expect(JSON.stringify(who.structuredContent)).toContain('bob@example.com');
    expect(JSON.stringify(who)).not.toContain('alice@example.com');
    await client.close();
  });

  it('MCP without elicitation.url: an isError result with a clickable link and retry advice', async () => {
    const headers = { 'Session-ID': randomUUID() };
    await mcpCall(stack.mcpUrl, initializeBody({}), headers);
    const res = await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), headers);
    expect(res.status).toBe(200);
    expect(res.json.result.isError).toBe(true);
    expect(res.json.result.content[0].text).toMatch(
      new RegExp(`\\[Connect Rally\\]\\(${stack.url}/connect/[A-Za-z0-9_-]{43}\\)`),
    );
    expect(res.json.result.content[0].text).toContain('retry');
    // initialize and tools/list work unlinked
    const list = await mcpCall(stack.mcpUrl, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, headers);
    expect(list.json.result.tools.map((t: { name: string }) => t.name)).toContain('confirm_rally_link');
  });

  /** A pending sign-in for a new session, done browserlessly; returns the code shown in the browser. */
  async function pendingLink(headers: Record<string, string>, username = 'alice') {
    const first = await rest('get_rally_user', {}, headers);
    const end = await browse(first.json.authUrl, { username, stopAt: 'never', jar: new CookieJar() });
    const code = /<span class="code">(\d{3}) (\d{3})<\/span>/.exec(end.body);
    if (!code) throw new Error(`no confirmation code: ${end.steps.join(', ')}`);
    return { code: `${code[1]}${code[2]}`, authUrl: first.json.authUrl as string };
  }

  it('C3/C5: the victim completes a forwarded link; the tokens stay pending, and the code from another session is refused', async () => {
    const attacker = { 'Session-ID': randomUUID() };
    const { code } = await pendingLink(attacker, 'bob'); // bob (the victim) signed in through the attacker's link
    expect((await rest('get_rally_user', {}, attacker)).json.error).toBe('confirmation_required');
    const otherSession = { 'Session-ID': randomUUID() };
    const wrongSession = await rest('confirm_rally_link', { code }, otherSession);
    expect(wrongSession.json.isError).toBe(true);
    expect(wrongSession.json.content[0].text).toContain('No sign-in is waiting');
    expect((await rest('get_rally_user', {}, otherSession)).status).toBe(401);
  });

  it('C4: five wrong codes destroy the pending link and are logged', async () => {
    const headers = { 'Session-ID': randomUUID() };
    const { code } = await pendingLink(headers);
    const wrong = code === '000000' ? '111111' : '000000';
    const texts: string[] = [];
    for (let i = 0; i < 5; i++)
      texts.push((await rest('confirm_rally_link', { code: wrong }, headers)).json.content[0].text);
    expect(texts[0]).toContain('4 attempt(s) left');
    expect(texts[4]).toContain('Too many wrong codes');
    const late = await rest('confirm_rally_link', { code }, headers);
    expect(late.json.isError).toBe(true);
    expect(late.json.content[0].text).toContain('No sign-in is waiting');
    expect(stack.logs.some((l) => l.includes('"event":"access_denied"') && l.includes('"confirmation_locked"'))).toBe(
      true,
    );
  });

  it('L2: disconnect_rally in session-link mode also drops a pending, unconfirmed sign-in: its code can no longer link the session', async () => {
    const headers = { 'Session-ID': randomUUID() };
    const { code } = await pendingLink(headers, 'alice');
    expect((await rest('disconnect_rally', {}, headers)).status).toBe(200);
    expect((await rest('confirm_rally_link', { code }, headers)).json.content[0].text).toContain(
      'No sign-in is waiting',
    );
    expect((await rest('get_rally_user', {}, headers)).status).toBe(401);
    // A session that never signed in has no session document: disconnecting it is still a plain success.
    expect((await rest('disconnect_rally', {}, { 'Session-ID': randomUUID() })).status).toBe(200);
  });

  it('C7: a session linked to alice is never switched to bob', async () => {
    const headers = { 'Session-ID': randomUUID() };
    const { code } = await pendingLink(headers, 'alice');
    expect((await rest('confirm_rally_link', { code }, headers)).status).toBe(200);
    // Alice's Rally grant is revoked: the session must sign in again…
    stack.sandbox!.revokeGrants('alice');
    stack.sandbox!.expireAccessTokens('alice');
    const prompt = await rest('get_rally_user', {}, headers);
    expect(prompt.status).toBe(401);
    // …and a sign-in as bob through that link is refused, nothing changes.
    const end = await browse(prompt.json.authUrl, { username: 'bob', stopAt: 'never', jar: new CookieJar() });
    expect(end.status).toBe(403);
    expect(end.body).toContain('different Rally');
    expect((await rest('confirm_rally_link', { code: '123456' }, headers)).json.content[0].text).toContain(
      'No sign-in is waiting',
    );
  });

  it('connect links are single use and state cannot be replayed; 50 parallel callbacks with one state → one wins', async () => {
    const headers = { 'Session-ID': randomUUID() };
    const first = await rest('get_rally_user', {}, headers);
    const jar = new CookieJar();
    const atRally = await browse(first.json.authUrl, { username: 'alice', stopAt: stack.sandbox!.url, jar });
    // The connect link was consumed by the POST: opening it again is a 404.
    expect((await fetch(first.json.authUrl)).status).toBe(404);
    const back = await browse(atRally.url, {
      username: 'alice',
      stopAt: `${stack.url}/oauth/callback`,
      jar: new CookieJar(),
    });
    const cookie = jar.header(stack.url)!;
    const before = stack.sandbox!.requests().filter((r) => r.url === '/login/oauth2/token').length;
    const statuses = await Promise.all(
      Array.from({ length: 50 }, () =>
        fetch(back.url, { headers: { cookie }, redirect: 'manual' }).then((r) => r.status),
      ),
    );
    // The state is consumed with a precondition write (no lock queue): one wins, the 49 others fail fast as used.
    expect(statuses.sort((a, b) => a - b)).toEqual([200, ...Array<number>(49).fill(400)]);
    expect(stack.sandbox!.requests().filter((r) => r.url === '/login/oauth2/token').length - before).toBe(1);
  });

  it('too-short or non-random session ids are refused with advice; mcp-session-id is never a credential', async () => {
    for (const weak of [
      'abc',
      '12345',
      'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
      '00000000-0000-4000-8000-000000000000',
      'session-1',
    ]) {
      const res = await rest('get_rally_user', {}, { 'Session-ID': weak });
      expect({ weak, status: res.status }).toEqual({ weak, status: 400 });
      expect(JSON.stringify(res.json)).toContain('randomUUID');
    }
    const onlyMcpSession = await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), {
      'mcp-session-id': randomUUID(),
    });
    expect(onlyMcpSession.status).toBe(401);
  });

  it('L11: weak session ids (the alphabet run, the whole alphabet, well-known example UUIDs, nil/max, repeats, runs) → 400 with advice, nothing stored', async () => {
    const weak = [
      'ABCDEFGHIJKLMNOPQRSTUV',
      'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
      '123e4567-e89b-42d3-a456-426614174000',
      'f47ac10b-58cc-4372-a567-0e02b2c3d479',
      '00000000-0000-0000-0000-000000000000',
      'ffffffff-ffff-ffff-ffff-ffffffffffff',
      'abababababababababababababababab',
      '0123456789012345678901234567890123',
    ];
    for (const value of weak) {
      for (const header of ['Session-ID', 'x-ms-copilot-session-id']) {
        const res = await rest('get_rally_user', {}, { [header]: value });
        expect({ value, header, status: res.status, error: res.json.error }).toEqual({
          value,
          header,
          status: 400,
          error: 'invalid_session',
        });
        expect(res.json.message).toContain('randomUUID');
      }
    }
  });

  it('header precedence: x-ms-copilot-session-id wins over Session-ID', async () => {
    const linked = { 'Session-ID': randomUUID() };
    const { code } = await pendingLink(linked, 'bob');
    expect((await rest('confirm_rally_link', { code }, linked)).status).toBe(200);
    // Same Session-ID, but a (new, unlinked) Copilot session id present: the Copilot header is the one used.
    const both = await rest('get_rally_user', {}, { ...linked, 'x-ms-copilot-session-id': randomUUID() });
    expect(both.status).toBe(401);
    expect((await rest('get_rally_user', {}, linked)).status).toBe(200);
  });

  it('G3: a linked session value presented with another user’s token, or a bad token, never reaches that session’s state', async () => {
    const aliceSession = { 'Session-ID': randomUUID() };
    const { code } = await pendingLink(aliceSession, 'alice');
    expect((await rest('confirm_rally_link', { code }, aliceSession)).status).toBe(200);
    const bob = await signIn(stack.url, 'bob');
    // With a bearer, the token's user decides; the session header is only a label.
    const withBob = await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), {
      ...aliceSession,
      authorization: `Bearer ${bob.accessToken}`,
    });
    expect(JSON.stringify(withBob.json.result.structuredContent)).toContain('bob@example.com');
    expect(JSON.stringify(withBob.json)).not.toContain('alice@example.com');
    // A bad bearer never falls back to the session.
    const bad = await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), {
      ...aliceSession,
      authorization: 'Bearer not-a-token',
    });
    expect(bad.status).toBe(401);
  });

  it('bob’s session never sees alice’s private items', async () => {
    const bob = { 'Session-ID': randomUUID() };
    const { code } = await pendingLink(bob, 'bob');
    await rest('confirm_rally_link', { code }, bob);
    const res = await rest('get_rally_issue', { id: 'US34' }, bob); // alice's private story
    expect(res.status).toBe(200);
    expect(res.json.isError).toBe(true);
    expect(JSON.stringify(res.json)).not.toMatch(/Alice Private/);
  });

  it('N8: under MCP 2026-07-28 a session id is not a sign-in: a linked session gets 401 with the OAuth challenge and a reason, discovery stays public, nothing is created', async () => {
    // A session linked and confirmed the 2025 way (REST), so the refusal cannot be "not linked".
    const headers = { 'Session-ID': randomUUID() };
    const authUrl: string = (await rest('get_rally_user', {}, headers)).json.authUrl;
    const page = await browse(authUrl, { username: 'alice', stopAt: 'never' });
    const code = /class="code"[^>]*>([^<]+)</.exec(page.body)![1]!.replace(/\s/g, '');
    expect((await rest('confirm_rally_link', { code }, headers)).status).toBe(200);
    expect((await rest('get_rally_user', {}, headers)).status).toBe(200);

    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientInfo': { name: 'raw-2026', version: '1.0.0' },
      'io.modelcontextprotocol/clientCapabilities': { elicitation: { url: {} } },
    };
    const modern = (method: string, params: Record<string, unknown>, extra: Record<string, string> = {}) =>
      mcpCall(
        stack.mcpUrl,
        { jsonrpc: '2.0', id: 7, method, params: { ...params, _meta: meta } },
        { ...headers, 'mcp-protocol-version': '2026-07-28', 'mcp-method': method, ...extra },
      );
    const db = await depsFor(stack).db();
    const connectLinks = async () => (await db.collection(COLLECTIONS.connectTransactions).get()).size;
    const linksBefore = await connectLinks();
    const call = await modern(
      'tools/call',
      { name: 'get_rally_user', arguments: {} },
      { 'mcp-name': 'get_rally_user' },
    );
    expect(call.status).toBe(401);
    expect(call.headers.get('www-authenticate')).toMatch(
      /^Bearer .*resource_metadata="[^"]+\/\.well-known\/oauth-protected-resource/,
    );
    expect(call.json.error.message).toMatch(/Session-link mode serves MCP 2025 clients only/);
    expect(JSON.stringify(call.json)).not.toMatch(/\/connect\//); // no sign-in link handed to a session id
    expect(await connectLinks()).toBe(linksBefore);
    // Discovery and the catalogue stay public, with or without the header.
    const discover = await modern('server/discover', {});
    expect(discover.status).toBe(200);
    const list = await modern('tools/list', {}, { 'mcp-method': 'tools/list' });
    expect(list.status).toBe(200);
    expect(list.json.result.tools.map((t: { name: string }) => t.name)).toContain('get_rally_user');
    // The same session keeps working for its 2025 client.
    expect((await rest('get_rally_user', {}, headers)).status).toBe(200);
  });
});

describe('L12: one session identity for credential, limits, logs and audit', () => {
  let stack: TestStack;
  const POLICY = { version: 1, defaults: { rateLimits: { perSessionPerMinute: 3 } }, clients: {}, agents: {} };

  beforeAll(async () => {
    stack = await startTestStack({ env: { SESSION_LINK_MODE: 'true', POLICY_JSON: JSON.stringify(POLICY) } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const rest = async (headers: Record<string, string>) => {
    const res = await fetch(`${stack.url}/tools/get_rally_user`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: '{}',
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON that the test reads freely and checks with expect()
    return { status: res.status, headers: res.headers, json: (await res.json()) as any };
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parsed log line that the test reads freely and checks with expect()
  type LogLine = Record<string, any>;
  const lines = () =>
    stack.logs
      .map((l) => {
        try {
          return JSON.parse(l) as LogLine;
        } catch {
          return undefined;
        }
      })
      .filter((l): l is LogLine => l !== undefined);

  it('L12: a Session-ID user is rate-limited per session, and its audit lines carry the same sessionHash as x-ms-copilot-session-id would', async () => {
    // A fresh per-minute window on the servers' clock, with the whole minute ahead: the burst cannot straddle two.
    await stack.clock.toNextMinute();
    const value = randomUUID();
    const label = sha256Id(`session-id:${value}`).slice(0, 16);
    const asSessionId = { 'Session-ID': value, 'x-ms-client-request-id': randomUUID() };
    // Three calls of the session (two as Session-ID, one as x-ms-copilot-session-id: the same session) are served…
    expect((await rest(asSessionId)).status).toBe(401); // authorization_required: served, not limited
    expect((await rest({ 'Session-ID': value })).status).toBe(401);
    expect((await rest({ 'x-ms-copilot-session-id': value })).status).toBe(401);
    // …the fourth in the minute is refused, whichever header carries the session.
    const limited = await rest({ 'Session-ID': value });
    expect(limited.status).toBe(429);
    expect(limited.json.error).toBe('rate_limited');
    expect(limited.json.message).toMatch(/^Rate limit reached \(3 calls per minute per (session|user)\)/);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await rest({ 'x-ms-copilot-session-id': value })).status).toBe(429);
    // Another session is not affected.
    expect((await rest({ 'Session-ID': randomUUID() })).status).toBe(401);

    const audit = lines().filter((l) => l.audit === true);
    const first = audit.filter((l) => l.requestId === asSessionId['x-ms-client-request-id']);
    expect(first.map((l) => l.event)).toEqual(expect.arrayContaining(['tool_executed', 'sign_in_started']));
    for (const l of first) {
      expect(l.sessionHash).toBe(label);
      expect(l.metadata.copilot_session_id).toBe(label);
    }
    const rateLimited = audit.filter((l) => l.event === 'rate_limited' && l.sessionHash === label);
    expect(rateLimited).toHaveLength(2);
    for (const l of rateLimited) expect(l.metadata.copilot_session_id).toBe(label);
    // README's "everything in session Y" query: both headers' lines share the one label.
    expect(new Set(audit.filter((l) => l.metadata?.copilot_session_id === label).map((l) => l.event))).toEqual(
      new Set(['tool_executed', 'sign_in_started', 'rate_limited']),
    );
  });
});
