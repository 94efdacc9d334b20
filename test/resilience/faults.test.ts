/**
 * Faults: Rally latency spikes, 5xx, 429, resets, token expiry mid-burst,
 * revoked refresh tokens, non-idempotent creates under failure, Firestore
 * down (dedicated emulator, restarted on the same port), and Secret Manager
 * down at cold start. Asserts clear errors with a request id while broken,
 * recovery without restart, no duplicate creates, no 500s.
 */
import { randomBytes } from 'node:crypto';
import { startLocalStack, type LocalStack } from '../../dev/local-stack.js';
import { startFirestoreEmulator, type FirestoreEmulator } from '../../dev/firestore-emulator.js';
import { startSecretManagerStandin } from '../../dev/secret-manager-standin.js';
import { ensureLocalKeys, LOCAL_SECRET_NAMES } from '../../dev/local-keys.js';
import { freePort } from '../../dev/process-utils.js';
import { mcpCall, signIn, toolCallBody } from '../helpers/oauth-flow.js';
import { demoProjectId, emulatorHost } from '../helpers/env.js';
import { serverClock } from '../helpers/stack.js';
import { until } from '../helpers/poll.js';
import { STORE_OPERATION_TIMEOUT_MS } from '../../shared/store/firestore-utils.js';
import { callTool, hasRequestId, mapLimit, recordSummary, type ToolOutcome } from './helpers.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const counts = {
  faultsInjected: 0,
  requests: 0,
  itemsCreated: 0,
  errorsWithRequestId: 0,
  fiveHundreds: 0,
  firestoreDownToolCallMaxMs: 0,
  firestoreDownRegisterMs: 0,
  servedFromLinkCache: 0,
};
afterAll(() => recordSummary('faults', counts));

/** While broken: a tool error or JSON-RPC error that quotes a request id, or a 503 with X-Request-Id; never a 500. */
function expectClearError(o: ToolOutcome): void {
  counts.requests++;
  if (o.status === 500) counts.fiveHundreds++;
  expect(o.status).not.toBe(500);
  if (o.status === 503) {
    expect(o.requestId).toBeTruthy();
    expect(o.text).toMatch(/Request ID/);
  } else {
    expect(o.status).toBe(200);
    expect(o.isError).toBe(true);
    expect(hasRequestId(o.text)).toBe(true);
  }
  counts.errorsWithRequestId++;
}
function expectOk(o: ToolOutcome): void {
  counts.requests++;
  expect({ status: o.status, isError: o.isError, text: o.isError ? o.text.slice(0, 300) : '' }).toEqual({
    status: 200,
    isError: false,
    text: '',
  });
}

