/**
 * L20: unauthenticated requests that would create Firestore documents are
 * throttled per client address before any write. Black-box over real HTTP:
 * clients connect from distinct loopback addresses (127.0.0.x), and the
 * local front door appends the connecting address to X-Forwarded-For as
 * Google's front end does.
 */
import { randomUUID } from 'node:crypto';
import { Firestore } from '@google-cloud/firestore';
import { startTestStack, type TestStack } from '../../helpers/stack.js';
import { fromAddress, type Answer } from '../../helpers/address.js';
import { initializeBody, pkcePair, registerTestClient, toolCallBody } from '../../helpers/oauth-flow.js';
import { emulatorFirestore } from '../../helpers/firestore.js';
import { COLLECTIONS } from '../../../shared/store/collections.js';

const REDIRECT = 'http://127.0.0.1:33418/callback';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON that the test reads freely and checks with expect()
const rpcResult = (a: Answer): any => {
  const data = a.body.split('\n').find((l) => l.startsWith('data: '));
  return JSON.parse(data ? data.slice(6) : a.body);
};

describe('L20: per-address throttle of unauthenticated writes', () => {
  let stack: TestStack;
  let db: Firestore;

  beforeAll(async () => {
    stack = await startTestStack({
      env: {
        SESSION_LINK_MODE: 'true',
        ADDRESS_LIMIT_REGISTER_PER_MINUTE: '2',
        ADDRESS_LIMIT_AUTHORIZE_PER_MINUTE: '3',
        ADDRESS_LIMIT_SESSION_INITIALIZE_PER_MINUTE: '2',
        ADDRESS_LIMIT_CONNECT_LINK_PER_MINUTE: '2',
      },
    });
    db = emulatorFirestore(stack.projectId, stack.firestoreHost);
    // A cold server's first Firestore write can outlast its deadline on a loaded machine (503):
    // warm it from an address no test uses, so the counted requests below meet a warm server.
    for (let i = 0; i < 3 && (await register('127.0.0.250')).status === 503; i++);
  });
  afterAll(async () => {
    await db?.terminate();
    await stack?.stop();
  });

  const countDocs = async (name: string) => (await db.collection(name).get()).size;

  const register = (from: string, headers: Record<string, string> = {}) =>
    fromAddress(from, `${stack.url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({
        client_name: 'L20 client',
        redirect_uris: [REDIRECT],
        token_endpoint_auth_method: 'none',
      }),
    });

  it('L20: /register — the 3rd registration from one address in a minute gets 429 + Retry-After and stores no client; a forged X-Forwarded-For does not help; another address is unaffected', async () => {
    expect((await register('127.0.0.2')).status).toBe(201);
    expect((await register('127.0.0.2')).status).toBe(201);
    const before = await countDocs(COLLECTIONS.clients);
    const refused = await register('127.0.0.2');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(refused.body)).toEqual({
      error: 'temporarily_unavailable',
      error_description: expect.stringMatching(/^Too many requests from your network\. Try again in \d+ seconds\.$/),
    });
    expect((await register('127.0.0.2', { 'x-forwarded-for': '198.51.100.23' })).status).toBe(429); // the left-most entry is the client's own
    expect(await countDocs(COLLECTIONS.clients)).toBe(before);
    expect((await register('127.0.0.3')).status).toBe(201);
    expect(await countDocs(COLLECTIONS.clients)).toBe(before + 1);
  });

  it('L20: /authorize — the 4th authorization request from one address gets a 429 page with Retry-After and stores no auth request; another address is unaffected', async () => {
    const clientId = await registerTestClient(stack.url, REDIRECT);
    const url = new URL(`${stack.url}/authorize`);
    const { challenge } = pkcePair();
    for (const [k, v] of Object.entries({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 's',
    }))
      url.searchParams.set(k, v);
    for (let i = 0; i < 3; i++) expect((await fromAddress('127.0.0.4', url.toString())).status).toBe(200);
    const before = await countDocs(COLLECTIONS.authRequests);
    const refused = await fromAddress('127.0.0.4', url.toString());
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.headers['content-type']).toContain('text/html');
    expect(refused.body).toContain('Too many requests from your network');
    expect(await countDocs(COLLECTIONS.authRequests)).toBe(before);
    expect((await fromAddress('127.0.0.5', url.toString())).status).toBe(200);
    expect(await countDocs(COLLECTIONS.authRequests)).toBe(before + 1);
  });

  it('O15: POST /connections/sign-in (issue 18) shares /authorize’s limit: the 4th from one address gets a 429 page and stores no sign-in', async () => {
    const signIn = (from: string) =>
      fromAddress(from, `${stack.url}/connections/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
        body: '',
      });
    for (let i = 0; i < 3; i++) expect((await signIn('127.0.0.14')).status).toBe(303);
    const before = await countDocs(COLLECTIONS.linkTransactions);
    const refused = await signIn('127.0.0.14');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.headers['content-type']).toContain('text/html');
    expect(await countDocs(COLLECTIONS.linkTransactions)).toBe(before);
    expect((await signIn('127.0.0.15')).status).toBe(303);
  });

  const mcp = (from: string, body: unknown, sessionId: string) =>
    fromAddress(from, stack.mcpUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'Session-ID': sessionId,
      },
      body: JSON.stringify(body),
    });

  it('L20: session-link initialize — past the limit, a new session from one address gets 429 with Retry-After and creates no session document; another address is unaffected', async () => {
    const initialize = (from: string) => mcp(from, initializeBody({ elicitation: { url: {} } }), randomUUID());
    for (let i = 0; i < 2; i++) expect((await initialize('127.0.0.6')).status).toBe(200);
    const before = await countDocs(COLLECTIONS.sessions);
    const throttled = await initialize('127.0.0.6');
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
    expect(rpcResult(throttled).error.message).toMatch(
      /^Too many requests from your network address\. Try again in \d+ s\./,
    );
    expect(await countDocs(COLLECTIONS.sessions)).toBe(before);
    expect((await initialize('127.0.0.7')).status).toBe(200);
    expect(await countDocs(COLLECTIONS.sessions)).toBe(before + 1);
  });

  it('L20: tool calls from unlinked sessions — the 3rd connect link from one address is refused with a clear tool error (429 + Retry-After on POST /tools), and stores no connect transaction; another address is unaffected', async () => {
    const call = (from: string) => mcp(from, toolCallBody('get_rally_user', {}), randomUUID());
    for (let i = 0; i < 2; i++) {
      const prompt = rpcResult(await call('127.0.0.8'));
      expect(prompt.result.content[0].text).toContain('/connect/');
    }
    const before = await countDocs(COLLECTIONS.connectTransactions);
    const refused = rpcResult(await call('127.0.0.8'));
    expect(refused.result.isError).toBe(true);
    expect(refused.result.content[0].text).toMatch(
      /^Too many requests from your network address\. Try again in \d+ s\./,
    );
    const rest = await fromAddress('127.0.0.8', stack.mcpUrl.replace(/\/mcp$/, '/tools/get_rally_user'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'Session-ID': randomUUID() },
      body: '{}',
    });
    expect(rest.status).toBe(429);
    expect(Number(rest.headers['retry-after'])).toBeGreaterThan(0);
    expect(await countDocs(COLLECTIONS.connectTransactions)).toBe(before);
    expect(rpcResult(await call('127.0.0.9')).result.content[0].text).toContain('/connect/');
    expect(await countDocs(COLLECTIONS.connectTransactions)).toBe(before + 1);
  });
});
