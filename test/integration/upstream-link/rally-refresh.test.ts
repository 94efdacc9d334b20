/**
 * Using and refreshing Rally tokens (D1, D4, D6, D7, D9; D2, D3 and D5, which every upstream
 * provider shares, run for each provider in test/integration/upstream/upstream-security.test.ts) against
 * the local stack, and the log leak check (K1) over everything this file did. Each test signs in its own sandbox user, and the
 * sandbox request log is never cleared (K1 reads the Rally tokens from it).
 */
import { readFile } from 'node:fs/promises';
import type { Deps } from '../../../shared/services/deps.js';
import { type StoredLink } from '../../../shared/upstream-link/link-store.js';
import { grantPrincipal, tokenRecordPath } from '../../../shared/store/upstream-tokens.repo.js';
import { grantPath } from '../../../shared/store/grants.repo.js';
import {
  depsFor,
  dumpFirestore,
  refreshCount,
  sandboxOf,
  startTestStack,
  waitOutLinkCache,
  type TestStack,
} from '../../helpers/stack.js';
import type { RecordedRequest } from '../../../rally-sandbox/types.js';
import { callTool, JOSE_LIKE, recordedSignIn, resultText, type RecordedSignIn } from '../../helpers/oauth-flow.js';
import { recordingServer } from '../../helpers/fetch.js';

let stack: TestStack;
let deps: Deps;
/** Every secret value this file saw; K1 checks that none reached a log line. */
const secrets = new Map<string, string>();
const remember = (what: string, value: string | undefined) => {
  if (value && value.length >= 8) secrets.set(value, what);
};

beforeAll(async () => {
  stack = await startTestStack({
    env: { SESSION_LINK_MODE: 'false', RALLY_TIMEOUT_MS: '3000' },
    sandboxOptions: { extraUsers: 9 },
  });
  deps = depsFor(stack);
});
afterAll(async () => {
  await stack?.stop();
});

const gidOf = (token: string) =>
  (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { gid: string }).gid;
const principalOf = (s: RecordedSignIn) => grantPrincipal(gidOf(s.accessToken));
const tokensDoc = async (s: RecordedSignIn) => (await deps.db()).doc(tokenRecordPath('rally', principalOf(s))).get();
const storedLink = async (s: RecordedSignIn): Promise<StoredLink | undefined> =>
  (await deps.auth()).tokenStore('rally').read(principalOf(s));
const since = (mark: number): readonly RecordedRequest[] => sandboxOf(stack).requests().slice(mark);
const tokenBody = (r: RecordedRequest) => new URLSearchParams(r.body);
const refreshRequests = (reqs: readonly RecordedRequest[]) =>
  reqs.filter((r) => r.url.startsWith('/login/oauth2/token') && tokenBody(r).get('grant_type') === 'refresh_token');

async function signedIn(user: string): Promise<RecordedSignIn> {
  const s = await recordedSignIn(stack.url, user);
  for (const [k, v] of Object.entries(s))
    if (typeof v === 'string' && !['redirectUri', 'scope', 'clientId'].includes(k)) remember(`${user}.${k}`, v);
  const warm = await callTool(stack.mcpUrl, s.accessToken, 'get_rally_user');
  expect(warm.status).toBe(200);
  expect(warm.json.result.structuredContent.user.userName).toBe(`${user}@example.com`);
  return s;
}

