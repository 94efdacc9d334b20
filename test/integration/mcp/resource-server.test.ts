/**
 * Starting the Rally authorization (A1–A6), transport rules (G1, G2, G4, G6,
 * G7), /mcp as a resource server (I1–I5) and error hygiene (K2), against the
 * real server process, the Firestore emulator and the Rally sandbox.
 */
import { randomBytes } from 'node:crypto';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import type { Deps } from '../../../shared/services/deps.js';
import { addSeconds } from '../../../shared/kernel/clock.js';
import { linkTxPath } from '../../../shared/store/link-transactions.repo.js';
import { createConnectTransaction } from '../../../shared/store/connect-transactions.repo.js';
import { COLLECTIONS } from '../../../shared/store/collections.js';
import { pkceChallenge } from '../../../shared/rally/oauth.js';
import { depsFor, sandboxOf, startTestStack, waitOutLinkCache, wsapi, type TestStack } from '../../helpers/stack.js';
import {
  BINDING_COOKIE,
  callTool,
  consentToRally,
  CookieJar,
  initializeBody,
  JOSE_LIKE,
  mcpCall,
  resultText,
  signIn,
  toolCallBody,
  type SignedIn,
} from '../../helpers/oauth-flow.js';
import { recordingServer } from '../../helpers/fetch.js';
import { FakeClock } from '../../helpers/clock.js';
import { sha256Id } from '../../../shared/kernel/hash.js';

const toolCallBodyFor = (name: string) => toolCallBody(name, {});
const MODERN = '2026-07-28';
/** A 2026-07-28 request: the per-request `_meta` envelope instead of initialize. */
const modernBody = (id: string | number, method: string, params: Record<string, unknown>, version = MODERN) => ({
  jsonrpc: '2.0',
  id,
  method,
  params: {
    ...params,
    _meta: {
      'io.modelcontextprotocol/protocolVersion': version,
      'io.modelcontextprotocol/clientInfo': { name: 'raw-2026-client', version: '1.0.0' },
      'io.modelcontextprotocol/clientCapabilities': {},
    },
  },
});
/** The standard headers 2026-07-28 requires beside the envelope. */
const modernHeaders = (method: string, name?: string): Record<string, string> => ({
  'mcp-protocol-version': MODERN,
  'mcp-method': method,
  ...(name === undefined ? {} : { 'mcp-name': name }),
});

let stack: TestStack;
let deps: Deps;
let alice: SignedIn;
/** Every error body this file received, for K2. */
const errorBodies: Array<{ what: string; body: string }> = [];

const metadataUrl = () => `${stack.url}/.well-known/oauth-protected-resource/mcp`;
const countDocs = async (collection: string) => (await (await deps.db()).collection(collection).get()).size;
const keep = (what: string, body: unknown) =>
  errorBodies.push({ what, body: typeof body === 'string' ? body : JSON.stringify(body) });

beforeAll(async () => {
  stack = await startTestStack({ env: { SESSION_LINK_MODE: 'false' } });
  deps = depsFor(stack);
  alice = await signIn(stack.url, 'alice');
});
afterAll(async () => {
  await stack?.stop();
});

