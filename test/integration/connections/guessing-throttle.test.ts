/**
 * O24: failed connection-token lookups are throttled per client address with the throttle
 * /authorize uses (shared/ratelimit/address-throttle.ts), over real HTTP: guesses from one address
 * are refused (429 with Retry-After) before any lookup once over the limit, on /mcp and on
 * /tools/<tool>, while other addresses and good tokens elsewhere are untouched; the bucket refills
 * on the servers' clock. Each loopback address (127.0.0.x) is its own client address.
 */
import { randomUUID } from 'node:crypto';
import { fromAddress } from '../../helpers/address.js';
import { until } from '../../helpers/poll.js';
import { toolCallBody } from '../../helpers/oauth-flow.js';
import { callWithHeaders, createToken, signInToConsole } from '../../helpers/connections.js';
import { startTestStack, type TestStack } from '../../helpers/stack.js';

const LIMIT = 3;

describe('O24: per-address throttle of failed connection-token lookups', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ env: { ADDRESS_LIMIT_CONNECTION_TOKEN_FAILURES_PER_MINUTE: String(LIMIT) } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const mcp = (from: string, token: string) =>
    fromAddress(from, stack.mcpUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'x-rally-mcp-token': token,
      },
      body: JSON.stringify(toolCallBody('get_rally_user', {})),
    });
  const lookups = () =>
    stack.logs.filter((l) => /"reason":"connection_token_(unknown|secret|malformed)"/.test(l)).length;
  /**
   * The lookups logged once every line the server wrote before now has been read: an answer can
   * reach the test before its log line does, so a marker request's own line (after them) is awaited.
   */
  const settledLookups = async () => {
    const marker = randomUUID();
    await fromAddress('127.0.0.99', stack.mcpUrl, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'x-ms-client-request-id': marker },
      body: 'x',
    });
    await until(() => stack.logs.some((l) => l.includes(marker)), 'the marker request to be logged', 5000);
    return lookups();
  };

  it('O24: guesses from one address: 401 up to the limit, then 429 before any lookup (a good token from there waits too); other addresses unaffected; refills', async () => {
    const jar = await signInToConsole(stack.url, 'alice');
    const { token } = await createToken(stack.url, jar);
    const guess = `${token.slice(0, -4)}AAAA`;
    for (let i = 0; i < LIMIT; i++) expect((await mcp('127.0.0.21', guess)).status).toBe(401);
    expect(await settledLookups()).toBe(LIMIT);
    const over = await mcp('127.0.0.21', guess);
    expect(over.status).toBe(429);
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    const good = await mcp('127.0.0.21', token);
    expect(good.status).toBe(429);
    const rest = await fromAddress('127.0.0.21', `${stack.url}/tools/get_rally_user`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-rally-mcp-token': guess },
      body: '{}',
    });
    expect(rest.status).toBe(429);
    expect(rest.headers['retry-after']).toBeDefined();
    expect(await settledLookups()).toBe(LIMIT); // nothing was looked up once over the limit
    expect((await mcp('127.0.0.22', guess)).status).toBe(401); // another address: its own bucket
    expect((await mcp('127.0.0.23', token)).status).toBe(200);
    expect((await callWithHeaders(stack.url, { 'X-Rally-MCP-Token': token }, 'get_rally_user')).status).toBe(200);
    await stack.clock.advanceSeconds(60);
    expect((await mcp('127.0.0.21', token)).status).toBe(200);
  });
});
