import { createHash } from 'node:crypto';
import type { RallySandboxHandle } from '../../rally-sandbox/index.js';
import {
  CLIENT,
  authorizeUrl,
  hiddenTx,
  postForm,
  signInViaForms,
  startSandbox,
  tokenRequest,
  wsapi,
} from './support.js';
import { FakeClock } from '../helpers/clock.js';

async function codeFor(sb: RallySandboxHandle, params: Record<string, string> = {}): Promise<string> {
  const loc = await signInViaForms(sb, { params });
  const code = loc.searchParams.get('code');
  if (!code) throw new Error(`no code in ${loc.toString()}`);
  return code;
}

const exchange = (sb: RallySandboxHandle, code: string, extra: Record<string, string> = {}) =>
  tokenRequest(sb, { grant_type: 'authorization_code', code, redirect_uri: CLIENT.redirectUri, ...extra });

describe('Rally sandbox OAuth', () => {
  let sb: RallySandboxHandle;
  afterEach(async () => sb.stop());

  describe('authorize', () => {
    beforeEach(async () => {
      sb = await startSandbox();
    });

    it('shows a sign-in form with username, password and a submit button', async () => {
      const res = await fetch(authorizeUrl(sb));
      const html = await res.text();
      expect(res.status).toBe(200);
      expect(html).toMatch(/<input[^>]+name="username"/);
      expect(html).toMatch(/<input[^>]+type="password"[^>]+name="password"/);
      expect(html).toMatch(/<button type="submit"/);
      expect(hiddenTx(html)).toMatch(/^[0-9a-f]{32}$/);
    });

    it('signs in, shows Allow Access, and redirects with code and state', async () => {
      const page = await fetch(authorizeUrl(sb));
      const signed = await postForm(`${sb.url}/login/oauth2/auth/signin`, {
        tx: hiddenTx(await page.text()),
        username: 'alice',
        password: 'alice',
      });
      const consent = await signed.text();
      expect(signed.status).toBe(200);
      expect(consent).toMatch(/<button[^>]*value="allow"[^>]*>Allow Access<\/button>/);
      expect(consent).toMatch(/<button[^>]*value="deny"[^>]*>Deny<\/button>/);
      expect(consent).toContain('Alice Anders');
      const done = await postForm(`${sb.url}/login/oauth2/auth/consent`, { tx: hiddenTx(consent), decision: 'allow' });
      expect(done.status).toBe(302);
      const loc = new URL(done.headers.get('location') ?? '');
      expect(`${loc.origin}${loc.pathname}`).toBe(CLIENT.redirectUri);
      expect(loc.searchParams.get('state')).toBe('st-123');
      expect(loc.searchParams.get('code')).toMatch(/^[A-Za-z0-9]{32}$/);
    });

    it('accepts the e-mail style UserName at sign-in', async () => {
      const page = await fetch(authorizeUrl(sb));
      const signed = await postForm(`${sb.url}/login/oauth2/auth/signin`, {
        tx: hiddenTx(await page.text()),
        username: 'bob@example.com',
        password: 'bob',
      });
      expect(await signed.text()).toContain('Bob Brennan');
    });

    it('re-shows the form with an error on a wrong password, and does not redirect', async () => {
      const page = await fetch(authorizeUrl(sb));
      const tx = hiddenTx(await page.text());
      const res = await postForm(`${sb.url}/login/oauth2/auth/signin`, { tx, username: 'alice', password: 'bob' });
      expect(res.status).toBe(200);
      expect(res.headers.get('location')).toBeNull();
      expect(await res.text()).toContain('The username or password you entered is incorrect.');
    });

    it.each([
      ['a different redirect_uri', { redirect_uri: 'http://127.0.0.1:9/oauth/callback/evil' }],
      ['a redirect_uri differing only by a trailing slash', { redirect_uri: 'http://127.0.0.1:9/oauth/callback/' }],
      ['an unknown client_id', { client_id: 'ffffffffffffffffffffffffffffffff' }],
    ])('shows an error page and never redirects for %s', async (_label, params) => {
      const res = await fetch(authorizeUrl(sb, params), { redirect: 'manual' });
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(await res.text()).not.toContain('name="username"');
    });

    it.each([['read'], ['alm:read'], ['openid'], ['alm openid']])(
      'redirects with error=invalid_scope for scope %p',
      async (scope) => {
        const res = await fetch(authorizeUrl(sb, { scope }), { redirect: 'manual' });
        const loc = new URL(res.headers.get('location') ?? '');
        expect(res.status).toBe(302);
        expect(loc.searchParams.get('error')).toBe('invalid_scope');
        expect(loc.searchParams.get('state')).toBe('st-123');
        expect(loc.searchParams.get('code')).toBeNull();
      },
    );

    it('rejects response_type other than code on the redirect', async () => {
      const res = await fetch(authorizeUrl(sb, { response_type: 'token' }), { redirect: 'manual' });
      expect(new URL(res.headers.get('location') ?? '').searchParams.get('error')).toBe('unsupported_response_type');
    });

    it('redirects with error=access_denied when the user clicks Deny', async () => {
      const loc = await signInViaForms(sb, { decision: 'deny' });
      expect(loc.searchParams.get('error')).toBe('access_denied');
      expect(loc.searchParams.get('state')).toBe('st-123');
      expect(loc.searchParams.get('code')).toBeNull();
    });

    it('does not accept a replayed consent form', async () => {
      const page = await fetch(authorizeUrl(sb));
      const signed = await postForm(`${sb.url}/login/oauth2/auth/signin`, {
        tx: hiddenTx(await page.text()),
        username: 'alice',
        password: 'alice',
      });
      const tx = hiddenTx(await signed.text());
      expect((await postForm(`${sb.url}/login/oauth2/auth/consent`, { tx, decision: 'allow' })).status).toBe(302);
      const replay = await postForm(`${sb.url}/login/oauth2/auth/consent`, { tx, decision: 'allow' });
      expect(replay.status).toBe(400);
      expect(replay.headers.get('location')).toBeNull();
    });
  });

  describe('token endpoint', () => {
    it('exchanges a code for Rally-shaped tokens that work on WSAPI', async () => {
      sb = await startSandbox();
      const { status, body } = await exchange(sb, await codeFor(sb));
      expect(status).toBe(200);
      expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'token_type']);
      expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 86400 });
      expect(body.access_token).toMatch(/^[A-Za-z0-9]{42}$/);
      expect(body.refresh_token).toMatch(/^[0-9a-f]{32}$/);
      const me = await wsapi(sb, body.access_token as string).get('/user');
      expect(me.body.User.UserName).toBe('alice@example.com');
      expect(sb.stats().tokenRequests).toEqual({ authorization_code: 1 });
    });

    it('accepts HTTP Basic client authentication', async () => {
      sb = await startSandbox();
      const code = await codeFor(sb);
      const { status } = await tokenRequest(
        sb,
        { grant_type: 'authorization_code', code, redirect_uri: CLIENT.redirectUri },
        { basic: true },
      );
      expect(status).toBe(200);
    });

    it('answers 401 invalid_client in Rally error shape for a bad client secret', async () => {
      sb = await startSandbox();
      const code = await codeFor(sb);
      const { status, body } = await tokenRequest(sb, {
        grant_type: 'authorization_code',
        code,
        redirect_uri: CLIENT.redirectUri,
        client_secret: 'wrong',
      });
      expect(status).toBe(401);
      expect(body).toEqual({
        error: 'invalid_client',
        error_description: 'Client authentication failed',
        client_id: null,
        client_secret: null,
      });
    });

    it('refuses a JSON body', async () => {
      sb = await startSandbox();
      const res = await fetch(`${sb.url}/login/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          grant_type: 'authorization_code',
          code: 'x',
          client_id: CLIENT.clientId,
          client_secret: CLIENT.clientSecret,
        }),
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_request', client_id: null, client_secret: null });
    });

    it('makes codes single-use', async () => {
      sb = await startSandbox();
      const code = await codeFor(sb);
      expect((await exchange(sb, code)).status).toBe(200);
      const again = await exchange(sb, code);
      expect(again).toEqual({
        status: 400,
        body: {
          error: 'invalid_grant',
          error_description: 'Invalid or expired authorization code',
          client_id: null,
          client_secret: null,
        },
      });
    });

    it('rejects an expired code', async () => {
      const clock = new FakeClock();
      sb = await startSandbox({ now: clock.now, codeTtlSeconds: 60 });
      const code = await codeFor(sb);
      clock.advanceSeconds(61);
      expect((await exchange(sb, code)).body.error).toBe('invalid_grant');
    });

    it('rejects a redirect_uri that differs from the authorize request', async () => {
      sb = await startSandbox({ redirectUris: [CLIENT.redirectUri, 'http://127.0.0.1:9/other'] });
      const code = await codeFor(sb);
      const r = await exchange(sb, code, { redirect_uri: 'http://127.0.0.1:9/other' });
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('invalid_grant');
    });

    it("answers an unknown grant_type with Rally's message", async () => {
      sb = await startSandbox();
      const r = await tokenRequest(sb, { grant_type: 'password' });
      expect(r.body).toEqual({
        error: 'invalid_grant',
        error_description: 'Invalid value for grant_type params - must be authorization_code',
        client_id: null,
        client_secret: null,
      });
    });

    it('rotates refresh tokens by default: the old one dies', async () => {
      sb = await startSandbox();
      const first = (await exchange(sb, await codeFor(sb))).body;
      const second = await tokenRequest(sb, {
        grant_type: 'refresh_token',
        refresh_token: first.refresh_token as string,
      });
      expect(second.status).toBe(200);
      expect(second.body.refresh_token).not.toBe(first.refresh_token);
      expect(second.body.access_token).not.toBe(first.access_token);
      const reuse = await tokenRequest(sb, {
        grant_type: 'refresh_token',
        refresh_token: first.refresh_token as string,
      });
      expect(reuse.status).toBe(400);
      expect(reuse.body.error).toBe('invalid_grant');
      const third = await tokenRequest(sb, {
        grant_type: 'refresh_token',
        refresh_token: second.body.refresh_token as string,
      });
      expect(third.status).toBe(200);
      expect(sb.stats().tokenRequests).toEqual({ authorization_code: 1, refresh_token: 3 });
    });

    it('keeps the refresh token when rotation is off', async () => {
      sb = await startSandbox({ rotateRefreshTokens: false });
      const first = (await exchange(sb, await codeFor(sb))).body;
      const a = await tokenRequest(sb, { grant_type: 'refresh_token', refresh_token: first.refresh_token as string });
      const b = await tokenRequest(sb, { grant_type: 'refresh_token', refresh_token: first.refresh_token as string });
      expect(a.body.refresh_token).toBe(first.refresh_token);
      expect(b.status).toBe(200);
      expect(b.body.access_token).not.toBe(a.body.access_token);
    });

    it('fails refresh with invalid_grant and WSAPI with 401 after the grant is revoked', async () => {
      sb = await startSandbox();
      const tokens = (await exchange(sb, await codeFor(sb))).body;
      sb.revokeGrants('alice');
      expect((await wsapi(sb, tokens.access_token as string).get('/user')).status).toBe(401);
      const r = await tokenRequest(sb, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string });
      expect(r).toMatchObject({ status: 400, body: { error: 'invalid_grant', client_id: null, client_secret: null } });
    });

    it('expires access tokens on demand; a refresh then restores access', async () => {
      sb = await startSandbox();
      const tokens = sb.issueTokens('bob');
      sb.expireAccessTokens('bob');
      expect((await wsapi(sb, tokens.access_token).get('/user')).status).toBe(401);
      const r = await tokenRequest(sb, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
      expect((await wsapi(sb, r.body.access_token as string).get('/user')).body.User.UserName).toBe('bob@example.com');
    });

    it('expires access tokens after accessTokenTtlSeconds', async () => {
      const clock = new FakeClock();
      sb = await startSandbox({ now: clock.now, accessTokenTtlSeconds: 30 });
      const tokens = sb.issueTokens('alice');
      expect(tokens.expires_in).toBe(30);
      expect((await wsapi(sb, tokens.access_token).get('/user')).status).toBe(200);
      clock.advanceSeconds(31);
      expect((await wsapi(sb, tokens.access_token).get('/user')).status).toBe(401);
    });

    it('skips the Allow page with autoApprove', async () => {
      sb = await startSandbox({ autoApprove: true });
      const page = await fetch(authorizeUrl(sb));
      const res = await postForm(`${sb.url}/login/oauth2/auth/signin`, {
        tx: hiddenTx(await page.text()),
        username: 'alice',
        password: 'alice',
      });
      expect(res.status).toBe(302);
      expect(new URL(res.headers.get('location') ?? '').searchParams.get('code')).toBeTruthy();
    });

    it('accepts scope=openid only when enabled', async () => {
      sb = await startSandbox({ acceptOpenidScope: true });
      const loc = await signInViaForms(sb, { params: { scope: 'openid' } });
      expect(loc.searchParams.get('code')).toBeTruthy();
    });

    describe('PKCE', () => {
      const verifier = 'dBjftJeZ4CVP-mJ92K9bxN3fZ8tsbKpWz1yLfXq0cTg';
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const pkceParams = { code_challenge: challenge, code_challenge_method: 'S256' };

      it('verifies S256 when pkce is verify', async () => {
        sb = await startSandbox({ pkce: 'verify' });
        expect(
          (
            await exchange(sb, await codeFor(sb, pkceParams), {
              code_verifier: 'wrong-verifier-wrong-verifier-wrong-verifier',
            })
          ).body.error,
        ).toBe('invalid_grant');
        expect((await exchange(sb, await codeFor(sb, pkceParams))).body.error).toBe('invalid_grant');
        expect((await exchange(sb, await codeFor(sb, pkceParams), { code_verifier: verifier })).status).toBe(200);
      });

      it('ignores PKCE by default, like Rally is presumed to', async () => {
        sb = await startSandbox();
        expect((await exchange(sb, await codeFor(sb, pkceParams), { code_verifier: 'anything' })).status).toBe(200);
      });
    });
  });
});
