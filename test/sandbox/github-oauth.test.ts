/**
 * The GitHub sandbox's OAuth against docs/github-api.md §2: the authorize
 * endpoint and its pages, the token endpoint's 200-with-error answers and
 * Accept-driven formats, codes bound to redirect URI and PKCE verifier, both
 * token modes, refresh rotation, the ten-token cap and revocation.
 */
import type { GitHubSandboxHandle } from '../../github-sandbox/index.js';
import { FakeClock } from '../helpers/clock.js';
import { browse } from '../helpers/oauth-flow.js';
import {
  GITHUB_CLIENT,
  githubApi,
  githubAuthorizeUrl,
  githubPkcePair,
  githubSignIn,
  githubTokenRequest,
  hiddenTx,
  postForm,
  signInToGitHubViaForms,
  startTestGitHubSandbox,
} from '../helpers/github-sandbox.js';

describe('GitHub sandbox OAuth', () => {
  let sb: GitHubSandboxHandle;
  let clock: FakeClock;
  afterEach(async () => sb.stop());

  const codeFor = async (params: Record<string, string | undefined> = {}, user = 'alice') => {
    const back = await signInToGitHubViaForms(githubAuthorizeUrl(sb, params), { user });
    const code = back.searchParams.get('code');
    if (!code) throw new Error(`no code: ${back.toString()}`);
    return code;
  };

  describe('authorize (OAuth App)', () => {
    beforeEach(async () => {
      clock = new FakeClock();
      sb = await startTestGitHubSandbox({ now: clock.now });
    });

    it('shows a sign-in form, then "Authorize" with the requested scopes, then redirects with code and state', async () => {
      const res = await fetch(githubAuthorizeUrl(sb));
      const html = await res.text();
      expect(res.status).toBe(200);
      expect(html).toMatch(/<input[^>]+name="username"/);
      expect(html).toMatch(/<input[^>]+type="password"[^>]+name="password"/);
      const signed = await postForm(`${sb.webUrl}/login/oauth/authorize/signin`, {
        tx: hiddenTx(html),
        username: 'alice',
        password: 'alice',
      });
      const page = await signed.text();
      expect(signed.status).toBe(200);
      expect(page).toContain('Authorize Rally MCP (sandbox)');
      expect(page).toContain('(repo)');
      expect(page).toContain('(read:user)');
      expect(page).toMatch(/<button[^>]*value="deny"[^>]*>Cancel<\/button>/);
      const done = await postForm(`${sb.webUrl}/login/oauth/authorize/decision`, {
        tx: hiddenTx(page),
        decision: 'allow',
      });
      expect(done.status).toBe(302);
      const back = new URL(done.headers.get('location') ?? '');
      expect(`${back.origin}${back.pathname}`).toBe(GITHUB_CLIENT.callbackUrl);
      expect(back.searchParams.get('state')).toBe('st-123');
      expect(back.searchParams.get('code')).toMatch(/^[0-9a-f]{20}$/);
    });

    it('Cancel redirects with access_denied, its description, error_uri and the state', async () => {
      const back = await signInToGitHubViaForms(githubAuthorizeUrl(sb), { decision: 'deny' });
      expect(back.searchParams.get('error')).toBe('access_denied');
      expect(back.searchParams.get('error_description')).toBe('The user has denied your application access.');
      expect(back.searchParams.get('error_uri')).toMatch(
        /troubleshooting-authorization-request-errors\/#access-denied$/,
      );
      expect(back.searchParams.get('state')).toBe('st-123');
      expect(back.searchParams.get('code')).toBeNull();
    });

    it('a redirect_uri that does not match is not followed: the registered callback gets redirect_uri_mismatch', async () => {
      for (const other of ['http://attacker.example/oauth/callback', 'http://127.0.0.1:9/elsewhere']) {
        const res = await fetch(githubAuthorizeUrl(sb, { redirect_uri: other }), { redirect: 'manual' });
        expect(res.status).toBe(302);
        const back = new URL(res.headers.get('location') ?? '');
        expect(`${back.origin}${back.pathname}`).toBe(GITHUB_CLIENT.callbackUrl);
        expect(back.searchParams.get('error')).toBe('redirect_uri_mismatch');
        expect(back.searchParams.get('state')).toBe('st-123');
      }
    });

    it('an OAuth App accepts a sub-path of its callback and any port of a loopback callback (GitHub’s OAuth App rule)', async () => {
      for (const ok of ['http://127.0.0.1:9/oauth/callback/deeper', 'http://127.0.0.1:4321/oauth/callback']) {
        const back = await signInToGitHubViaForms(githubAuthorizeUrl(sb, { redirect_uri: ok }));
        expect(`${back.origin}${back.pathname}`).toBe(ok);
        expect(back.searchParams.get('code')).not.toBeNull();
      }
    });

    it('without redirect_uri the code goes to the registered callback', async () => {
      const back = await signInToGitHubViaForms(githubAuthorizeUrl(sb, { redirect_uri: undefined }));
      expect(`${back.origin}${back.pathname}`).toBe(GITHUB_CLIENT.callbackUrl);
    });

    it('an unknown client_id gets a 404 page and no redirect', async () => {
      const res = await fetch(githubAuthorizeUrl(sb, { client_id: 'Iv1.nope' }), { redirect: 'manual' });
      expect(res.status).toBe(404);
      expect(res.headers.get('location')).toBeNull();
    });

    it('PKCE: plain, a missing method or a malformed challenge is refused with invalid_request', async () => {
      const { challenge } = githubPkcePair();
      for (const params of [
        { code_challenge: challenge, code_challenge_method: 'plain' },
        { code_challenge: challenge },
        { code_challenge: 'short', code_challenge_method: 'S256' },
        { code_challenge_method: 'S256' },
      ]) {
        const res = await fetch(githubAuthorizeUrl(sb, params), { redirect: 'manual' });
        expect(res.status).toBe(302);
        expect(new URL(res.headers.get('location') ?? '').searchParams.get('error')).toBe('invalid_request');
      }
    });

    it('a wrong password shows the form again with an error; the sign-in form accepts the e-mail', async () => {
      const page = await fetch(githubAuthorizeUrl(sb));
      const tx = hiddenTx(await page.text());
      const wrong = await postForm(`${sb.webUrl}/login/oauth/authorize/signin`, {
        tx,
        username: 'alice',
        password: 'bob',
      });
      expect(wrong.status).toBe(200);
      expect(await wrong.text()).toContain('Incorrect username or password.');
      const ok = await postForm(`${sb.webUrl}/login/oauth/authorize/signin`, {
        tx,
        username: 'bob@example.com',
        password: 'bob',
      });
      expect(await ok.text()).toContain('wants to access your <strong>bob</strong> account');
    });

    it('a user who already authorized these scopes is not shown the Authorize page again', async () => {
      await codeFor();
      const page = await fetch(githubAuthorizeUrl(sb));
      const signed = await postForm(`${sb.webUrl}/login/oauth/authorize/signin`, {
        tx: hiddenTx(await page.text()),
        username: 'alice',
        password: 'alice',
      });
      expect(signed.status).toBe(302);
      expect(new URL(signed.headers.get('location') ?? '').searchParams.get('code')).not.toBeNull();
      // More scopes than authorized: the page appears again.
      const more = await fetch(githubAuthorizeUrl(sb, { scope: 'repo read:user workflow' }));
      const again = await postForm(`${sb.webUrl}/login/oauth/authorize/signin`, {
        tx: hiddenTx(await more.text()),
        username: 'alice',
        password: 'alice',
      });
      expect(again.status).toBe(200);
      expect(await again.text()).toContain('(workflow)');
    });

    it('the generic browse() of test/helpers/oauth-flow.ts walks these pages like a user', async () => {
      const end = await browse(githubAuthorizeUrl(sb), { username: 'bob', stopAt: GITHUB_CLIENT.callbackUrl });
      const back = new URL(end.url);
      expect(back.searchParams.get('code')).toMatch(/^[0-9a-f]{20}$/);
      expect(end.steps).toEqual([
        'GET /login/oauth/authorize -> 200',
        'POST /login/oauth/authorize/signin -> 200',
        'POST /login/oauth/authorize/decision -> 302',
      ]);
      const denied = await browse(githubAuthorizeUrl(sb, { scope: 'workflow' }), {
        username: 'bob',
        consent: 'deny',
        stopAt: GITHUB_CLIENT.callbackUrl,
      });
      expect(new URL(denied.url).searchParams.get('error')).toBe('access_denied');
    });

    it('a sign-in is single use: replaying the Authorize form finds nothing', async () => {
      const page = await fetch(githubAuthorizeUrl(sb));
      const tx = hiddenTx(await page.text());
      await postForm(`${sb.webUrl}/login/oauth/authorize/signin`, { tx, username: 'alice', password: 'alice' });
      const first = await postForm(`${sb.webUrl}/login/oauth/authorize/decision`, { tx, decision: 'allow' });
      expect(first.status).toBe(302);
      const replay = await postForm(`${sb.webUrl}/login/oauth/authorize/decision`, { tx, decision: 'allow' });
      expect(replay.status).toBe(400);
    });
  });

  describe('token endpoint (OAuth App)', () => {
    beforeEach(async () => {
      clock = new FakeClock();
      sb = await startTestGitHubSandbox({ now: clock.now });
    });

    it('exchanges a code for a non-expiring gho_ token with the granted scopes, comma-separated', async () => {
      const res = await githubTokenRequest(sb, { code: await codeFor(), redirect_uri: GITHUB_CLIENT.callbackUrl });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        access_token: expect.stringMatching(/^gho_[A-Za-z0-9]{36}$/),
        scope: 'repo,read:user',
        token_type: 'bearer',
      });
      const me = await githubApi(sb, '/user', res.body.access_token);
      expect(me.status).toBe(200);
      expect(me.headers.get('x-oauth-scopes')).toBe('repo, read:user');
      clock.advanceSeconds(400 * 86_400); // OAuth App tokens do not expire
      expect((await githubApi(sb, '/user', res.body.access_token)).status).toBe(200);
    });

    it('errors are HTTP 200 with error, error_description and error_uri', async () => {
      const code = await codeFor();
      const cases: Array<[Record<string, string>, string]> = [
        [{ code, client_secret: 'wrong' }, 'incorrect_client_credentials'],
        [{ code: 'feedfacefeedfacefeed' }, 'bad_verification_code'],
        [{ code, redirect_uri: 'http://127.0.0.1:9/other' }, 'redirect_uri_mismatch'],
        [{ grant_type: 'refresh_token', refresh_token: 'ghr_nope' }, 'bad_refresh_token'],
        [{ grant_type: 'password', code }, 'unsupported_grant_type'],
      ];
      for (const [form, error] of cases) {
        const res = await githubTokenRequest(sb, form);
        expect(res.status).toBe(200);
        expect(res.body).toEqual({
          error,
          error_description: expect.any(String),
          error_uri: expect.stringMatching(/^https:\/\/docs\.github\.com\//),
        });
      }
    });

    it('the answer follows Accept: form-encoded by default, XML on request', async () => {
      const form = await githubTokenRequest(sb, { code: await codeFor() }, '*/*');
      expect(form.headers.get('content-type')).toMatch(/^application\/x-www-form-urlencoded/);
      expect(new URLSearchParams(form.text).get('access_token')).toMatch(/^gho_/);
      expect(new URLSearchParams(form.text).get('scope')).toBe('repo,read:user');
      const err = await githubTokenRequest(sb, { code: 'nope' }, 'application/xml');
      expect(err.text).toMatch(/^<OAuth><error>bad_verification_code<\/error>/);
    });

    it('parameters may come in the query string, as GitHub documents them', async () => {
      const code = await codeFor();
      const q = new URLSearchParams({
        client_id: GITHUB_CLIENT.clientId,
        client_secret: GITHUB_CLIENT.clientSecret,
        code,
      });
      const res = await fetch(`${sb.webUrl}/login/oauth/access_token?${q.toString()}`, {
        method: 'POST',
        headers: { accept: 'application/json' },
      });
      expect(((await res.json()) as { access_token: string }).access_token).toMatch(/^gho_/);
    });

    it('a code is single use, even when the first use failed', async () => {
      const code = await codeFor();
      const wrongRedirect = await githubTokenRequest(sb, { code, redirect_uri: 'http://127.0.0.1:9/other' });
      expect(wrongRedirect.body.error).toBe('redirect_uri_mismatch');
      const again = await githubTokenRequest(sb, { code, redirect_uri: GITHUB_CLIENT.callbackUrl });
      expect(again.body.error).toBe('bad_verification_code');
      const ok = await githubTokenRequest(sb, { code: await codeFor() });
      expect(ok.body.access_token).toMatch(/^gho_/);
      expect((await githubTokenRequest(sb, { code: await codeFor() })).body.access_token).toMatch(/^gho_/);
    });

    it('a code expires after 10 minutes', async () => {
      const code = await codeFor();
      clock.advanceSeconds(601);
      expect((await githubTokenRequest(sb, { code })).body.error).toBe('bad_verification_code');
    });

    it('a code issued with a PKCE challenge needs the matching verifier', async () => {
      const { verifier, challenge } = githubPkcePair();
      const other = githubPkcePair().verifier;
      const pkce = { code_challenge: challenge, code_challenge_method: 'S256' };
      expect((await githubTokenRequest(sb, { code: await codeFor(pkce) })).body.error).toBe('bad_verification_code');
      expect((await githubTokenRequest(sb, { code: await codeFor(pkce), code_verifier: other })).body.error).toBe(
        'bad_verification_code',
      );
      const ok = await githubTokenRequest(sb, { code: await codeFor(pkce), code_verifier: verifier });
      expect(ok.body.access_token).toMatch(/^gho_/);
    });

    it('the eleventh token for one user and scope set revokes the oldest', async () => {
      const tokens: string[] = [];
      for (let i = 0; i < 11; i++) {
        tokens.push((await githubTokenRequest(sb, { code: await codeFor() })).body.access_token as string);
        clock.advanceSeconds(1);
      }
      expect((await githubApi(sb, '/user', tokens[0])).status).toBe(401);
      expect((await githubApi(sb, '/user', tokens[1])).status).toBe(200);
      expect((await githubApi(sb, '/user', tokens[10])).status).toBe(200);
    });

    it('the user revoking the app kills every token at once; the Authorize page comes back', async () => {
      const a = (await githubTokenRequest(sb, { code: await codeFor() })).body.access_token as string;
      const bob = (await githubTokenRequest(sb, { code: await codeFor({}, 'bob') })).body.access_token as string;
      sb.revokeAuthorization('alice');
      const after = await githubApi(sb, '/user', a);
      expect(after.status).toBe(401);
      expect(after.body).toEqual({
        message: 'Bad credentials',
        documentation_url: 'https://docs.github.com/rest',
        status: '401',
      });
      expect((await githubApi(sb, '/user', bob)).status).toBe(200);
      const page = await fetch(githubAuthorizeUrl(sb));
      const signed = await postForm(`${sb.webUrl}/login/oauth/authorize/signin`, {
        tx: hiddenTx(await page.text()),
        username: 'alice',
        password: 'alice',
      });
      expect(signed.status).toBe(200);
    });

    it('the HTTP controls do what the in-process ones do', async () => {
      const a = (await githubTokenRequest(sb, { code: await codeFor() })).body.access_token as string;
      const res = await fetch(`${sb.webUrl}/_sandbox/users/alice/revoke`, { method: 'POST' });
      expect(res.status).toBe(204);
      expect((await githubApi(sb, '/user', a)).status).toBe(401);
      expect((await fetch(`${sb.webUrl}/_sandbox/users/mallory/revoke`, { method: 'POST' })).status).toBe(404);
    });

    it('counts token requests by grant type', async () => {
      await githubTokenRequest(sb, { code: await codeFor() });
      await githubTokenRequest(sb, { grant_type: 'refresh_token', refresh_token: 'x' });
      expect(sb.stats().tokenRequests).toEqual({ authorization_code: 1, refresh_token: 1 });
    });
  });

  describe('GitHub App with expiring user tokens', () => {
    beforeEach(async () => {
      clock = new FakeClock();
      sb = await startTestGitHubSandbox({ tokenMode: 'github-app', now: clock.now });
    });

    it('exchanges a code for ghu_ (8 h) and ghr_ (184 days) with an empty scope', async () => {
      const tokens = await githubSignIn(sb);
      expect(tokens).toEqual({
        access_token: expect.stringMatching(/^ghu_[A-Za-z0-9]{36}$/),
        expires_in: 28800,
        refresh_token: expect.stringMatching(/^ghr_[A-Za-z0-9]{76}$/),
        refresh_token_expires_in: 15897600,
        scope: '',
        token_type: 'bearer',
      });
      expect((await githubApi(sb, '/user', tokens.access_token)).headers.get('x-oauth-scopes')).toBeNull();
    });

    it('the redirect URI must match exactly: a sub-path or another port is a mismatch', async () => {
      for (const other of ['http://127.0.0.1:9/oauth/callback/deeper', 'http://127.0.0.1:4321/oauth/callback']) {
        const res = await fetch(githubAuthorizeUrl(sb, { redirect_uri: other }), { redirect: 'manual' });
        expect(new URL(res.headers.get('location') ?? '').searchParams.get('error')).toBe('redirect_uri_mismatch');
      }
    });

    it('the access token expires after 8 hours; a refresh gives a new pair and kills the old refresh and access tokens', async () => {
      const first = await githubSignIn(sb);
      clock.advanceSeconds(28_799);
      expect((await githubApi(sb, '/user', first.access_token)).status).toBe(200);
      clock.advanceSeconds(1);
      expect((await githubApi(sb, '/user', first.access_token)).status).toBe(401);
      const second = await githubTokenRequest(sb, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
      expect(second.body.access_token).toMatch(/^ghu_/);
      expect(second.body.refresh_token).not.toBe(first.refresh_token);
      expect((await githubApi(sb, '/user', second.body.access_token)).status).toBe(200);
      const reuse = await githubTokenRequest(sb, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
      expect(reuse.body.error).toBe('bad_refresh_token');
      // Refreshing before expiry also ends the old access token.
      const third = await githubTokenRequest(sb, {
        grant_type: 'refresh_token',
        refresh_token: second.body.refresh_token,
      });
      expect((await githubApi(sb, '/user', second.body.access_token)).status).toBe(401);
      expect((await githubApi(sb, '/user', third.body.access_token)).status).toBe(200);
    });

    it('a refresh token expires after its lifetime; revocation kills refresh tokens too', async () => {
      const a = await githubSignIn(sb);
      clock.advanceSeconds(15_897_600);
      expect(
        (await githubTokenRequest(sb, { grant_type: 'refresh_token', refresh_token: a.refresh_token })).body.error,
      ).toBe('bad_refresh_token');
      const b = await githubSignIn(sb, 'bob');
      sb.revokeAuthorization('bob');
      expect(
        (await githubTokenRequest(sb, { grant_type: 'refresh_token', refresh_token: b.refresh_token })).body.error,
      ).toBe('bad_refresh_token');
    });

    it('expireAccessTokens ends user tokens now; the refresh token still works', async () => {
      const a = await githubSignIn(sb);
      sb.expireAccessTokens('alice');
      expect((await githubApi(sb, '/user', a.access_token)).status).toBe(401);
      const fresh = await githubTokenRequest(sb, { grant_type: 'refresh_token', refresh_token: a.refresh_token });
      expect((await githubApi(sb, '/user', fresh.body.access_token)).status).toBe(200);
    });
  });
});
