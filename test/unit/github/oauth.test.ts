/**
 * shared/github/oauth.ts: the authorize URL, the token requests and the one
 * parser of GitHub's token answers (docs/github-api.md §2): the 200-with-error
 * quirk, OAuth App tokens that never expire, GitHub App tokens that do.
 */
import {
  GitHubRefreshRejected,
  GitHubTokenResponseError,
  buildGitHubAuthorizeUrl,
  exchangeGitHubCode,
  githubPkceChallenge,
  parseGitHubTokenResponse,
  refreshGitHubTokens,
  revokeGitHubGrant,
  type GitHubOAuthConfig,
} from '../../../shared/github/oauth.js';
import { FakeClock } from '../../helpers/clock.js';
import { fakeFetch, jsonResponse } from '../../helpers/fetch.js';

const config: GitHubOAuthConfig = {
  authorizeBaseUrl: 'https://github.test',
  apiBaseUrl: 'https://api.github.test',
  clientId: 'Iv1.abc',
  redirectUri: 'https://mcp.example.com/oauth/callback',
  scopes: ['repo', 'read:user'],
  timeoutMs: 5000,
};
const SECRET = 'client-secret-value';
const clock = new FakeClock('2030-01-01T00:00:00Z');
const at = (seconds: number) => new Date(clock.nowMs() + seconds * 1000);

const verifier = 'v'.repeat(43);
const parse = (body: unknown, status = 200) => parseGitHubTokenResponse(jsonResponse(body, status), clock.now());