describe('Rally faults (sandbox fault injection)', () => {
  let stack: LocalStack;
  let alice: string;
  beforeAll(async () => {
    stack = await startLocalStack({
      firestoreHost: emulatorHost(),
      projectId: demoProjectId(),
      env: { RALLY_TIMEOUT_MS: '1500' },
    });
    alice = (await signIn(stack.url, 'alice')).accessToken;
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });
  afterEach(() => stack.sandbox!.clearFaults());
  const inject = (rule: Parameters<NonNullable<LocalStack['sandbox']>['injectFault']>[0]) => {
    counts.faultsInjected++;
    return stack.sandbox!.injectFault(rule);
  };
  const get = (id = 'US1') => callTool(stack.url, alice, 'get_rally_issue', { id });

  test('latency spike below the timeout: calls succeed; above it: a clear tool error, then recovery', async () => {
    inject({
      pathPrefix: '/slm/webservice/v2.0/hierarchicalrequirement',
      fault: { kind: 'latency', ms: 600 },
      times: 3,
    });
    expectOk(await get());
    inject({ pathPrefix: '/slm/webservice/v2.0/hierarchicalrequirement', fault: { kind: 'latency', ms: 10_000 } });
    const slow = await get();
    expectClearError(slow);
    expect(slow.ms).toBeLessThan(12_000); // bounded by RALLY_TIMEOUT_MS (and its retries), not by the fault
    stack.sandbox!.clearFaults();
    expectOk(await get());
  });

  test.each([
    ['503', { kind: 'status', status: 503 } as const],
    ['500', { kind: 'status', status: 500 } as const],
    [
      '429',
      {
        kind: 'status',
        status: 429,
        body: '{"OperationResult":{"Errors":["Too many concurrent requests for this user"]}}',
        contentType: 'application/json',
      } as const,
    ],
    ['reset', { kind: 'reset' } as const],
  ])(
    'Rally %s on reads: a transient one is absorbed (a read is retried); a persistent one is reported with a request id; then recovery',
    async (_n, fault) => {
      const mark = stack.sandbox!.requests().length;
      inject({ pathPrefix: '/slm/webservice/v2.0/', fault, times: 1 });
      expectOk(await get());
      const faulted = fault.kind === 'reset' ? 0 : fault.status;
      expect(
        stack
          .sandbox!.requests()
          .slice(mark)
          .filter((r) => r.status === faulted),
      ).toHaveLength(1); // it was hit
      inject({ pathPrefix: '/slm/webservice/v2.0/', fault });
      expectClearError(await get());
      stack.sandbox!.clearFaults();
      expectOk(await get());
    },
  );

  test('access tokens expire mid-burst: every call succeeds and Rally sees exactly one refresh', async () => {
    const sandbox = stack.sandbox!;
    expectOk(await get());
    const before = sandbox.stats().tokenRequests.refresh_token ?? 0;
    sandbox.expireAccessTokens('alice');
    counts.faultsInjected++;
    const burst = await Promise.all(Array.from({ length: 16 }, (_, i) => get(i % 2 ? 'US1' : 'US2')));
    burst.forEach(expectOk);
    expect((sandbox.stats().tokenRequests.refresh_token ?? 0) - before).toBe(1);
  });

  test('refresh token revoked at Rally: the re-link prompt, never a 5xx; signing in again recovers', async () => {
    const sandbox = stack.sandbox!;
    const bob = (await signIn(stack.url, 'bob')).accessToken;
    expectOk(await callTool(stack.url, bob, 'get_rally_issue', { id: 'US1' }));
    sandbox.revokeGrants('bob');
    sandbox.expireAccessTokens('bob');
    counts.faultsInjected += 2;
    // Rally answers 401, its refresh is refused: the link is marked unusable and the user gets the re-link prompt.
    const o = await callTool(stack.url, bob, 'get_rally_issue', { id: 'US1' });
    counts.requests++;
    expect({ status: o.status, isError: o.isError }).toEqual({ status: 200, isError: true });
    expect(o.text).toMatch(/^Rally is not connected\. Open this link to sign in/);
    expect(o.text).toContain(`${stack.url}/connect/`);
    const again = (await signIn(stack.url, 'bob')).accessToken;
    expectOk(await callTool(stack.url, again, 'get_rally_issue', { id: 'US1' }));
  });

  test('non-idempotent create: a 503 or a timeout on create is never retried, so never duplicated', async () => {
    const sandbox = stack.sandbox!;
    const createPath = '/slm/webservice/v2.0/hierarchicalrequirement/create';
    const posts = (marker: string) =>
      sandbox.requests().filter((r) => r.url.startsWith(createPath) && r.body.includes(marker)).length;
    const count = (marker: string) => sandbox.items('hierarchicalrequirement').filter((s) => s.Name === marker).length;

    const m1 = `resilience 503 ${randomBytes(5).toString('hex')}`;
    inject({ pathPrefix: createPath, fault: { kind: 'status', status: 503 }, times: 1 });
    expectClearError(await callTool(stack.url, alice, 'create_rally_story', { name: m1 }));
    expect(posts(m1)).toBe(1);
    expect(count(m1)).toBe(0);

    const m2 = `resilience slow ${randomBytes(5).toString('hex')}`;
    inject({ pathPrefix: createPath, fault: { kind: 'latency', ms: 20_000 }, times: 1 });
    expectClearError(await callTool(stack.url, alice, 'create_rally_story', { name: m2 })); // times out at 1.5 s
    sandbox.clearFaults(); // the held request now completes: Rally created it once, after we gave up
    await until(() => count(m2) > 0, 'the held create to complete at Rally');
    expect(posts(m2)).toBe(1);
    expect(count(m2)).toBe(1);

    const m3 = `resilience reset ${randomBytes(5).toString('hex')}`;
    inject({ pathPrefix: createPath, fault: { kind: 'reset' }, times: 1 });
    expectClearError(await callTool(stack.url, alice, 'create_rally_story', { name: m3 }));
    expect(posts(m3)).toBe(1);
    expect(count(m3)).toBe(0);

    const m4 = `resilience ok ${randomBytes(5).toString('hex')}`;
    expectOk(await callTool(stack.url, alice, 'create_rally_story', { name: m4 }));
    expect(count(m4)).toBe(1);
    counts.itemsCreated += 2;
  });
});

