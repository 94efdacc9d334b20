/**
 * shared/github against the GitHub sandbox over real HTTP, in both token modes:
 * sign-in with PKCE through the sandbox's pages, code exchange, refresh
 * rotation and reuse, 401 after revocation, rate limits, search and the reads
 * the tools use. The token port here is a minimal in-memory one (the real one,
 * with its Firestore store and refresh lease, belongs to the provider layer).
 */
import { randomBytes } from 'node:crypto';
import { HOSTILE_PR_BODY, SEED, type GitHubSandboxHandle } from '../../../github-sandbox/index.js';
import type { GitHubTokenMode } from '../../../github-sandbox/types.js';
import { createGitHubClient, type GitHubClient } from '../../../shared/github/client.js';
import { getCommit } from '../../../shared/github/commits.api.js';
import { GitHubRateLimitedError } from '../../../shared/github/errors.js';
import {
  GitHubRefreshRejected,
  buildGitHubAuthorizeUrl,
  exchangeGitHubCode,
  refreshGitHubTokens,
  revokeGitHubGrant,
  type GitHubOAuthConfig,
  type GitHubTokens,
} from '../../../shared/github/oauth.js';
import type { GitHubTokenProvider } from '../../../shared/github/ports.js';
import { getPullRequest, searchPullRequests } from '../../../shared/github/pulls.api.js';
import { getRepo } from '../../../shared/github/repos.api.js';
import { whoAmI } from '../../../shared/github/users.api.js';
import { SERVER_INFO } from '../../../shared/kernel/version.js';
import { silentLogger } from '../../../shared/logging/logger.js';
import { FakeClock } from '../../helpers/clock.js';
import { recordingServer } from '../../helpers/fetch.js';
import { GITHUB_CLIENT, signInToGitHubViaForms, startTestGitHubSandbox } from '../../helpers/github-sandbox.js';

class NoLink extends Error {}

/** What the provider layer's token store does, minus Firestore: one current pair, refreshed on a 401. */
function memoryTokens(config: GitHubOAuthConfig, clock: FakeClock, first: GitHubTokens) {
  let current = first;
  const refreshes: string[] = [];
  const provider: GitHubTokenProvider = {
    accessToken: async () => current.accessToken,
    refreshAfterUnauthorized: async (rejected) => {
      if (rejected !== current.accessToken) return current.accessToken; // someone refreshed already
      if (current.refreshToken === undefined) throw new NoLink('no refresh token: sign in again');
      refreshes.push(current.refreshToken);
      try {
        current = await refreshGitHubTokens(config, fetch, GITHUB_CLIENT.clientSecret, current.refreshToken, clock.now);
      } catch (err) {
        if (err instanceof GitHubRefreshRejected) throw new NoLink('refresh refused: sign in again');
        throw err;
      }
      return current.accessToken;
    },
  };
  return { provider, refreshes, current: () => current };
}