describe('GitHub OAuth (shared/github/oauth.ts)', () => {
  describe('the authorize URL', () => {
    it('R41: client_id, the exact redirect_uri, the configured scopes space-separated, state and PKCE S256, nothing else', () => {
      const url = new URL(buildGitHubAuthorizeUrl(config, 'state-1', verifier));
      expect(`${url.origin}${url.pathname}`).toBe('https://github.test/login/oauth/authorize');
      expect(Object.fromEntries(url.searchParams)).toEqual({
        client_id: 'Iv1.abc',
        redirect_uri: 'https://mcp.example.com/oauth/callback',
        scope: 'repo read:user',
        state: 'state-1',
        code_challenge: githubPkceChallenge(verifier),
        code_challenge_method: 'S256',
      });
      expect(githubPkceChallenge(verifier)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    });

    it('R41: no scope parameter for a GitHub App configured without scopes; a malformed scope in configuration throws', () => {
      const url = new URL(buildGitHubAuthorizeUrl({ ...config, scopes: [] }, 's', verifier));
      expect(url.searchParams.has('scope')).toBe(false);
      expect(() => buildGitHubAuthorizeUrl({ ...config, scopes: ['repo&x=1'] }, 's', verifier)).toThrow();
    });
  });

  describe('parsing token answers', () => {
    it('an OAuth App token: no expiry, no refresh token, the granted scopes kept', async () => {
      await expect(parse({ access_token: 'gho_abc', scope: 'repo,read:user', token_type: 'bearer' })).resolves.toEqual({
        accessToken: 'gho_abc',
        refreshToken: undefined,
        accessExpiresAt: undefined,
        refreshExpiresAt: undefined,
        scope: 'repo,read:user',
      });
    });

    it('a GitHub App expiring user token: both lifetimes become dates', async () => {
      const t = await parse({
        access_token: 'ghu_abc',
        expires_in: 28800,
        refresh_token: 'ghr_def',
        refresh_token_expires_in: 15897600,
        scope: '',
        token_type: 'bearer',
      });
      expect(t).toEqual({
        accessToken: 'ghu_abc',
        refreshToken: 'ghr_def',
        accessExpiresAt: at(28800),
        refreshExpiresAt: at(15897600),
        scope: '',
      });
    });

    it('a GitHub App that opted out of expiry: a ghu_ token without lifetimes; numbers as digit strings are read', async () => {
      const t = await parse({ access_token: 'ghu_abc', token_type: 'Bearer', scope: '' });
      expect(t.accessExpiresAt).toBeUndefined();
      expect(t.refreshToken).toBeUndefined();
      const s = await parse({ access_token: 'a', token_type: 'bearer', expires_in: '60', refresh_token: 'r' });
      expect(s.accessExpiresAt).toEqual(at(60));
      expect(s.refreshExpiresAt).toBeUndefined();
    });

    it.each([
      ['bad_verification_code'],
      ['incorrect_client_credentials'],
      ['redirect_uri_mismatch'],
      ['bad_refresh_token'],
      ['unverified_user_email'],
    ])('R40: HTTP 200 with error %s is a failure naming it, never tokens', async (error) => {
      const body = { error, error_description: 'GitHub says no', error_uri: 'https://docs.github.com/x' };
      const err = await parse(body).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GitHubTokenResponseError);
      expect(err).toMatchObject({ code: 'github_token_response_invalid', status: 200, oauthError: error });
      // Even alongside an access token, an error wins.
      await expect(parse({ ...body, access_token: 'gho_x', token_type: 'bearer' })).rejects.toMatchObject({
        oauthError: error,
      });
    });

    it('R40: a non-200, a non-JSON (form-encoded) body, a non-bearer type or an absurd lifetime is a failure', async () => {
      await expect(parse({ message: 'Server Error' }, 500)).rejects.toMatchObject({
        status: 500,
        oauthError: undefined,
      });
      const form = new Response('access_token=gho_x&scope=repo&token_type=bearer', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      await expect(parseGitHubTokenResponse(form, clock.now())).rejects.toMatchObject({
        oauthError: 'invalid_response',
      });
      await expect(parse({ access_token: 'x', token_type: 'mac' })).rejects.toMatchObject({
        oauthError: 'invalid_response',
      });
      await expect(parse({ access_token: 'x', token_type: 'bearer', expires_in: 0 })).rejects.toBeInstanceOf(
        GitHubTokenResponseError,
      );
      await expect(parse({ access_token: 'x', token_type: 'bearer', expires_in: 1e12 })).rejects.toBeInstanceOf(
        GitHubTokenResponseError,
      );
      await expect(parse({ access_token: '', token_type: 'bearer' })).rejects.toBeInstanceOf(GitHubTokenResponseError);
      await expect(parse({ error: 'x'.repeat(65) })).rejects.toMatchObject({ oauthError: 'invalid_response' });
    });
  });

  describe('the token requests', () => {
    it('R41: the exchange posts code, redirect_uri, code_verifier and the client credentials in the body, JSON accepted, no redirects', async () => {
      const f = fakeFetch([jsonResponse({ access_token: 'gho_a', token_type: 'bearer', scope: 'repo' })]);
      await exchangeGitHubCode(config, f.fetch, SECRET, 'code-1', verifier, clock.now);
      const call = f.calls[0]!;
      expect(call.url).toBe('https://github.test/login/oauth/access_token');
      expect(call.method).toBe('POST');
      expect(call.headers.accept).toBe('application/json');
      expect(call.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(call.redirect).toBe('manual');
      expect(call.hasSignal).toBe(true);
      expect(Object.fromEntries(new URLSearchParams(String(call.body)))).toEqual({
        code: 'code-1',
        redirect_uri: 'https://mcp.example.com/oauth/callback',
        code_verifier: verifier,
        client_id: 'Iv1.abc',
        client_secret: SECRET,
      });
      expect(call.url).not.toContain(SECRET);
    });

    it('R42: a redirect from the token endpoint is a failure; nothing follows it with the secret', async () => {
      const f = fakeFetch([new Response(null, { status: 302, headers: { location: 'https://attacker.example/' } })]);
      await expect(exchangeGitHubCode(config, f.fetch, SECRET, 'c', verifier, clock.now)).rejects.toMatchObject({
        status: 302,
      });
      expect(f.calls).toHaveLength(1);
    });

    it('R40 R43: a refused refresh (bad_refresh_token, HTTP 200) is GitHubRefreshRejected; other refusals are not', async () => {
      const bad = fakeFetch([jsonResponse({ error: 'bad_refresh_token', error_description: 'x' })]);
      await expect(refreshGitHubTokens(config, bad.fetch, SECRET, 'ghr_old', clock.now)).rejects.toBeInstanceOf(
        GitHubRefreshRejected,
      );
      const creds = fakeFetch([jsonResponse({ error: 'incorrect_client_credentials' })]);
      const err = await refreshGitHubTokens(config, creds.fetch, SECRET, 'ghr_old', clock.now).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GitHubTokenResponseError);
      expect(err).not.toBeInstanceOf(GitHubRefreshRejected);
    });

    it('a refresh posts grant_type=refresh_token with the refresh token and returns the new pair', async () => {
      const f = fakeFetch([
        jsonResponse({
          access_token: 'ghu_new',
          expires_in: 28800,
          refresh_token: 'ghr_new',
          refresh_token_expires_in: 15897600,
          scope: '',
          token_type: 'bearer',
        }),
      ]);
      const t = await refreshGitHubTokens(config, f.fetch, SECRET, 'ghr_old', clock.now);
      expect(t.refreshToken).toBe('ghr_new');
      const form = new URLSearchParams(String(f.calls[0]!.body));
      expect(form.get('grant_type')).toBe('refresh_token');
      expect(form.get('refresh_token')).toBe('ghr_old');
    });

    it('revokeGitHubGrant: DELETE /applications/{client_id}/grant with Basic client credentials; 204 true, 404 false', async () => {
      const f = fakeFetch([new Response(null, { status: 204 }), new Response('{}', { status: 404 })]);
      await expect(revokeGitHubGrant(config, f.fetch, SECRET, 'gho_a', 'ua/1')).resolves.toBe(true);
      await expect(revokeGitHubGrant(config, f.fetch, SECRET, 'gho_a', 'ua/1')).resolves.toBe(false);
      const call = f.calls[0]!;
      expect(call.url).toBe('https://api.github.test/applications/Iv1.abc/grant');
      expect(call.method).toBe('DELETE');
      expect(call.headers.authorization).toBe(`Basic ${Buffer.from(`Iv1.abc:${SECRET}`).toString('base64')}`);
      expect(JSON.parse(String(call.body))).toEqual({ access_token: 'gho_a' });
      expect(call.redirect).toBe('manual');
    });
  });
});