describe('A. Starting the Rally authorization', () => {
  it('A1: the consent POST redirects (303) to the configured Rally authorize URL with code, alm, client_id, exact redirect_uri, a ≥128-bit state and PKCE S256', async () => {
    const sandbox = sandboxOf(stack);
    const out = await consentToRally(stack.url);
    expect(out.status).toBe(303);
    const url = new URL(out.location ?? '');
    expect(url.origin).toBe(sandbox.url);
    expect(url.pathname).toBe('/login/oauth2/auth');
    expect([...url.searchParams.keys()].sort()).toEqual([
      'client_id',
      'code_challenge',
      'code_challenge_method',
      'redirect_uri',
      'response_type',
      'scope',
      'state',
    ]);
    expect(url.searchParams.get('response_type')).toBe('code');
    expect(url.searchParams.get('scope')).toBe('alm');
    expect(url.searchParams.get('client_id')).toBe(stack.serverEnv.RALLY_CLIENT_ID);
    expect(url.searchParams.get('redirect_uri')).toBe(`${stack.url}/oauth/callback`);
    const state = url.searchParams.get('state') ?? '';
    expect(state).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(state.length * 6).toBeGreaterThanOrEqual(128);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    const challenge = url.searchParams.get('code_challenge') ?? '';
    expect(challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The transaction behind this state holds the verifier of exactly this challenge.
    const { sealer } = await deps.auth();
    const db = await deps.db();
    const tx = await db.doc(linkTxPath(state)).get();
    expect(tx.exists).toBe(true);
    const secrets = JSON.parse(
      new TextDecoder().decode((await sealer.unseal(tx.get('sealed') as string, linkTxPath(state))).plaintext),
    ) as { rallyVerifier: string };
    expect(secrets.rallyVerifier).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
    expect(pkceChallenge(secrets.rallyVerifier)).toBe(challenge);
  });

  it('A2: the same user starting two flows gets two different states and two different PKCE verifiers', async () => {
    const jar = new CookieJar();
    const first = await consentToRally(stack.url, { jar });
    const second = await consentToRally(stack.url, { jar });
    const a = new URL(first.location ?? '');
    const b = new URL(second.location ?? '');
    expect(a.searchParams.get('state')).not.toBe(b.searchParams.get('state'));
    expect(a.searchParams.get('code_challenge')).not.toBe(b.searchParams.get('code_challenge'));
    const { sealer } = await deps.auth();
    const db = await deps.db();
    const verifiers = await Promise.all(
      [a, b].map(async (u) => {
        const state = u.searchParams.get('state') ?? '';
        const doc = await db.doc(linkTxPath(state)).get();
        return (
          JSON.parse(
            new TextDecoder().decode((await sealer.unseal(doc.get('sealed') as string, linkTxPath(state))).plaintext),
          ) as { rallyVerifier: string }
        ).rallyVerifier;
      }),
    );
    expect(verifiers[0]).not.toBe(verifiers[1]);
  });

  it('A3: the Rally authorize URL carries no token, secret, cookie value, client state or PII, and the state is not derived from the browser binding', async () => {
    const jar = new CookieJar();
    const out = await consentToRally(stack.url, { jar });
    const location = out.location ?? '';
    const state = new URL(location).searchParams.get('state') ?? '';
    const cookie =
      out.setCookie
        .find((c) => c.startsWith(`${BINDING_COOKIE}=`))
        ?.split(';')[0]
        ?.slice(BINDING_COOKIE.length + 1) ?? '';
    expect(cookie).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const { readFile } = await import('node:fs/promises');
    const secret = (await readFile(`${stack.serverEnv.SECRETS_DIR}/rally-client-secret/1`, 'utf8')).trim();
    for (const forbidden of [
      alice.accessToken,
      alice.refreshToken,
      secret,
      cookie,
      sha256Id(cookie),
      'alice',
      '%40example.com',
      '@example.com',
    ]) {
      expect(decodeURIComponent(location)).not.toContain(forbidden);
    }
    expect(state).not.toBe(cookie);
    expect(state).not.toBe(sha256Id(cookie));
    expect(location).not.toMatch(JOSE_LIKE);
  });

  it('A4: tool arguments carrying a URL never change the Rally host or path (no request leaves for the other host)', async () => {
    const other = await recordingServer();
    try {
      const sandbox = sandboxOf(stack);
      sandbox.clearRequests();
      const evil = `http://127.0.0.1:${other.port}/slm/webservice/v2.0/hierarchicalrequirement/1`;
      const r1 = await callTool(stack.mcpUrl, alice.accessToken, 'get_rally_issue', { id: evil });
      const r2 = await callTool(stack.mcpUrl, alice.accessToken, 'search_rally_items', {
        text: `${evil} redirect_uri=${evil}`,
      });
      expect(r1.status).toBe(200);
      expect(r2.status).toBe(200);
      expect(r1.json.error.code).toBe(-32602); // not an item id: rejected by the schema, no request at all
      expect(r2.json.result.isError).toBeUndefined(); // the URL is only search text
      expect(other.hits).toEqual([]);
      for (const req of sandbox.requests()) expect(req.url.startsWith('/slm/webservice/v2.0/')).toBe(true);
    } finally {
      await other.close();
    }
  });

  it('A4/A5: unknown /authorize parameters cannot steer the Rally URL; nothing about Rally is discovered at runtime', async () => {
    const sandbox = sandboxOf(stack);
    sandbox.clearRequests();
    const out = await consentToRally(stack.url, {
      extra: {
        rally_base_url: 'https://evil.example',
        authorization_endpoint: 'https://evil.example/auth',
        rally_redirect_uri: 'https://evil.example/cb',
        host: 'evil.example',
      },
    });
    expect(out.status).toBe(303);
    const url = new URL(out.location ?? '');
    expect(url.origin).toBe(sandbox.url);
    expect(url.pathname).toBe('/login/oauth2/auth');
    expect(out.location).not.toContain('evil');
    expect(url.searchParams.get('scope')).toBe('alm');
    expect(url.searchParams.get('redirect_uri')).toBe(`${stack.url}/oauth/callback`);
    // Building the URL made no request to Rally at all (no metadata discovery).
    expect(sandbox.requests()).toEqual([]);
    await signIn(stack.url, 'bob');
    expect(sandbox.requests().filter((r) => r.url.includes('.well-known'))).toEqual([]);
  });

  it('A6: an unknown or expired connect id → 404 page on GET and POST; no link transaction is created', async () => {
    const before = await countDocs(COLLECTIONS.linkTransactions);
    const unknown = randomBytes(32).toString('base64url');
    const db = await deps.db();
    const expired = randomBytes(32).toString('base64url');
    const now = stack.clock.now();
    await createConnectTransaction(db, expired, {
      kind: 'relink',
      grantId: 'g-expired',
      sub: 'rally:1',
      clientName: 'Expired test',
      verificationCode: 'AAA-BBB',
      createdAt: addSeconds(now, -700),
      expiresAt: addSeconds(now, -100),
    });
    for (const id of [unknown, expired, 'short', '..%2F..%2Fauthorize']) {
      const get = await fetch(`${stack.url}/connect/${id}`, { redirect: 'manual' });
      const getBody = await get.text();
      expect({ id, status: get.status }).toEqual({ id, status: 404 });
      expect(getBody).toContain('This link has expired');
      keep('connect 404', getBody);
      const post = await fetch(`${stack.url}/connect/${id}`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          origin: stack.url,
          'sec-fetch-site': 'same-origin',
        },
        body: 'decision=continue',
      });
      expect({ id, status: post.status }).toEqual({ id, status: 404 });
      expect(post.headers.get('location')).toBeNull();
      expect(post.headers.getSetCookie()).toEqual([]);
      await post.text();
    }
    expect(await countDocs(COLLECTIONS.linkTransactions)).toBe(before);
  });

  it('A6: a consent POST without a live request (forged id and csrf) → 403; no transaction, no cookie, no Rally redirect', async () => {
    const before = await countDocs(COLLECTIONS.linkTransactions);
    const res = await fetch(`${stack.url}/consent`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: stack.url,
        'sec-fetch-site': 'same-origin',
      },
      body: new URLSearchParams({
        request_id: randomBytes(24).toString('base64url'),
        csrf: randomBytes(24).toString('base64url'),
        decision: 'allow',
      }).toString(),
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.getSetCookie()).toEqual([]);
    keep('consent 403', await res.text());
    expect(await countDocs(COLLECTIONS.linkTransactions)).toBe(before);
  });
});

