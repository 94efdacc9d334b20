/**
 * The configuration switches: RALLY_PKCE=false (A1) and a Rally that does not
 * rotate refresh tokens (D4), on a stack of their own.
 */
import type { Deps } from '../../../shared/services/deps.js';
import { grantPrincipal } from '../../../shared/store/upstream-tokens.repo.js';
import { depsFor, refreshCount, sandboxOf, startTestStack, type TestStack } from '../../helpers/stack.js';
import { callTool, consentToRally, recordedSignIn } from '../../helpers/oauth-flow.js';

let stack: TestStack;
let deps: Deps;

beforeAll(async () => {
  stack = await startTestStack({
    env: { SESSION_LINK_MODE: 'false', RALLY_PKCE: 'false' },
    sandboxOptions: { rotateRefreshTokens: false, pkce: 'verify' },
  });
  deps = depsFor(stack);
});
afterAll(async () => {
  await stack?.stop();
});

const gidOf = (token: string) =>
  (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { gid: string }).gid;

it('A1: with RALLY_PKCE=false the Rally authorize URL has no code_challenge, and the code exchange sends no code_verifier; sign-in still completes', async () => {
  const out = await consentToRally(stack.url);
  expect(out.status).toBe(303);
  const url = new URL(out.location ?? '');
  expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'redirect_uri', 'response_type', 'scope', 'state']);
  expect(url.searchParams.get('scope')).toBe('alm');
  const sandbox = sandboxOf(stack);
  const mark = sandbox.requests().length;
  const s = await recordedSignIn(stack.url, 'alice');
  expect(s.rallyAuthorizeUrl.searchParams.has('code_challenge')).toBe(false);
  const exchanges = sandbox
    .requests()
    .slice(mark)
    .filter((r) => r.url.startsWith('/login/oauth2/token'));
  expect(exchanges).toHaveLength(1);
  const body = new URLSearchParams(exchanges[0]!.body);
  expect(body.get('grant_type')).toBe('authorization_code');
  expect(body.has('code_verifier')).toBe(false);
  expect(body.get('redirect_uri')).toBe(`${stack.url}/oauth/callback`);
  expect(exchanges[0]!.status).toBe(200);
});

it('D4: Rally without refresh-token rotation → the same refresh token is kept and works for every later refresh', async () => {
  const s = await recordedSignIn(stack.url, 'bob');
  const principal = grantPrincipal(gidOf(s.accessToken));
  const tokens = (await deps.auth()).tokenStore('rally');
  const original = (await tokens.read(principal))?.tokens?.refreshToken;
  expect(original).toMatch(/^[0-9a-f]{32}$/);
  const sandbox = sandboxOf(stack);
  for (const round of [1, 2]) {
    sandbox.expireAccessTokens('bob');
    const mark = sandbox.requests().length;
    const r0 = refreshCount(stack);
    const r = await callTool(stack.mcpUrl, s.accessToken, 'get_rally_user');
    expect(r.json.result?.structuredContent?.user?.userName).toBe('bob@example.com');
    expect(refreshCount(stack) - r0).toBe(1);
    const refresh = sandbox
      .requests()
      .slice(mark)
      .filter((q) => q.url.startsWith('/login/oauth2/token'));
    expect(refresh).toHaveLength(1);
    expect(new URLSearchParams(refresh[0]!.body).get('refresh_token')).toBe(original);
    expect(refresh[0]!.status).toBe(200);
    const link = await tokens.read(principal);
    expect({ round, version: link?.version, refresh: link?.tokens?.refreshToken }).toEqual({
      round,
      version: 1 + round,
      refresh: original,
    });
  }
});