describe('Firestore unavailable (dedicated emulator, restarted on the same port)', () => {
  let emulator: FirestoreEmulator | undefined;
  let stack: LocalStack;
  afterAll(async () => {
    await stack?.stop();
    await emulator?.stop();
  });

  test('served from the link cache while it lasts; then 503 with a request id, no hang, no partial create; recovery without restarting the server', async () => {
    const port = await freePort();
    emulator = await startFirestoreEmulator({ port });
    // The longest window allowed, so the calls below cannot outlive it on a slow machine; the servers' clock
    // (moved by the test, never waited for) decides when it is over.
    const linkCacheSeconds = 60;
    stack = await startLocalStack({
      firestoreHost: emulator.host,
      projectId: demoProjectId(),
      env: { LINK_CACHE_SECONDS: String(linkCacheSeconds) },
      clockControl: true,
    });
    const clock = serverClock(stack);
    const token = (await signIn(stack.url, 'alice')).accessToken;
    expectOk(await callTool(stack.url, token, 'get_rally_issue', { id: 'US1' })); // the server now holds alice's link

    await emulator.stop();
    emulator = undefined;
    counts.faultsInjected++;
    const created = (name: string) =>
      stack.sandbox!.items('hierarchicalrequirement').filter((i) => i.Name === name).length;
    const round = async () => {
      const story = `fs-down ${randomBytes(4).toString('hex')}`;
      const [read, create] = await Promise.all([
        callTool(stack.url, token, 'get_rally_issue', { id: 'US1' }, {}, 45_000),
        callTool(stack.url, token, 'create_rally_story', { name: story }, {}, 45_000),
      ]);
      return { read, create, story };
    };
    // A tool call's Firestore work is one bounded operation (shared/store/firestore-utils.ts): a 503 comes fast.
    const answerBoundMs = 2 * STORE_OPERATION_TIMEOUT_MS;

    // Within LINK_CACHE_SECONDS the instance still holds alice's link: calls need no Firestore and succeed.
    for (let i = 0; i < 2; i++) {
      const { read, create, story } = await round();
      expectOk(read);
      expectOk(create);
      expect(created(story)).toBe(1);
      counts.servedFromLinkCache += 2;
      counts.itemsCreated++;
    }

    // After the window every call needs Firestore: a clear error, fast, and nothing half-done.
    await clock.advanceSeconds(linkCacheSeconds + 1);
    const during: ToolOutcome[] = [];
    for (let i = 0; i < 3; i++) {
      const { read, create, story } = await round();
      for (const o of [read, create]) {
        expect(o.status).toBe(503);
        expectClearError(o);
        expect(o.ms).toBeLessThan(answerBoundMs);
        during.push(o);
      }
      expect(created(story)).toBe(0);
    }
    counts.firestoreDownToolCallMaxMs = Math.round(Math.max(...during.map((o) => o.ms)));
    // a write-only surface (client registration) answers 503 within the same bound
    const regStart = performance.now();
    const reg = await fetch(`${stack.url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'x',
        redirect_uris: ['http://127.0.0.1:1/cb'],
        token_endpoint_auth_method: 'none',
      }),
      signal: AbortSignal.timeout(45_000),
    }).then(
      (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after') }),
      (err: unknown) => ({ status: 0, retryAfter: null, err: String(err) }),
    );
    counts.firestoreDownRegisterMs = Math.round(performance.now() - regStart);
    counts.requests++;

    emulator = await startFirestoreEmulator({ port }); // same port: the server's FIRESTORE_EMULATOR_HOST is unchanged, data is gone
    // The stored grant is gone with the emulator's memory: the old token is refused as revoked (401), never a 5xx.
    const old = await callTool(stack.url, token, 'get_rally_issue', { id: 'US1' });
    counts.requests++;
    expect(old.status).toBe(401);
    const fresh = (await signIn(stack.url, 'alice')).accessToken;
    expectOk(await callTool(stack.url, fresh, 'get_rally_issue', { id: 'US1' }));
    // asserted last so the recovery above is checked even when this fails
    expect(reg).toMatchObject({ status: 503, retryAfter: '5' });
    expect(counts.firestoreDownRegisterMs).toBeLessThan(answerBoundMs);
  }, 150_000);
});

describe('Secret Manager unavailable at cold start', () => {
  test('503 with no plaintext fallback while down; works without restart once it is back; ≤ 1 successful access per secret', async () => {
    const standin = await startSecretManagerStandin();
    const keysDir = mkdtempSync(join(tmpdir(), 'rally-res-keys-'));
    await ensureLocalKeys(keysDir, { rallyClientSecret: randomBytes(21).toString('hex') });
    for (const n of Object.values(LOCAL_SECRET_NAMES)) standin.addVersion(n, readFileSync(join(keysDir, n, '1')));
    await standin.setUnavailable(true);
    counts.faultsInjected++;
    const stack = await startLocalStack({
      firestoreHost: emulatorHost(),
      projectId: demoProjectId(),
      keysDir,
      // SECRETS_DIR still points at valid key files: the server must not fall back to them
      env: {
        SECRET_SOURCE: 'secret-manager',
        DANGEROUSLY_SECRET_MANAGER_ENDPOINT: standin.url,
        SECRET_MANAGER_PROJECT: standin.projectId,
      },
    });
    try {
      const call = (bearer: string) =>
        mcpCall(stack.mcpUrl, toolCallBody('get_rally_issue', { id: 'US1' }), { authorization: `Bearer ${bearer}` });
      // A bearer that is not even a JWS is refused without a key: 401, as when Secret Manager is up.
      const malformed = await call('not-a-jws');
      counts.requests++;
      expect(malformed.status).toBe(401);
      // A JWS naming our signing key's version needs that key to be checked: 503 with a request id, never a 401
      // (which would make the client drop good tokens) and never a check against the key files on disk.
      const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const needsKey = `${b64({ alg: 'EdDSA', typ: 'at+jwt', kid: '1' })}.${b64({ sub: 'x' })}.${randomBytes(64).toString('base64url')}`;
      const tools = await call(needsKey);
      counts.requests++;
      expect(tools.status).toBe(503);
      expect(tools.headers.get('x-request-id')).toBeTruthy();
      // no sign-in without keys (no plaintext fallback): a step of the flow answers 503
      await expect(signIn(stack.url, 'alice')).rejects.toThrow(/\b503\b/);
      counts.requests++;
      // a request that needs no key is answered as usual: an unknown client is invalid_client (401), not a 5xx
      const refresh = await fetch(`${stack.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=refresh_token&refresh_token=x&client_id=y',
      });
      counts.requests++;
      expect({ status: refresh.status, error: ((await refresh.json()) as { error?: string }).error }).toEqual({
        status: 401,
        error: 'invalid_client',
      });

      await standin.setUnavailable(false);
      const token = (await signIn(stack.url, 'alice')).accessToken;
      expectOk(await callTool(stack.url, token, 'get_rally_issue', { id: 'US1' }));
      expectOk(await callTool(stack.url, token, 'get_rally_issue', { id: 'US2' }));
      // successful accesses are cached: a second round of calls adds none
      const after = Object.values(LOCAL_SECRET_NAMES).map((n) => standin.accessCount(n));
      await mapLimit([1, 2, 3], 3, () => callTool(stack.url, token, 'get_rally_issue', { id: 'US1' }).then(expectOk));
      expect(Object.values(LOCAL_SECRET_NAMES).map((n) => standin.accessCount(n))).toEqual(after);
    } finally {
      await stack.stop();
      await standin.stop();
    }
  }, 120_000);
});
