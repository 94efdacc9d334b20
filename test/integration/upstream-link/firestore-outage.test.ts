/**
 * F5 (and K2 for its answers): Firestore goes away under a running server.
 * This file starts its own emulator so it can stop it without disturbing the
 * other test files, which share the run's emulator.
 */
import { jest } from '@jest/globals';
import { startFirestoreEmulator, type FirestoreEmulator } from '../../../dev/firestore-emulator.js';
import { startTestStack, waitOutLinkCache, type TestStack } from '../../helpers/stack.js';
import { until } from '../../helpers/poll.js';
import {
  callTool,
  DEFAULT_REDIRECT,
  JOSE_LIKE,
  pkcePair,
  registerTestClient,
  signIn,
  type SignedIn,
} from '../../helpers/oauth-flow.js';

jest.setTimeout(180_000);

let emulator: FirestoreEmulator;
let stack: TestStack;
let alice: SignedIn;
let clientId: string;

beforeAll(async () => {
  emulator = await startFirestoreEmulator();
  stack = await startTestStack({ firestoreHost: emulator.host, env: { SESSION_LINK_MODE: 'false' } });
  // A freshly started emulator's first writes can outlast the store deadline on a loaded machine (503):
  // wait until it has served one, as a deployment waits for its database.
  await until(
    async () =>
      await registerTestClient(stack.url).then(
        () => true,
        () => false,
      ),
    'the new emulator to serve a write',
    60_000,
    500,
  );
  alice = await signIn(stack.url, 'alice');
  clientId = await registerTestClient(stack.url, DEFAULT_REDIRECT);
  const warm = await callTool(stack.mcpUrl, alice.accessToken, 'get_rally_user');
  expect(warm.status).toBe(200);
  expect(warm.json.result.structuredContent.user.userName).toBe('alice@example.com');
  await emulator.stop();
  await waitOutLinkCache(stack); // past the window in which the warm call's copy of the link may be reused
});
afterAll(async () => {
  await stack?.stop();
  await emulator?.stop().catch(() => {});
});

function expectCleanBody(body: string) {
  expect(body).not.toMatch(/\bat .+\.(ts|js|mjs):\d+/);
  for (const needle of [emulator.host, 'node_modules', 'ECONNREFUSED', 'Error:']) expect(body).not.toContain(needle);
  expect(body).not.toMatch(JOSE_LIKE);
}

describe('F5. Firestore unavailable', () => {
  it('F5: a tool call → 503 with Retry-After and the request id, never a success, no Rally call', async () => {
    const wsapiBefore = stack.sandbox!.requests().filter((r) => r.url.startsWith('/slm/webservice/')).length;
    const r = await callTool(
      stack.mcpUrl,
      alice.accessToken,
      'get_rally_user',
      {},
      { 'x-ms-client-request-id': 'req-f5-001' },
    );
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('5');
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.headers.get('x-request-id')).toBe('req-f5-001');
    expect(r.json.result).toBeUndefined();
    expect(r.json.error.code).toBe(-32603);
    expect(r.json.error.message).toBe(
      'The service is temporarily unavailable. Try again shortly. (Request ID req-f5-001)',
    );
    expectCleanBody(JSON.stringify(r.json));
    expect(stack.sandbox!.requests().filter((q) => q.url.startsWith('/slm/webservice/')).length).toBe(wsapiBefore);
  });

  it('F5: a refresh at /token → 503 temporarily_unavailable with Retry-After, no tokens', async () => {
    const res = await fetch(`${stack.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: alice.refreshToken,
        client_id: alice.clientId,
      }).toString(),
    });
    const text = await res.text();
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(JSON.parse(text)).toEqual({
      error: 'temporarily_unavailable',
      error_description: expect.stringMatching(/^The service is temporarily unavailable/),
    });
    expectCleanBody(text);
  });

  it('F5: /authorize → 503 page with Retry-After, no redirect', async () => {
    const u = new URL(`${stack.url}/authorize`);
    for (const [k, v] of Object.entries({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: DEFAULT_REDIRECT,
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
    }))
      u.searchParams.set(k, v);
    const auth = await fetch(u, { redirect: 'manual' });
    const authText = await auth.text();
    expect(auth.status).toBe(503);
    expect(auth.headers.get('retry-after')).toBe('5');
    expect(auth.headers.get('location')).toBeNull();
    expect(authText).toContain('Temporarily unavailable');
    expectCleanBody(authText);
  });

  it('F5: a write (/register) → 503 with Retry-After within 60 s, not a hang', async () => {
    const reg = await fetch(`${stack.url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'x', redirect_uris: [DEFAULT_REDIRECT] }),
      signal: AbortSignal.timeout(60_000),
    }).catch((err: unknown) => {
      throw new Error(`POST /register gave no answer within 60 s while Firestore is down (${(err as Error).name})`);
    });
    const regText = await reg.text();
    expect(reg.status).toBe(503);
    expect(reg.headers.get('retry-after')).toBe('5');
    expectCleanBody(regText);
  });

  it('K1/K2: the outage is logged as dependency_unavailable without secrets or stack traces', () => {
    const outage = stack.logs.filter((l) => l.includes('dependency_unavailable'));
    expect(outage.length).toBeGreaterThanOrEqual(3);
    for (const line of stack.logs) {
      for (const v of [alice.accessToken, alice.refreshToken]) expect(line).not.toContain(v);
      expect(line).not.toMatch(JOSE_LIKE);
    }
  });
});