/** The re-link prompt: a tool error (not a JSON-RPC error, not an HTTP error) with a /connect link. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON that the test reads freely and checks with expect()
function expectRelinkPrompt(r: { status: number; json: any }) {
  expect(r.status).toBe(200);
  expect(r.json.error).toBeUndefined();
  expect(r.json.result.isError).toBe(true);
  expect(resultText(r.json)).toMatch(
    new RegExp(`${stack.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/connect/[A-Za-z0-9_-]{43}`),
  );
}

describe('D. Using and refreshing Rally tokens', () => {
  it('D1: expired Rally access token → exactly one refresh, the call succeeds, new tokens persisted (version bumped) and used', async () => {
    const s = await signedIn('user001');
    const before = await storedLink(s);
    expect(before?.version).toBe(1);
    const sandbox = sandboxOf(stack);
    sandbox.expireAccessTokens('user001');
    const mark = sandbox.requests().length;
    const r0 = refreshCount(stack);
    const r = await callTool(stack.mcpUrl, s.accessToken, 'get_rally_user');
    expect(r.status).toBe(200);
    expect(r.json.result.structuredContent.user.userName).toBe('user001@example.com');
    expect(refreshCount(stack) - r0).toBe(1);
    const reqs = since(mark);
    const refreshes = refreshRequests(reqs);
    expect(refreshes).toHaveLength(1);
    expect(tokenBody(refreshes[0]!).get('refresh_token')).toBe(before?.tokens?.refreshToken);
    const after = await storedLink(s);
    expect(after?.version).toBe(2);
    expect(after?.status).toBe('linked');
    expect(after?.tokens?.accessToken).not.toBe(before?.tokens?.accessToken);
    expect(after?.tokens?.refreshToken).not.toBe(before?.tokens?.refreshToken); // the sandbox rotates; the old one is dropped
    // The retried WSAPI request used the persisted new token.
    const ok = reqs.filter((q) => q.url.startsWith('/slm/webservice/') && q.status === 200);
    expect(ok.length).toBeGreaterThan(0);
    for (const q of ok) expect(q.headers.zsessionid).toBe(after?.tokens?.accessToken);
    expect((await tokensDoc(s)).get('leaseHolder') ?? undefined).toBeUndefined(); // cleared (null or absent)
  });

  it('D4: a refresh response without refresh_token keeps the old refresh token, and the next refresh works with it', async () => {
    const s = await signedIn('user004');
    const sandbox = sandboxOf(stack);
    const before = await storedLink(s);
    const oldRefresh = before?.tokens?.refreshToken ?? '';
    sandbox.expireAccessTokens('user004');
    const issued = sandbox.issueTokens('user004');
    remember('user004.issued.access', issued.access_token);
    remember('user004.issued.refresh', issued.refresh_token);
    const removeFault = sandbox.injectFault({
      pathPrefix: '/login/oauth2/token',
      times: 1,
      fault: {
        kind: 'status',
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({ access_token: issued.access_token, token_type: 'bearer', expires_in: 3600 }),
      },
    });
    const mark = sandbox.requests().length;
    const r = await callTool(stack.mcpUrl, s.accessToken, 'get_rally_user');
    removeFault();
    expect(r.json.result?.structuredContent?.user?.userName).toBe('user004@example.com');
    expect(tokenBody(refreshRequests(since(mark))[0]!).get('refresh_token')).toBe(oldRefresh);
    const mid = await storedLink(s);
    expect(mid?.version).toBe(2);
    expect(mid?.tokens?.accessToken).toBe(issued.access_token);
    expect(mid?.tokens?.refreshToken).toBe(oldRefresh);
    // Next expiry: the kept refresh token goes to Rally and works.
    sandbox.expireAccessTokens('user004');
    const mark2 = sandbox.requests().length;
    const r2 = await callTool(stack.mcpUrl, s.accessToken, 'get_rally_user');
    expect(r2.json.result?.structuredContent?.user?.userName).toBe('user004@example.com');
    const second = refreshRequests(since(mark2));
    expect(second).toHaveLength(1);
    expect(tokenBody(second[0]!).get('refresh_token')).toBe(oldRefresh);
    expect(second[0]!.status).toBe(200);
    expect((await storedLink(s))?.version).toBe(3);
  });

  it('D6: WSAPI requests carry the Rally token only as ZSESSIONID — never our bearer or session headers — and carry the client correlation/request ids', async () => {
    const s = await signedIn('user006');
    const link = await storedLink(s);
    const sandbox = sandboxOf(stack);
    const mark = sandbox.requests().length;
    const sessionId = '4b0f6f0e-6c1e-4d8a-9a63-3f2d1c0b9e7a';
    const r = await callTool(
      stack.mcpUrl,
      s.accessToken,
      'get_rally_user',
      {},
      {
        'x-ms-correlation-id': 'corr-d6-123',
        'x-ms-client-request-id': 'req-d6-456',
        'mcp-session-id': 'mcp-session-d6',
        'session-id': sessionId,
      },
    );
    expect(r.status).toBe(200);
    const reqs = since(mark).filter((q) => q.url.startsWith('/slm/webservice/'));
    expect(reqs.length).toBeGreaterThan(0);
    for (const q of reqs) {
      expect(q.headers.zsessionid).toBe(link?.tokens?.accessToken);
      expect(q.headers.authorization).toBeUndefined();
      expect(q.headers['x-correlation-id']).toBe('corr-d6-123');
      expect(q.headers['x-request-id']).toBe('req-d6-456');
      for (const [name, value] of Object.entries(q.headers)) {
        expect({ name, jose: JOSE_LIKE.test(value) }).toEqual({ name, jose: false });
        for (const v of [s.accessToken, s.refreshToken, 'mcp-session-d6', sessionId])
          expect({ name, leaked: value.includes(v) }).toEqual({ name, leaked: false });
      }
    }
    // The same holds for every WSAPI request the sandbox saw in this file (sign-in identity lookups included).
    for (const q of sandbox.requests().filter((x) => x.url.startsWith('/slm/webservice/'))) {
      expect(q.headers.authorization).toBeUndefined();
      expect(Object.values(q.headers).some((v) => JOSE_LIKE.test(v))).toBe(false);
    }
  });

  it('D7: a cross-origin 3xx from Rally is not followed — the other origin receives nothing, for WSAPI and for the token refresh', async () => {
    const other = await recordingServer();
    const s = await signedIn('user007');
    const sandbox = sandboxOf(stack);
    try {
      const remove = sandbox.injectFault({
        pathPrefix: '/slm/webservice/v2.0/',
        fault: { kind: 'redirect', location: `http://127.0.0.1:${other.port}/slm/webservice/v2.0/user` },
      });
      const r = await callTool(stack.mcpUrl, s.accessToken, 'get_rally_user');
      remove();
      expect(r.status).toBe(200);
      expect(r.json.result.isError).toBe(true);
      expect(resultText(r.json)).toMatch(/Rally is unavailable right now/);
      sandbox.expireAccessTokens('user007');
      const removeToken = sandbox.injectFault({
        pathPrefix: '/login/oauth2/token',
        fault: { kind: 'redirect', location: `http://127.0.0.1:${other.port}/login/oauth2/token` },
      });
      const r2 = await callTool(stack.mcpUrl, s.accessToken, 'get_rally_user');
      removeToken();
      expect(r2.status).toBe(200);
      expect(r2.json.result?.isError ?? r2.json.error !== undefined).toBe(true);
      expect(other.hits).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('D9: disconnect_rally deletes the rally_tokens document and the next call gets the re-link prompt (grant stays active)', async () => {
    const s = await signedIn('user008');
    expect((await tokensDoc(s)).exists).toBe(true);
    const d = await callTool(stack.mcpUrl, s.accessToken, 'disconnect_rally');
    expect(d.status).toBe(200);
    expect(d.json.result.structuredContent.disconnected).toBe(true);
    expect(d.json.result.structuredContent.nextStep).toMatch(/Authorized Applications/);
    expect((await tokensDoc(s)).exists).toBe(false);
    const grant = await (await deps.db()).doc(grantPath(gidOf(s.accessToken))).get();
    expect(grant.get('status')).toBe('active');
    const mark = sandboxOf(stack).requests().length;
    const next = await callTool(stack.mcpUrl, s.accessToken, 'get_rally_user');
    expect(since(mark)).toEqual([]);
    expectRelinkPrompt(next);
  });
});

describe('K1. Logs', () => {
  it('K1: a full flow (sign-in, calls, refresh, revoke) leaves no token, code, state, cookie, secret, key or JOSE string in any log line', async () => {
    const s = await signedIn('alice');
    sandboxOf(stack).expireAccessTokens('alice');
    expect((await callTool(stack.mcpUrl, s.accessToken, 'get_rally_user')).status).toBe(200);
    const refreshed = await fetch(`${stack.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: s.refreshToken, client_id: s.clientId }),
    });
    const ours = (await refreshed.json()) as { access_token: string; refresh_token: string };
    expect(refreshed.status).toBe(200);
    remember('alice.refreshed.access', ours.access_token);
    remember('alice.refreshed.refresh', ours.refresh_token);
    const rev = await fetch(`${stack.url}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: ours.refresh_token, client_id: s.clientId }),
    });
    expect(rev.status).toBe(200);
    await waitOutLinkCache(stack);
    expect((await callTool(stack.mcpUrl, ours.access_token, 'get_rally_user')).status).toBe(401);

    // Rally-side values, as the sandbox received them.
    for (const q of sandboxOf(stack).requests()) {
      remember('rally.zsessionid', q.headers.zsessionid);
      if (q.url.startsWith('/login/oauth2/token')) {
        const b = tokenBody(q);
        for (const k of ['code', 'refresh_token', 'code_verifier', 'client_secret'])
          remember(`rally.token.${k}`, b.get(k) ?? undefined);
      }
    }
    // Keys and secrets from the secret files; sealed strings from Firestore.
    for (const name of ['rally-client-secret', 'rally-mcp-sealing-key', 'rally-mcp-signing-key']) {
      const raw = (await readFile(`${stack.serverEnv.SECRETS_DIR}/${name}/1`, 'utf8')).trim();
      remember(`file.${name}`, raw);
      if (raw.startsWith('{')) remember(`file.${name}.d`, (JSON.parse(raw) as { d?: string }).d);
    }
    for (const doc of await dumpFirestore(await deps.db())) {
      for (const m of doc.json.matchAll(/"(sealed|sealedState)":"([^"]+)"/g))
        remember(`firestore.${doc.collection}.${m[1]}`, m[2]);
    }
    expect(secrets.size).toBeGreaterThan(40);
    expect(stack.logs.length).toBeGreaterThan(50);
    for (const line of stack.logs) {
      for (const [value, what] of secrets) {
        if (line.includes(value)) throw new Error(`log line contains ${what}: ${line.slice(0, 300)}`);
      }
      expect({ line: line.slice(0, 200), jose: JOSE_LIKE.test(line) }).toEqual({
        line: line.slice(0, 200),
        jose: false,
      });
      expect({ line: line.slice(0, 200), stack: /\n\s+at |\bat .+\.(ts|js):\d+:\d+/.test(line) }).toEqual({
        line: line.slice(0, 200),
        stack: false,
      });
    }
  });
});
