/**
 * Bad input: a bounded fast-check fuzz over every HTTP surface (JSON-RPC to
 * /mcp, /authorize query, /token, /register, /revoke, /oauth/callback,
 * headers). No 5xx, no crash, no hang, and no known secret in any response.
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLocalStack, type LocalStack } from '../../dev/local-stack.js';
import { signIn, type SignedIn } from '../helpers/oauth-flow.js';
import { demoProjectId, emulatorHost } from '../helpers/env.js';
import { recordSummary } from './helpers.js';

const RUNS = Number(process.env.RESILIENCE_FUZZ_RUNS ?? 300);
const TIMEOUT_MS = 10_000;

let stack: LocalStack;
let alice: SignedIn;
let secrets: string[] = [];
const counts = { requests: 0, fiveXx: 0, secretLeaks: 0, timeouts: 0 };
const problems: string[] = [];

beforeAll(async () => {
  stack = await startLocalStack({ firestoreHost: emulatorHost(), projectId: demoProjectId() });
  alice = await signIn(stack.url, 'alice');
  stack.sandbox!.clearRequests();
  const r = await fetch(`${stack.mcpUrl}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${alice.accessToken}`,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'get_rally_user', arguments: {} },
    }),
  });
  await r.text();
  const rallyTokens = stack
    .sandbox!.requests()
    .map((q) => q.headers.zsessionid)
    .filter((v): v is string => Boolean(v));
  const keysDir = stack.serverEnv.SECRETS_DIR!;
  const file = (n: string) => readFileSync(join(keysDir, n, '1'), 'utf8').trim();
  const signing = JSON.parse(file('rally-mcp-signing-key')) as { d: string };
  secrets = [
    alice.refreshToken,
    ...new Set(rallyTokens),
    file('rally-client-secret'),
    file('rally-mcp-sealing-key'),
    signing.d,
  ].filter((s) => s.length >= 16);
}, 90_000);

afterAll(async () => {
  recordSummary('fuzz', { ...counts, problems: problems.length });
  await stack?.stop();
});

async function send(path: string, init: RequestInit & { query?: Record<string, string> } = {}): Promise<void> {
  const url = new URL(path, stack.url);
  for (const [k, v] of Object.entries(init.query ?? {})) url.searchParams.append(k, v);
  counts.requests++;
  let res: Response;
  try {
    res = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') counts.timeouts++;
    problems.push(`${init.method ?? 'GET'} ${path}: ${String(err)}`);
    throw err;
  }
  const body = await res.text();
  const all = `${body}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}`;
  if (res.status >= 500) {
    counts.fiveXx++;
    problems.push(
      `${init.method ?? 'GET'} ${url.pathname}${url.search.slice(0, 200)} → ${res.status} ${body.slice(0, 200)} (request body ${String(init.body ?? '').slice(0, 200)})`,
    );
  }
  for (const s of secrets) {
    if (all.includes(s)) {
      counts.secretLeaks++;
      problems.push(`secret in response to ${url.pathname}`);
    }
  }
  expect(res.status).toBeLessThan(500);
}

const text = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    'null',
    '%00',
    '../../etc',
    'javascript:alert(1)',
    'http://127.0.0.1:1/cb',
    'a'.repeat(5000),
  ),
);
const params = (keys: readonly string[]) =>
  fc.dictionary(fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 12 })), text, { maxKeys: 8 });
const opts = { numRuns: RUNS, endOnFailure: true } as const;

describe('fuzz (no 5xx, no hang, no secret in any answer)', () => {
  test('/mcp JSON-RPC bodies, with and without a valid token', async () => {
    const method = fc.oneof(
      fc.constantFrom(
        'initialize',
        'tools/list',
        'tools/call',
        'ping',
        'notifications/initialized',
        'resources/list',
        'prompts/get',
        'completion/complete',
        'logging/setLevel',
      ),
      fc.string({ maxLength: 20 }),
    );
    const tool = fc.oneof(
      fc.constantFrom(
        'get_rally_issue',
        'search_rally_items',
        'create_rally_story',
        'update_rally_item',
        'add_rally_comment',
        'list_rally_projects',
        'disconnect_rally_x',
        'get_rally_user',
      ),
      fc.string({ maxLength: 20 }),
    );
    const rpc = fc.record(
      {
        jsonrpc: fc.oneof(fc.constant('2.0'), fc.string({ maxLength: 4 }), fc.integer()),
        id: fc.oneof(fc.integer(), fc.string({ maxLength: 10 }), fc.constant(null), fc.object({ maxDepth: 1 })),
        method,
        params: fc.oneof(
          fc.record({
            name: tool,
            arguments: fc.oneof(
              fc.object({ maxDepth: 2 }),
              fc.record(
                { id: text, name: text, text: text, query: text, cursor: text, confirm: fc.boolean() },
                { requiredKeys: [] },
              ),
            ),
          }),
          fc.jsonValue({ maxDepth: 3 }),
        ),
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      rpc.map((r) => JSON.stringify(r)),
      fc.array(rpc, { maxLength: 4 }).map((r) => JSON.stringify(r)),
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 200 }),
      fc.constant(`${'['.repeat(5000)}${']'.repeat(5000)}`),
    );
    await fc.assert(
      fc.asyncProperty(
        body,
        fc.boolean(),
        fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', ''),
        async (b, auth, ct) => {
          await send('/mcp', {
            method: 'POST',
            body: b,
            headers: {
              ...(ct ? { 'content-type': ct } : {}),
              accept: 'application/json, text/event-stream',
              ...(auth ? { authorization: `Bearer ${alice.accessToken}` } : {}),
            },
          });
        },
      ),
      opts,
    );
  }, 170_000);

  test('/mcp headers (authorization, content-type, accept, origin, protocol version, Microsoft ids)', async () => {
    const hv = fc.string({ maxLength: 80 }).map((s) => s.replace(/[^\x20-\x7e]/g, ''));
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            authorization: fc.oneof(
              hv,
              hv.map((s) => `Bearer ${s}`),
              fc.constant(`Bearer ${alice.accessToken}x`),
              fc.constant(`Basic ${Buffer.from('a:b').toString('base64')}`),
            ),
            'content-type': fc.oneof(hv, fc.constant('application/json')),
            accept: fc.oneof(hv, fc.constant('application/json, text/event-stream')),
            origin: fc.oneof(hv, fc.constant('https://evil.example')),
            'mcp-protocol-version': hv,
            'mcp-session-id': hv,
            'x-ms-client-request-id': hv,
            'x-ms-copilot-session-id': hv,
            'x-ms-copilot-agent-id': hv,
            traceparent: hv,
          },
          { requiredKeys: [] },
        ),
        fc.constantFrom('GET', 'POST', 'DELETE', 'PUT'),
        async (headers, method) => {
          await send('/mcp', {
            method,
            headers,
            ...(method === 'GET'
              ? {}
              : {
                  body: JSON.stringify({
                    jsonrpc: '2.0',
                    id: 1,
                    method: 'tools/call',
                    params: { name: 'get_rally_user', arguments: {} },
                  }),
                }),
          });
        },
      ),
      opts,
    );
  }, 170_000);

  test('/authorize query and /oauth/callback params', async () => {
    const authorizeKeys = [
      'response_type',
      'client_id',
      'redirect_uri',
      'code_challenge',
      'code_challenge_method',
      'state',
      'scope',
      'resource',
      'prompt',
    ];
    await fc.assert(
      fc.asyncProperty(params(authorizeKeys), fc.boolean(), async (q, realClient) => {
        await send('/authorize', {
          query: { ...(realClient ? { client_id: alice.clientId, redirect_uri: alice.redirectUri } : {}), ...q },
        });
      }),
      opts,
    );
    await fc.assert(
      fc.asyncProperty(params(['code', 'state', 'error', 'error_description', 'iss']), async (q) => {
        await send('/oauth/callback', {
          query: q,
          headers: { cookie: `__Host-rally-mcp-tx=${encodeURIComponent(q.state ?? 'x')}` },
        });
      }),
      opts,
    );
  }, 170_000);

  test('/token, /revoke forms and /register bodies', async () => {
    const tokenKeys = [
      'grant_type',
      'code',
      'redirect_uri',
      'code_verifier',
      'client_id',
      'client_secret',
      'refresh_token',
      'resource',
      'scope',
    ];
    const grant = fc.constantFrom(
      'authorization_code',
      'refresh_token',
      'client_credentials',
      'password',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
    );
    await fc.assert(
      fc.asyncProperty(params(tokenKeys), grant, fc.boolean(), fc.boolean(), async (form, g, asJson, withRefresh) => {
        const fields = {
          grant_type: g,
          ...(withRefresh ? { refresh_token: `${alice.refreshToken.slice(0, -2)}zz`, client_id: alice.clientId } : {}),
          ...form,
        };
        await send(
          '/token',
          asJson
            ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fields) }
            : {
                method: 'POST',
                headers: { 'content-type': 'application/x-www-form-urlencoded' },
                body: new URLSearchParams(fields).toString(),
              },
        );
      }),
      opts,
    );
    await fc.assert(
      fc.asyncProperty(params(['token', 'token_type_hint', 'client_id', 'client_secret']), async (form) => {
        await send('/revoke', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(form).toString(),
        });
      }),
      opts,
    );
    const registration = fc.record(
      {
        client_name: fc.oneof(text, fc.integer()),
        redirect_uris: fc.oneof(
          fc.array(text, { maxLength: 4 }),
          text,
          fc.constant(['http://127.0.0.1:33418/callback']),
          fc.constant(null),
        ),
        token_endpoint_auth_method: fc.oneof(
          fc.constantFrom('none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'),
          text,
        ),
        grant_types: fc.oneof(
          fc.array(fc.constantFrom('authorization_code', 'refresh_token', 'implicit'), { maxLength: 3 }),
          text,
        ),
        response_types: fc.array(text, { maxLength: 2 }),
        scope: text,
        client_uri: text,
        logo_uri: text,
        software_statement: text,
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          registration.map((r) => JSON.stringify(r)),
          fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
          fc.string({ maxLength: 100 }),
        ),
        async (body) => {
          await send('/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        },
      ),
      opts,
    );
  }, 170_000);

  test('after the fuzz: the server still answers and the signed-in user still works', async () => {
    const meta = await fetch(`${stack.url}/.well-known/oauth-protected-resource`, {
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    expect(meta.status).toBe(200);
    const r = await fetch(stack.mcpUrl, {
      method: 'POST',
      signal: AbortSignal.timeout(TIMEOUT_MS),
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${alice.accessToken}`,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'get_rally_issue', arguments: { id: 'US1' } },
      }),
    });
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('US1');
    if (problems.length)
      process.stdout.write(`[resilience] fuzz problems: ${JSON.stringify(problems.slice(0, 10), null, 1)}\n`);
    expect(problems).toEqual([]);
  });
});