describe('G. Transport', () => {
  it('G1/G2: the server never mints Mcp-Session-Id (stateless), and never adopts one the client chose', async () => {
    // The server is stateless (handler.ts: sessionIdGenerator undefined), so G1/G2 reduce to "no session id is ever issued or adopted".
    const init = await mcpCall(stack.mcpUrl, initializeBody(), { authorization: `Bearer ${alice.accessToken}` });
    expect(init.status).toBe(200);
    expect(init.json.result.protocolVersion).toBe('2025-11-25');
    expect(init.headers.get('mcp-session-id')).toBeNull();
    const chosen = await mcpCall(stack.mcpUrl, initializeBody(), {
      authorization: `Bearer ${alice.accessToken}`,
      'mcp-session-id': 'attacker-chosen-session',
    });
    expect(chosen.status).toBe(200);
    expect(chosen.headers.get('mcp-session-id')).toBeNull();
    // A non-initialize request without a session id is served (nothing to be missing).
    const list = await mcpCall(
      stack.mcpUrl,
      { jsonrpc: '2.0', id: 5, method: 'tools/list' },
      { authorization: `Bearer ${alice.accessToken}` },
    );
    expect(list.status).toBe(200);
    expect(list.headers.get('mcp-session-id')).toBeNull();
    expect(list.json.result.tools.map((t: { name: string }) => t.name)).toContain('get_rally_user');
  });

  it('G4: Origin https://evil.example → 403 before authentication or any tool; an allowed origin is served', async () => {
    const sandbox = sandboxOf(stack);
    sandbox.clearRequests();
    const bad = await callTool(
      stack.mcpUrl,
      alice.accessToken,
      'get_rally_user',
      {},
      { origin: 'https://evil.example' },
    );
    expect(bad.status).toBe(403);
    expect(bad.json).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Origin not allowed.' } });
    expect(bad.headers.get('access-control-allow-origin')).toBeNull();
    expect(sandbox.requests()).toEqual([]);
    keep('origin 403', bad.json);
    const good = await callTool(stack.mcpUrl, alice.accessToken, 'get_rally_user', {}, { origin: stack.url });
    expect(good.status).toBe(200);
    expect(good.json.result.isError).toBeUndefined();
  });

  it('G6: a 2026-07-28 request (no Mcp-Session-Id, version in _meta, empty session header) is served statelessly as the token user', async () => {
    const sandbox = sandboxOf(stack);
    sandbox.clearRequests();
    for (const extra of [{}, { 'mcp-session-id': '' }] as Array<Record<string, string>>) {
      const r = await mcpCall(stack.mcpUrl, modernBody(7, 'tools/call', { name: 'get_rally_user', arguments: {} }), {
        authorization: `Bearer ${alice.accessToken}`,
        ...modernHeaders('tools/call', 'get_rally_user'),
        ...extra,
      });
      expect(r.status).toBe(200);
      expect(r.headers.get('mcp-session-id')).toBeNull();
      expect(r.json.result.structuredContent.user.userName).toBe('alice@example.com');
    }
    const users = new Set(wsapi(stack).map((q) => q.user));
    expect([...users]).toEqual(['alice']);
  });

  it('G6: a 2026-07-28 request missing what the revision requires (the MCP-Protocol-Version header, or the envelope) → a clear 400, never served and no Rally call', async () => {
    const sandbox = sandboxOf(stack);
    sandbox.clearRequests();
    const auth = { authorization: `Bearer ${alice.accessToken}` };
    const versionOnly = {
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: {
        name: 'get_rally_user',
        arguments: {},
        _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN },
      },
    };
    for (const [body, headers] of [
      [versionOnly, auth], // the envelope without client capabilities, and no header
      [modernBody(7, 'tools/call', { name: 'get_rally_user', arguments: {} }), auth], // no MCP-Protocol-Version header
      [toolCallBodyFor('get_rally_user'), { ...auth, 'mcp-protocol-version': MODERN }], // the header without an envelope
    ] as Array<[unknown, Record<string, string>]>) {
      const r = await mcpCall(stack.mcpUrl, body, headers);
      expect(r.status).toBe(400);
      expect([-32602, -32020]).toContain(r.json.error.code); // invalid params, or the header/body cross-check
      expect(r.json.error.message).toMatch(/MCP-Protocol-Version|_meta|envelope/);
      expect(r.json.result).toBeUndefined();
      keep('2026-07-28 incomplete', r.json);
    }
    expect(sandbox.requests()).toEqual([]);
  });

  it('M5: an unsupported protocol revision (header or _meta) without credentials → 400 -32022 listing the supported versions, before authentication', async () => {
    const supported = ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05', '2024-10-07'];
    for (const body of [
      { jsonrpc: '2.0', id: 'probe-1', method: 'server/discover', params: {} },
      { jsonrpc: '2.0', id: 'probe-2', method: 'tools/call', params: { name: 'get_rally_user', arguments: {} } },
    ]) {
      const r = await mcpCall(stack.mcpUrl, body, { 'mcp-protocol-version': '2099-01-01' });
      expect(r.status).toBe(400);
      expect(r.headers.get('www-authenticate')).toBeNull();
      expect(r.json).toEqual({
        jsonrpc: '2.0',
        id: body.id,
        error: {
          code: -32022,
          message: `Unsupported protocol version: 2099-01-01 (supported versions: ${supported.join(', ')})`,
          data: { supported, requested: '2099-01-01' },
        },
      });
    }
    const envelope = modernBody('probe-3', 'tools/call', { name: 'get_rally_user', arguments: {} }, '2099-01-01');
    const r = await mcpCall(stack.mcpUrl, envelope, {});
    expect(r.status).toBe(400);
    expect(r.headers.get('www-authenticate')).toBeNull();
    expect(r.json.error).toMatchObject({ code: -32022, data: { supported: [MODERN], requested: '2099-01-01' } });
    // A supported revision without credentials still meets the 401 on tools/call, in both eras.
    const call = await mcpCall(stack.mcpUrl, toolCallBodyFor('get_rally_user'), {
      'mcp-protocol-version': '2025-11-25',
    });
    expect(call.status).toBe(401);
    const modernCall = await mcpCall(
      stack.mcpUrl,
      modernBody(9, 'tools/call', { name: 'get_rally_user', arguments: {} }),
      modernHeaders('tools/call', 'get_rally_user'),
    );
    expect(modernCall.status).toBe(401);
    expect(modernCall.headers.get('www-authenticate')).toMatch(/^Bearer .*resource_metadata="/);
  });

  it('M5: a 2026-07-28 request naming a revision we do not serve is told exactly the revisions server/discover lists (conformance: server-stateless, sep-2575-server-unsupported-version-error)', async () => {
    const discover = await mcpCall(
      stack.mcpUrl,
      modernBody(1, 'server/discover', {}),
      modernHeaders('server/discover'),
    );
    expect(discover.status).toBe(200);
    const listed: unknown = discover.json.result.supportedVersions;
    expect(listed).toEqual([MODERN]);
    for (const [requested, headers] of [
      ['v999.0.0', { ...modernHeaders('server/discover'), 'mcp-protocol-version': 'v999.0.0' }],
      ['2099-01-01', {}],
    ] as const) {
      const r = await mcpCall(stack.mcpUrl, modernBody('probe', 'server/discover', {}, requested), headers);
      expect(r.status).toBe(400);
      expect(r.json).toEqual({
        jsonrpc: '2.0',
        id: 'probe',
        error: {
          code: -32022,
          message: `Unsupported protocol version: ${requested} (supported versions: ${MODERN})`,
          data: { supported: listed, requested },
        },
      });
    }
  });

  it('M5: 2026-07-28 server/discover and tools/list are answered without credentials (nothing a client must sign in for)', async () => {
    const discover = await mcpCall(
      stack.mcpUrl,
      modernBody(1, 'server/discover', {}),
      modernHeaders('server/discover'),
    );
    expect(discover.status).toBe(200);
    expect(discover.json.result.supportedVersions).toContain(MODERN);
    expect(
      discover.json.result.serverInfo ?? discover.json.result._meta?.['io.modelcontextprotocol/serverInfo'],
    ).toMatchObject({
      name: 'rally-mcp',
    });
    const list = await mcpCall(stack.mcpUrl, modernBody(2, 'tools/list', {}), modernHeaders('tools/list'));
    expect(list.status).toBe(200);
    expect(list.json.result.tools.map((t: { name: string }) => t.name)).toContain('get_rally_issue');
  });

  it('M5: an SDK v2 client in automatic mode with no credentials negotiates 2026-07-28 and lists the public tools; probing a revision we do not serve, it falls back to one we do', async () => {
    for (const probe of [MODERN, '2099-01-01']) {
      const client = new ClientV2({ name: 'sdk-v2-auto', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
      const seen: string[] = [];
      const transport = new TransportV2(new URL(stack.mcpUrl), {
        fetch: async (input, init) => {
          // The second run's probe stands for a client whose newest revision is one we do not serve.
          const headers = new Headers(init?.headers);
          let body = init?.body ?? null;
          if (seen.length === 0 && probe !== MODERN && typeof body === 'string') {
            headers.set('mcp-protocol-version', probe);
            body = body.replaceAll(`"${MODERN}"`, `"${probe}"`);
          }
          const res = await fetch(input, { ...init, headers, body });
          seen.push(`${headers.get('mcp-protocol-version') ?? '-'} → ${res.status}`);
          return res;
        },
      });
      await client.connect(transport);
      try {
        expect(client.getNegotiatedProtocolVersion()).toBe(MODERN); // the second time after the 400 named what we serve
        const { tools } = await client.listTools();
        expect(tools.map((t) => t.name)).toEqual(
          expect.arrayContaining(['get_rally_issue', 'search_rally_items', 'create_rally_story']),
        );
        expect(seen[0]).toBe(probe === MODERN ? `${MODERN} → 200` : '2099-01-01 → 400'); // the probe, answered before authentication
        expect(seen.some((s) => s.endsWith('401'))).toBe(false);
      } finally {
        await client.close();
      }
    }
  });

  it('G7: a body over MAX_BODY_BYTES → 413 before any tool runs (no Rally request)', async () => {
    const sandbox = sandboxOf(stack);
    sandbox.clearRequests();
    const r = await callTool(stack.mcpUrl, alice.accessToken, 'search_rally_items', { text: 'x'.repeat(1_000_001) });
    expect(r.status).toBe(413);
    expect(r.json).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32600, message: 'Request body too large (limit 1000000 bytes).' },
    });
    expect(sandbox.requests()).toEqual([]);
    keep('413', r.json);
  });

  it('G7: pathologically nested JSON → 400 before any tool runs (no Rally request)', async () => {
    const sandbox = sandboxOf(stack);
    sandbox.clearRequests();
    const depth = 5000;
    const raw = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_rally_items","arguments":{"text":"Export","extra":${'['.repeat(depth)}"x"${']'.repeat(depth)}}}}`;
    const res = await fetch(stack.mcpUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${alice.accessToken}`,
      },
      body: raw,
    });
    const r = { status: res.status, json: (await res.json()) as unknown };
    expect(r.status).toBe(400);
    expect(r.json).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32600, message: 'Request JSON is nested too deeply.' },
    });
    expect(sandbox.requests()).toEqual([]);
    keep('nested 400', r.json);
  });
});

describe('I. /mcp as resource server', () => {
  it('I1: no Authorization header on tools/call → 401 with WWW-Authenticate Bearer resource_metadata (and scope, no error)', async () => {
    const sandbox = sandboxOf(stack);
    sandbox.clearRequests();
    const r = await mcpCall(stack.mcpUrl, {
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'get_rally_user', arguments: {} },
    });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe(
      `Bearer scope="rally.read rally.write", resource_metadata="${metadataUrl()}"`,
    );
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.json.error.code).toBe(-32001);
    expect(sandbox.requests()).toEqual([]);
    keep('401 missing', r.json);
    // The advertised metadata document exists and names this resource.
    const meta = await fetch(metadataUrl());
    expect(meta.status).toBe(200);
    expect(((await meta.json()) as { resource: string }).resource).toBe(stack.mcpUrl);
  });

  it('I2: a Rally access token used as our bearer → 401 invalid_token; it is never forwarded to Rally', async () => {
    const sandbox = sandboxOf(stack);
    const rallyToken = sandbox.issueTokens('alice').access_token;
    sandbox.clearRequests();
    const r = await callTool(stack.mcpUrl, rallyToken, 'get_rally_user');
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe(
      `Bearer error="invalid_token", error_description="The access token is invalid or expired", resource_metadata="${metadataUrl()}"`,
    );
    expect(sandbox.requests()).toEqual([]);
  });

  it('I2: our own token minted for another audience → 401 invalid_token (same signer, right audience → served)', async () => {
    const { signer } = await deps.auth();
    const gid = (
      JSON.parse(Buffer.from(alice.accessToken.split('.')[1] ?? '', 'base64url').toString()) as {
        gid: string;
        sub: string;
      }
    ).gid;
    const claims = { sub: 'rally:1', client_id: alice.clientId, scope: 'rally.read rally.write', gid, ttlSeconds: 300 };
    const other = await signer.sign({ ...claims, aud: 'https://other/mcp' });
    const right = await signer.sign({ ...claims, aud: stack.mcpUrl });
    const list = { jsonrpc: '2.0', id: 3, method: 'tools/list' };
    const bad = await mcpCall(stack.mcpUrl, list, { authorization: `Bearer ${other.token}` });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const good = await mcpCall(stack.mcpUrl, list, { authorization: `Bearer ${right.token}` });
    expect(good.status).toBe(200);
  });

  it('I3: malformed tokens → 401 error="invalid_token"', async () => {
    for (const header of [
      'Bearer not a token!!',
      'Bearer abc.def.ghi',
      'Bearer ',
      'Basic YWxpY2U6YWxpY2U=',
      `Bearer ${alice.accessToken.slice(0, -4)}AAAA`,
    ]) {
      const r = await mcpCall(
        stack.mcpUrl,
        { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'get_rally_user', arguments: {} } },
        { authorization: header },
      );
      expect({ header, status: r.status }).toEqual({ header, status: 401 });
      expect(r.headers.get('www-authenticate')).toMatch(
        /^Bearer error="invalid_token", error_description="[^"]+", resource_metadata="/,
      );
      keep('401 malformed', r.json);
    }
  });

  it('I3: an expired token (signed with exp in the past) → 401 invalid_token', async () => {
    const past = depsFor(stack, {}, new FakeClock(addSeconds(stack.clock.now(), -2 * 3600)));
    const { signer } = await past.auth();
    const gid = (
      JSON.parse(Buffer.from(alice.accessToken.split('.')[1] ?? '', 'base64url').toString()) as { gid: string }
    ).gid;
    const expired = await signer.sign({
      sub: 'rally:1',
      aud: stack.mcpUrl,
      client_id: alice.clientId,
      scope: 'rally.read',
      gid,
      ttlSeconds: 60,
    });
    const r = await callTool(stack.mcpUrl, expired.token, 'get_rally_user');
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('I3: a token whose grant was revoked (POST /revoke) → 401 invalid_token on tools/call once LINK_CACHE_SECONDS have passed, and no Rally request', async () => {
    const s = await signIn(stack.url, 'alice');
    expect((await callTool(stack.mcpUrl, s.accessToken, 'get_rally_user')).status).toBe(200);
    const rev = await fetch(`${stack.url}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: s.refreshToken, client_id: s.clientId }),
    });
    expect(rev.status).toBe(200);
    await waitOutLinkCache(stack); // the warm instance may serve the link it read for that long (RFC 7009 §2.2)
    const sandbox = sandboxOf(stack);
    sandbox.clearRequests();
    const r = await callTool(stack.mcpUrl, s.accessToken, 'get_rally_user');
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe(
      `Bearer error="invalid_token", error_description="The grant was revoked", resource_metadata="${metadataUrl()}"`,
    );
    expect(sandbox.requests()).toEqual([]);
  });

  it('I3: a token with only rally.read calling a write tool → 403 insufficient_scope with scope="rally.read rally.write"; nothing is created', async () => {
    const reader = await signIn(stack.url, 'alice', { scope: 'rally.read' });
    expect(reader.scope).toBe('rally.read');
    const sandbox = sandboxOf(stack);
    const storiesBefore = sandbox.items('hierarchicalrequirement').length;
    sandbox.clearRequests();
    const w = await callTool(stack.mcpUrl, reader.accessToken, 'create_rally_story', { name: 'should not exist' });
    expect(w.status).toBe(403);
    expect(w.headers.get('www-authenticate')).toBe(
      `Bearer error="insufficient_scope", scope="rally.read rally.write", error_description="Needs rally.write", resource_metadata="${metadataUrl()}"`,
    );
    expect(sandbox.requests()).toEqual([]);
    expect(sandbox.items('hierarchicalrequirement')).toHaveLength(storiesBefore);
    keep('403 scope', w.json);
    const rd = await callTool(stack.mcpUrl, reader.accessToken, 'get_rally_user');
    expect(rd.status).toBe(200);
    expect(rd.json.result.isError).toBeUndefined();
  });

  it('L1: a rally.read token cannot run add_rally_comment / update_rally_item(confirm) through POST /tools/<tool> → 403 insufficient_scope as on /mcp; no Rally write', async () => {
    const reader = await signIn(stack.url, 'alice', { scope: 'rally.read' });
    const sandbox = sandboxOf(stack);
    const rest = async (tool: string, args: Record<string, unknown>) => {
      const res = await fetch(`${stack.url}/tools/${tool}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${reader.accessToken}` },
        body: JSON.stringify(args),
      });
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON that the test reads freely and checks with expect()
      return { status: res.status, headers: res.headers, json: (await res.json()) as any };
    };
    const before = sandbox.items('hierarchicalrequirement').find((i) => i.FormattedID === 'US1')!;
    sandbox.clearRequests();
    for (const [tool, args] of [
      ['add_rally_comment', { id: 'US1', text: 'written with a read-only token' }],
      ['update_rally_item', { id: 'US1', scheduleState: 'Completed', confirm: true }],
      ['create_rally_story', { name: 'should not exist' }],
    ] as const) {
      const w = await rest(tool, args);
      expect({ tool, status: w.status }).toEqual({ tool, status: 403 });
      expect(w.headers.get('www-authenticate')).toBe(
        `Bearer error="insufficient_scope", scope="rally.read rally.write", error_description="Needs rally.write", resource_metadata="${metadataUrl()}"`,
      );
      expect(w.json).toEqual({
        error: 'insufficient_scope',
        message: 'This tool needs the rally.write scope.',
        requestId: expect.any(String),
      });
      keep('REST 403 scope', w.json);
    }
    expect(sandbox.requests()).toEqual([]); // not even a read: refused before the Rally link is loaded
    expect(sandbox.items('hierarchicalrequirement').find((i) => i.FormattedID === 'US1')).toEqual(before);
    expect(
      stack.logs.some(
        (l) =>
          l.includes('"event":"access_denied"') && l.includes('"insufficient_scope"') && l.includes(reader.clientId),
      ),
    ).toBe(true);
    // The same token still reads over REST.
    const rd = await rest('get_rally_user', {});
    expect(rd.status).toBe(200);
    expect(rd.json.structuredContent.user.userName).toBe('alice@example.com');
  });

  it("I5: bob reading an item in alice's private project → tool error, every Rally request made as bob (no fallback)", async () => {
    const sandbox = sandboxOf(stack);
    const story = sandbox
      .items('hierarchicalrequirement')
      .find((s) => String(s.Name).startsWith('Alice private: salary'));
    const id = String(story?.FormattedID);
    expect(id).toMatch(/^US\d+$/);
    const asAlice = await callTool(stack.mcpUrl, alice.accessToken, 'get_rally_issue', { id });
    expect(asAlice.json.result.structuredContent.item.formattedId).toBe(id);
    const bob = await signIn(stack.url, 'bob');
    sandbox.clearRequests();
    const r = await callTool(stack.mcpUrl, bob.accessToken, 'get_rally_issue', { id });
    expect(r.status).toBe(200);
    expect(r.json.result.isError).toBe(true);
    expect(resultText(r.json)).toMatch(/could not find|denied|No work item|cannot see/i);
    expect(resultText(r.json)).not.toContain('salary');
    const reqs = wsapi(stack);
    expect(reqs.length).toBeGreaterThan(0);
    for (const q of reqs) expect(q.user).toBe('bob');
  });
});

describe('K2. Error responses', () => {
  it('K2: no error body this file received carries a stack trace, file path, internal URL or token', () => {
    expect(errorBodies.length).toBeGreaterThanOrEqual(8);
    const sandboxHost = new URL(sandboxOf(stack).url).host;
    for (const { what, body } of errorBodies) {
      expect({ what, stack: /\bat .+[/\\].+\.(ts|js|mjs):\d+/.test(body) }).toEqual({ what, stack: false });
      for (const needle of ['node_modules', '/work/', 'shared/', stack.firestoreHost, sandboxHost, 'Error:']) {
        expect({ what, needle, found: body.includes(needle) }).toEqual({ what, needle, found: false });
      }
      expect({ what, jose: JOSE_LIKE.test(body) }).toEqual({ what, jose: false });
    }
  });
});