describe.each<GitHubTokenMode>(['oauth-app', 'github-app'])('shared/github against the GitHub sandbox (%s)', (mode) => {
  let sb: GitHubSandboxHandle;
  let clock: FakeClock;
  let config: GitHubOAuthConfig;

  beforeEach(async () => {
    clock = new FakeClock();
    sb = await startTestGitHubSandbox({ tokenMode: mode, now: clock.now });
    config = {
      authorizeBaseUrl: sb.webUrl,
      apiBaseUrl: sb.apiUrl,
      clientId: GITHUB_CLIENT.clientId,
      redirectUri: GITHUB_CLIENT.callbackUrl,
      scopes: ['repo', 'read:user'],
      timeoutMs: 5000,
    };
  });
  afterEach(async () => sb.stop());

  /** Our authorize URL → the sandbox's pages → the callback → our code exchange. */
  async function signIn(user = 'alice'): Promise<GitHubTokens> {
    const state = randomBytes(16).toString('base64url');
    const verifier = randomBytes(32).toString('base64url');
    const back = await signInToGitHubViaForms(buildGitHubAuthorizeUrl(config, state, verifier), { user });
    expect(back.searchParams.get('state')).toBe(state);
    return exchangeGitHubCode(
      config,
      fetch,
      GITHUB_CLIENT.clientSecret,
      back.searchParams.get('code') ?? '',
      verifier,
      clock.now,
    );
  }

  function clientFor(tokens: GitHubTokens) {
    const t = memoryTokens(config, clock, tokens);
    const client: GitHubClient = createGitHubClient({
      apiBaseUrl: sb.apiUrl,
      fetch,
      tokens: t.provider,
      timeoutMs: 5000,
      clock,
      log: silentLogger,
      retry: { attempts: 2, baseDelayMs: 0 },
    });
    return { client, ...t };
  }

  it('R41: signs in through the sandbox with PKCE S256, exchanges the code and learns who signed in', async () => {
    const tokens = await signIn('bob');
    if (mode === 'oauth-app') {
      expect(tokens).toEqual({
        accessToken: expect.stringMatching(/^gho_/),
        refreshToken: undefined,
        accessExpiresAt: undefined,
        refreshExpiresAt: undefined,
        scope: 'repo,read:user',
      });
    } else {
      expect(tokens.accessToken).toMatch(/^ghu_/);
      expect(tokens.refreshToken).toMatch(/^ghr_/);
      expect(tokens.accessExpiresAt).toEqual(new Date(clock.nowMs() + 28_800_000));
      expect(tokens.refreshExpiresAt).toEqual(new Date(clock.nowMs() + 15_897_600_000));
      expect(tokens.scope).toBe('');
    }
    const { client } = clientFor(tokens);
    await expect(whoAmI(client)).resolves.toMatchObject({ login: 'bob', id: 1002, name: 'Bob Brennan' });
    const authorize = sb.requests().find((r) => r.url.startsWith('/login/oauth/authorize?'));
    expect(authorize?.url).toContain('code_challenge_method=S256');
    const api = sb.requests().filter((r) => r.server === 'api');
    expect(api[0]?.headers).toMatchObject({
      'user-agent': `${SERVER_INFO.name}/${SERVER_INFO.version}`,
      'x-github-api-version': '2022-11-28',
      accept: 'application/vnd.github+json',
    });
  });

  it('R41: a code is refused a second time, with another verifier, or for another redirect URI', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const code = async () =>
      (await signInToGitHubViaForms(buildGitHubAuthorizeUrl(config, 's', verifier))).searchParams.get('code') ?? '';
    const once = await code();
    await exchangeGitHubCode(config, fetch, GITHUB_CLIENT.clientSecret, once, verifier, clock.now);
    await expect(
      exchangeGitHubCode(config, fetch, GITHUB_CLIENT.clientSecret, once, verifier, clock.now),
    ).rejects.toMatchObject({
      status: 200,
      oauthError: 'bad_verification_code',
    });
    const other = randomBytes(32).toString('base64url');
    await expect(
      exchangeGitHubCode(config, fetch, GITHUB_CLIENT.clientSecret, await code(), other, clock.now),
    ).rejects.toMatchObject({ oauthError: 'bad_verification_code' });
    const elsewhere = { ...config, redirectUri: 'http://127.0.0.1:9/oauth/callback/other' };
    await expect(
      exchangeGitHubCode(elsewhere, fetch, GITHUB_CLIENT.clientSecret, await code(), verifier, clock.now),
    ).rejects.toMatchObject({ oauthError: 'redirect_uri_mismatch' });
    await expect(
      exchangeGitHubCode(config, fetch, 'wrong-secret', await code(), verifier, clock.now),
    ).rejects.toMatchObject({
      oauthError: 'incorrect_client_credentials',
    });
  });

  it('R42: a redirect from the token endpoint is refused and never followed with the secret', async () => {
    const elsewhere = await recordingServer();
    try {
      const verifier = randomBytes(32).toString('base64url');
      const back = await signInToGitHubViaForms(buildGitHubAuthorizeUrl(config, 's', verifier));
      sb.injectFault({
        server: 'web',
        pathPrefix: '/login/oauth/access_token',
        fault: { kind: 'redirect', location: `http://127.0.0.1:${elsewhere.port}/steal` },
      });
      await expect(
        exchangeGitHubCode(
          config,
          fetch,
          GITHUB_CLIENT.clientSecret,
          back.searchParams.get('code') ?? '',
          verifier,
          clock.now,
        ),
      ).rejects.toMatchObject({ status: 302 });
      sb.injectFault({
        server: 'api',
        pathPrefix: '/user',
        fault: { kind: 'redirect', location: `http://127.0.0.1:${elsewhere.port}/user` },
      });
      const { client } = clientFor({
        accessToken: sb.issueTokens('alice').access_token,
        refreshToken: undefined,
        accessExpiresAt: undefined,
        refreshExpiresAt: undefined,
      });
      await expect(whoAmI(client)).rejects.toMatchObject({ code: 'github_unavailable', status: 302 });
      expect(elsewhere.hits).toEqual([]);
    } finally {
      await elsewhere.close();
    }
  });

  it('R44: after the user revokes the app, a call gets 401, one refresh attempt at most, then the link is gone', async () => {
    const { client, refreshes } = clientFor(await signIn());
    await whoAmI(client);
    sb.revokeAuthorization('alice');
    await expect(whoAmI(client)).rejects.toBeInstanceOf(NoLink);
    expect(refreshes).toHaveLength(mode === 'github-app' ? 1 : 0);
    expect(sb.requests().filter((r) => r.server === 'api' && r.status === 401)).toHaveLength(1);
  });

  it('R46: a private repository the user cannot see is github_not_found, like a missing one, and stays out of searches', async () => {
    const carol = clientFor(await signIn('carol')).client;
    await expect(getRepo(carol, { repo: SEED.privateRepo })).rejects.toMatchObject({ code: 'github_not_found' });
    await expect(getRepo(carol, { repo: 'acme/nothing' })).rejects.toMatchObject({ code: 'github_not_found' });
    await expect(getPullRequest(carol, { repo: SEED.privateRepo, number: 1 })).rejects.toMatchObject({
      code: 'github_not_found',
    });
    await expect(searchPullRequests(carol, { formattedId: 'US1', repo: SEED.privateRepo })).rejects.toMatchObject({
      code: 'github_validation_failed',
      details: [expect.objectContaining({ field: 'q', code: 'invalid' })],
    });
    const all = await searchPullRequests(carol, { formattedId: 'US1' });
    expect(all.items.map((i) => i.repo)).not.toContain(SEED.privateRepo);
    const bob = clientFor(await signIn('bob')).client;
    await expect(getRepo(bob, { repo: SEED.privateRepo })).resolves.toMatchObject({
      private: true,
      defaultBranch: 'develop',
    });
  });

  it('searchPullRequests pages through the pull requests that mention a FormattedID', async () => {
    const { client } = clientFor(await signIn());
    const first = await searchPullRequests(client, { formattedId: 'US1', perPage: 2 });
    expect(first.totalCount).toBe(3);
    expect(first.items).toHaveLength(2);
    expect(first.nextPage).toBe(2);
    const second = await searchPullRequests(client, { formattedId: 'US1', perPage: 2, page: 2 });
    expect(second.items).toHaveLength(1);
    expect(second.nextPage).toBeUndefined();
    const found = [...first.items, ...second.items].map((i) => `${i.repo}#${i.number}`).sort();
    expect(found).toEqual(['acme/mobile-app#2', 'acme/storefront#1', 'acme/storefront#5']);
    const merged = await searchPullRequests(client, { formattedId: 'US1', repo: SEED.publicRepo, state: 'merged' });
    expect(merged.items).toEqual([
      expect.objectContaining({ repo: 'acme/storefront', number: 1, merged: true, state: 'closed', author: 'alice' }),
    ]);
    const q = sb.requests().find((r) => r.url.startsWith('/search/issues'))?.url ?? '';
    expect(new URLSearchParams(q.split('?')[1]).get('q')).toBe('US1 is:pr');
  });

  it('getPullRequest, getCommit (SHA prefix, branch with a slash) and getRepo read what the tools need', async () => {
    const { client } = clientFor(await signIn());
    const pr = await getPullRequest(client, { repo: SEED.publicRepo, number: 1 });
    expect(pr).toMatchObject({
      title: 'US1: Add owner column to CSV export',
      merged: true,
      headRef: 'feature/US1-owner-column',
      baseRef: 'main',
    });
    const byBranch = await getCommit(client, { repo: SEED.publicRepo, ref: pr.headRef });
    expect(byBranch.sha).toBe(pr.headSha);
    expect(byBranch).toMatchObject({
      authorLogin: 'alice',
      authorName: 'Alice Anders',
      parents: [expect.stringMatching(/^[0-9a-f]{40}$/)],
    });
    expect((await getCommit(client, { repo: SEED.publicRepo, ref: pr.headSha.slice(0, 7) })).sha).toBe(pr.headSha);
    await expect(getCommit(client, { repo: SEED.publicRepo, ref: 'f'.repeat(40) })).rejects.toMatchObject({
      code: 'github_not_found',
    });
    await expect(getRepo(client, { repo: SEED.publicRepo })).resolves.toEqual({
      fullName: 'acme/storefront',
      private: false,
      defaultBranch: 'main',
      htmlUrl: `${sb.webUrl}/acme/storefront`,
      description: 'Acme web storefront',
      archived: false,
    });
  });

  it('R48: a hostile pull-request body comes back as data, byte for byte, for the tools layer to sanitise', async () => {
    const { client } = clientFor(await signIn());
    const pr = await getPullRequest(client, SEED.hostilePull);
    expect(pr.body).toBe(HOSTILE_PR_BODY);
  });

  it('R45: an exhausted primary limit is GitHubRateLimitedError until the reset; search has its own 30 a minute', async () => {
    const { client } = clientFor(await signIn());
    sb.exhaustRateLimit('alice', 'core');
    const err = await whoAmI(client).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitHubRateLimitedError);
    expect(err).toMatchObject({ limitKind: 'primary', resource: 'core', retryAfterSeconds: 3600, status: 403 });
    for (let i = 0; i < 30; i++) await searchPullRequests(client, { formattedId: 'DE2' });
    await expect(searchPullRequests(client, { formattedId: 'DE2' })).rejects.toMatchObject({
      code: 'github_rate_limited',
      limitKind: 'primary',
      resource: 'search',
      retryAfterSeconds: 60,
    });
    expect(client.lastRateLimit('search')).toMatchObject({ limit: 30, remaining: 0 });
    clock.advanceSeconds(60);
    await expect(searchPullRequests(client, { formattedId: 'DE2' })).resolves.toMatchObject({ totalCount: 1 });
  });

  it('R45: a secondary limit carries retry-after and is not retried', async () => {
    const { client } = clientFor(await signIn());
    sb.injectFault({
      server: 'api',
      pathPrefix: '/repos/',
      fault: { kind: 'secondary-rate-limit', status: 429, retryAfterSeconds: 42 },
    });
    await expect(getRepo(client, { repo: SEED.publicRepo })).rejects.toMatchObject({
      limitKind: 'secondary',
      retryAfterSeconds: 42,
      status: 429,
    });
    expect(sb.requests().filter((r) => r.url.startsWith('/repos/'))).toHaveLength(1);
  });

  it('a 5xx is retried; revokeGitHubGrant ends the authorization', async () => {
    const tokens = await signIn();
    const { client } = clientFor(tokens);
    sb.injectFault({ server: 'api', pathPrefix: '/user', times: 1, fault: { kind: 'status', status: 502 } });
    await expect(whoAmI(client)).resolves.toMatchObject({ login: 'alice' });
    await expect(
      revokeGitHubGrant(config, fetch, GITHUB_CLIENT.clientSecret, tokens.accessToken, 'rally-mcp/test'),
    ).resolves.toBe(true);
    await expect(
      revokeGitHubGrant(config, fetch, GITHUB_CLIENT.clientSecret, tokens.accessToken, 'rally-mcp/test'),
    ).resolves.toBe(false);
    await expect(whoAmI(client)).rejects.toBeInstanceOf(NoLink);
  });

  if (mode === 'github-app') {
    it('an expired user token is refreshed once on the 401 and the call goes through with the new one', async () => {
      const first = await signIn();
      const t = clientFor(first);
      clock.advanceSeconds(28_800);
      await expect(whoAmI(t.client)).resolves.toMatchObject({ login: 'alice' });
      expect(t.refreshes).toEqual([first.refreshToken]);
      expect(sb.stats().tokenRequests.refresh_token).toBe(1);
      expect(t.current().accessToken).not.toBe(first.accessToken);
      const api = sb
        .requests()
        .filter((r) => r.server === 'api')
        .map((r) => r.status);
      expect(api).toEqual([401, 200]);
    });

    it('R43: a refresh token is single use: reusing it is GitHubRefreshRejected, and the replaced access token is dead', async () => {
      const first = await signIn();
      const second = await refreshGitHubTokens(
        config,
        fetch,
        GITHUB_CLIENT.clientSecret,
        first.refreshToken ?? '',
        clock.now,
      );
      expect(second.refreshToken).not.toBe(first.refreshToken);
      await expect(
        refreshGitHubTokens(config, fetch, GITHUB_CLIENT.clientSecret, first.refreshToken ?? '', clock.now),
      ).rejects.toBeInstanceOf(GitHubRefreshRejected);
      const stale = clientFor({ ...first, refreshToken: undefined }).client;
      await expect(whoAmI(stale)).rejects.toBeInstanceOf(NoLink); // 401: the old access token died with the refresh
      await expect(whoAmI(clientFor(second).client)).resolves.toMatchObject({ login: 'alice' });
    });
  }
});
