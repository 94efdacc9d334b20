/**
 * The local stack with the GitHub sandbox (dev/local-stack.ts `githubSandbox`):
 * it starts beside the Rally sandbox, is registered with the stack's one
 * callback, keeps its client secret as a file secret in the keys folder, and
 * stops with the stack.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { buildGitHubAuthorizeUrl, exchangeGitHubCode } from '../../../shared/github/oauth.js';
import { signInToGitHubViaForms } from '../../helpers/github-sandbox.js';
import { startTestStack, type TestStack } from '../../helpers/stack.js';

describe('the local stack with the GitHub sandbox', () => {
  let stack: TestStack;
  const keysDir = mkdtempSync(join(tmpdir(), 'rally-mcp-keys-'));
  beforeAll(async () => {
    stack = await startTestStack({ keysDir, githubSandbox: { tokenMode: 'github-app' } });
  });
  afterAll(async () => stack.stop());

  it('starts it registered with /oauth/callback; a sign-in with the stack’s client and secret file works', async () => {
    const gh = stack.github!;
    expect(gh).toMatchObject({ tokenMode: 'github-app', callbackUrl: `${stack.url}/oauth/callback` });
    expect(gh.authorizeBaseUrl).toBe(gh.sandbox.webUrl);
    expect(gh.apiBaseUrl).toBe(gh.sandbox.apiUrl);
    expect(gh.clientId).toMatch(/^Iv1\.[0-9a-f]{16}$/);
    const secret = (await readFile(join(keysDir, gh.clientSecretName, '1'), 'utf8')).trim();
    const config = {
      authorizeBaseUrl: gh.authorizeBaseUrl,
      apiBaseUrl: gh.apiBaseUrl,
      clientId: gh.clientId,
      redirectUri: gh.callbackUrl,
      scopes: [],
      timeoutMs: 5000,
    };
    // Stop at the callback: our server does not speak GitHub yet (the provider layer wires it).
    const back = await signInToGitHubViaForms(buildGitHubAuthorizeUrl(config, 'st', 'v'.repeat(43)), { user: 'bob' });
    expect(`${back.origin}${back.pathname}`).toBe(`${stack.url}/oauth/callback`);
    const tokens = await exchangeGitHubCode(
      config,
      fetch,
      secret,
      back.searchParams.get('code') ?? '',
      'v'.repeat(43),
      () => new Date(),
    );
    expect(tokens.refreshToken).toMatch(/^ghr_/);
    expect(stack.serverEnv).not.toHaveProperty('GITHUB_CLIENT_SECRET');
  });
});
