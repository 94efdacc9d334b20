/**
 * Security cases L3, L4, L13, L16, L17, L18 (issue 14): the token endpoint and
 * its stores, attacked over real HTTP against the local stack. Where a grace
 * window matters, the test moves the stack's clock (stack.clock).
 */
import { startTestStack, waitOutLinkCache, type TestStack } from '../../helpers/stack.js';
import {
  authorizeToRedirect,
  DEFAULT_REDIRECT as REDIRECT,
  mcpCall,
  registerTestClient,
  signIn,
  tokenRequest,
  toolCallBody,
} from '../../helpers/oauth-flow.js';

const GRACE_SECONDS = 60;

describe('token endpoint (issue 14, group L)', () => {
  let stack: TestStack;
  let base: string;

  beforeAll(async () => {
    stack = await startTestStack({ env: { REFRESH_GRACE_SECONDS: String(GRACE_SECONDS) } });
    base = stack.url;
    // A fresh server's first Firestore call can outlast the store deadline on a loaded machine (503); pay it here, not in a test.
    await fetch(`${base}/authorize?client_id=rmcp_warm_up`).then((r) => r.body?.cancel());
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const refreshAt =
    (url: string, clientId: string) =>
    (token: string, extra: Record<string, string> = {}) =>
      tokenRequest(url, { grant_type: 'refresh_token', refresh_token: token, client_id: clientId, ...extra });
  const toolStatus = async (accessToken: string) =>
    (await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), { authorization: `Bearer ${accessToken}` }))
      .status;
  const auditLines = (event: string, reason: string) =>
    stack.logs.filter((l) => l.includes(`"event":"${event}"`) && l.includes(`"reason":"${reason}"`));
  const gidOf = (accessToken: string) =>
    (JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString()) as { gid: string }).gid;

  async function register(
    metadata: Record<string, unknown>,
  ): Promise<{ client_id: string; client_secret?: string; grant_types: string[] }> {
    const res = await fetch(`${base}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'L18 client', redirect_uris: [REDIRECT], ...metadata }),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { client_id: string; client_secret?: string; grant_types: string[] };
  }
  const basic = (id: string, secret: string) => ({
    authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`,
  });

  describe('L3: refresh-token theft inside the grace window', () => {
    it('L3: a thief replays RT1 inside the grace window → the client’s displaced RT2 revokes the grant; the thief’s RT3 and access token stop working', async () => {
      const s = await signIn(base, 'alice');
      const refresh = refreshAt(base, s.clientId);
      const client = await refresh(s.refreshToken); // RT1 → RT2
      expect(client.status).toBe(200);
      const thief = await refresh(s.refreshToken); // replay of RT1 inside the window: indistinguishable from a lost response
      expect(thief.status).toBe(200);
      const logged = stack.logs.length;
      const reuse = await refresh(client.json.refresh_token); // the client's RT2, now a tombstone
      expect({ status: reuse.status, body: reuse.json }).toEqual({
        status: 400,
        body: { error: 'invalid_grant', error_description: 'The refresh token is invalid, expired or revoked.' },
      });
      expect(
        stack.logs
          .slice(logged)
          .filter(
            (l) =>
              l.includes('"event":"token_revoked"') &&
              l.includes('"reason":"refresh_reuse"') &&
              l.includes(gidOf(s.accessToken)),
          ),
      ).toHaveLength(1);
      expect((await refresh(thief.json.refresh_token)).json.error).toBe('invalid_grant'); // RT3
      await waitOutLinkCache(stack);
      expect(await toolStatus(thief.json.access_token)).toBe(401);
    });

    it('L3: after the one lost-response retry, RT1 presented again revokes the grant (the retry is spent)', async () => {
      const s = await signIn(base, 'alice');
      const refresh = refreshAt(base, s.clientId);
      expect((await refresh(s.refreshToken)).status).toBe(200); // RT1 → RT2, response "lost"
      const retried = await refresh(s.refreshToken); // the one allowed retry: RT1 → RT3
      expect(retried.status).toBe(200);
      expect((await refresh(s.refreshToken)).json.error).toBe('invalid_grant'); // a third use of RT1
      expect((await refresh(retried.json.refresh_token)).json.error).toBe('invalid_grant'); // RT3 dies with the grant
    });

    it('L3: the thief rotates RT3 first; when the client then presents RT2 the grant is revoked and the thief’s RT4 is refused', async () => {
      const s = await signIn(base, 'alice');
      const refresh = refreshAt(base, s.clientId);
      const client = await refresh(s.refreshToken); // RT1 → RT2
      const thief = await refresh(s.refreshToken); // RT1 → RT3
      const thiefNext = await refresh(thief.json.refresh_token); // RT3 → RT4
      expect([client.status, thief.status, thiefNext.status]).toEqual([200, 200, 200]);
      expect((await refresh(client.json.refresh_token)).json.error).toBe('invalid_grant'); // RT2
      expect((await refresh(thiefNext.json.refresh_token)).json.error).toBe('invalid_grant'); // RT4
    });

    it('L3: the tombstone outlives the grace window: RT2 presented two minutes later (injected clock) still revokes the grant', async () => {
      const s = await signIn(base, 'alice');
      const refresh = refreshAt(base, s.clientId);
      const client = await refresh(s.refreshToken);
      const thief = await refresh(s.refreshToken);
      expect([client.status, thief.status]).toEqual([200, 200]);
      await stack.clock.advanceSeconds(2 * GRACE_SECONDS);
      expect((await refresh(client.json.refresh_token)).json.error).toBe('invalid_grant');
      expect((await refresh(thief.json.refresh_token)).json.error).toBe('invalid_grant');
    });
  });

  describe('L4: a code redeemed wrongly is neither consumed nor revoked', () => {
    /** A fresh code for a fresh client, and its legitimate redemption, which must succeed with a working grant. */
    async function codeFor() {
      const clientId = await registerTestClient(base, REDIRECT);
      const { redirect, verifier } = await authorizeToRedirect(base, { clientId });
      const form = {
        grant_type: 'authorization_code',
        code: redirect.searchParams.get('code')!,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
        client_id: clientId,
      };
      const redeemLegitimately = async () => {
        const ok = await tokenRequest(base, form);
        expect(ok.status).toBe(200);
        expect(await toolStatus(ok.json.access_token)).toBe(200);
        return ok.json.refresh_token as string;
      };
      return { clientId, form, redeemLegitimately };
    }
    const refusal = (r: { status: number; json: { error?: string } }) => ({ status: r.status, error: r.json.error });

    it('L4: a wrong client_id does not consume the code; the real client still redeems it', async () => {
      const { form, redeemLegitimately } = await codeFor();
      const attacker = await registerTestClient(base, REDIRECT, 'Attacker');
      expect(refusal(await tokenRequest(base, { ...form, client_id: attacker }))).toEqual({
        status: 400,
        error: 'invalid_grant',
      });
      await redeemLegitimately();
    });

    it('L4: a wrong redirect_uri does not consume the code; the real client still redeems it', async () => {
      const { form, redeemLegitimately } = await codeFor();
      expect(refusal(await tokenRequest(base, { ...form, redirect_uri: 'http://127.0.0.1:33418/elsewhere' }))).toEqual({
        status: 400,
        error: 'invalid_grant',
      });
      await redeemLegitimately();
    });

    it('L4: a wrong code_verifier does not consume the code; the real client still redeems it', async () => {
      const { form, redeemLegitimately } = await codeFor();
      expect(refusal(await tokenRequest(base, { ...form, code_verifier: 'w'.repeat(43) }))).toEqual({
        status: 400,
        error: 'invalid_grant',
      });
      await redeemLegitimately();
    });

    it('L4: after the redemption, a failed one (wrong verifier, wrong client) is no reuse: the grant is not revoked', async () => {
      const { form, redeemLegitimately } = await codeFor();
      const refreshToken = await redeemLegitimately();
      const attacker = await registerTestClient(base, REDIRECT, 'Attacker');
      expect(refusal(await tokenRequest(base, { ...form, code_verifier: 'w'.repeat(43) }))).toEqual({
        status: 400,
        error: 'invalid_grant',
      });
      expect(refusal(await tokenRequest(base, { ...form, client_id: attacker }))).toEqual({
        status: 400,
        error: 'invalid_grant',
      });
      expect((await refreshAt(base, form.client_id)(refreshToken)).status).toBe(200); // the rotation reads the grant's status
    });
  });

  it('L13: malformed Basic credentials at /token and /revoke → 401 invalid_client with WWW-Authenticate: Basic; no ERROR log, no value logged', async () => {
    const b64 = (raw: string | Buffer) => Buffer.from(raw).toString('base64');
    const malformed = [
      'Basic %%%not-base64%%%', // bad base64
      `Basic ${b64('rmcp_client:%zz')}`, // bad percent-encoding in the secret
      `Basic ${b64('%zzclient:secret')}`, // …and in the client id
      `Basic ${b64('no-colon-at-all')}`,
      `Basic ${b64(Buffer.from([0xff, 0xfe, 0x3a, 0x41]))}`, // not UTF-8
      'Basic',
      `Basic ${b64(':secret-only')}`,
    ];
    const logged = stack.logs.length;
    for (const path of ['/token', '/revoke']) {
      for (const authorization of malformed) {
        const res = await fetch(`${base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x', token: 'x' }),
        });
        const body = (await res.json()) as { error?: string };
        expect({
          path,
          authorization,
          status: res.status,
          error: body.error,
          www: res.headers.get('www-authenticate'),
          cache: res.headers.get('cache-control'),
        }).toEqual({
          path,
          authorization,
          status: 401,
          error: 'invalid_client',
          www: 'Basic realm="rally-mcp"',
          cache: 'no-store',
        });
      }
    }
    const lines = stack.logs.slice(logged);
    expect(lines.filter((l) => l.includes('"severity":"ERROR"'))).toEqual([]);
    for (const authorization of malformed.filter((a) => a !== 'Basic')) {
      expect(lines.filter((l) => l.includes(authorization.slice(6)))).toEqual([]);
    }
  });

  it('L16: a sign-in through a crafted /authorize whose code is never redeemed leaves the existing grant working; redeeming it revokes the older grant', async () => {
    const victim = await signIn(base, 'bob');
    // The victim clicks the attacker's /authorize link for the same client and completes the sign-in; nobody redeems that code.
    const crafted = await authorizeToRedirect(base, { clientId: victim.clientId, username: 'bob' });
    const refreshed = await refreshAt(base, victim.clientId)(victim.refreshToken);
    expect(refreshed.status).toBe(200);
    expect(await toolStatus(refreshed.json.access_token)).toBe(200);
    // H21 still holds, at redemption: the same user's newly redeemed consent revokes the older grant.
    const redeemed = await tokenRequest(base, {
      grant_type: 'authorization_code',
      code: crafted.redirect.searchParams.get('code')!,
      redirect_uri: REDIRECT,
      code_verifier: crafted.verifier,
      client_id: victim.clientId,
    });
    expect(redeemed.status).toBe(200);
    expect((await refreshAt(base, victim.clientId)(refreshed.json.refresh_token)).json.error).toBe('invalid_grant');
    expect(await toolStatus(redeemed.json.access_token)).toBe(200);
    expect(auditLines('token_revoked', 'new_consent').some((l) => l.includes(victim.clientId))).toBe(true);
  });

  it('H21 (with L16): two consents by the same user redeemed in reverse order → the newer grant survives, the older is revoked', async () => {
    const clientId = await registerTestClient(base, REDIRECT);
    const older = await authorizeToRedirect(base, { clientId, username: 'bob' });
    const newer = await authorizeToRedirect(base, { clientId, username: 'bob' });
    const redeem = (c: typeof older) =>
      tokenRequest(base, {
        grant_type: 'authorization_code',
        code: c.redirect.searchParams.get('code')!,
        redirect_uri: REDIRECT,
        code_verifier: c.verifier,
        client_id: clientId,
      });
    const fromNewer = await redeem(newer);
    const fromOlder = await redeem(older);
    expect([fromNewer.status, fromOlder.status]).toEqual([200, 200]);
    expect((await refreshAt(base, clientId)(fromNewer.json.refresh_token)).status).toBe(200);
    expect((await refreshAt(base, clientId)(fromOlder.json.refresh_token)).json.error).toBe('invalid_grant');
  });

  it('L17: a refresh asking for a scope the grant lacks → invalid_scope, and the refresh token is not burned (still works after the grace window, injected clock)', async () => {
    const s = await signIn(base, 'alice', { scope: 'rally.read' });
    const refresh = refreshAt(base, s.clientId);
    for (const scope of ['rally.read rally.write', 'rally.admin']) {
      const res = await refresh(s.refreshToken, { scope });
      expect({ scope, status: res.status, error: res.json.error }).toEqual({
        scope,
        status: 400,
        error: 'invalid_scope',
      });
    }
    await stack.clock.advanceSeconds(GRACE_SECONDS + 1); // a burned token would now be a reuse
    const ok = await refresh(s.refreshToken, { scope: 'rally.read' });
    expect({ status: ok.status, scope: ok.json.scope }).toEqual({ status: 200, scope: 'rally.read' });
  });

  describe('L18: the registered authentication method and grant types are enforced', () => {
    async function codeForm(clientId: string) {
      const { redirect, verifier } = await authorizeToRedirect(base, { clientId });
      return {
        grant_type: 'authorization_code',
        code: redirect.searchParams.get('code')!,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
      };
    }
    const refusal = (r: { status: number; json: { error?: string } }) => ({ status: r.status, error: r.json.error });

    it('L18: a client_secret_basic client sending its secret in the form (client_secret_post) → 401 invalid_client; Basic then redeems the code', async () => {
      const c = await register({ token_endpoint_auth_method: 'client_secret_basic' });
      const form = await codeForm(c.client_id);
      expect(
        refusal(await tokenRequest(base, { ...form, client_id: c.client_id, client_secret: c.client_secret! })),
      ).toEqual({ status: 401, error: 'invalid_client' });
      expect((await tokenRequest(base, form, basic(c.client_id, c.client_secret!))).status).toBe(200);
    });

    it('L18: a client_secret_post client authenticating with Basic → 401 invalid_client; the form then redeems the code', async () => {
      const c = await register({ token_endpoint_auth_method: 'client_secret_post' });
      const form = await codeForm(c.client_id);
      expect(refusal(await tokenRequest(base, form, basic(c.client_id, c.client_secret!)))).toEqual({
        status: 401,
        error: 'invalid_client',
      });
      expect(
        (await tokenRequest(base, { ...form, client_id: c.client_id, client_secret: c.client_secret! })).status,
      ).toBe(200);
    });

    it('L18: a none client sending a client_secret or Basic credentials → 401 invalid_client; plain client_id then redeems the code', async () => {
      const clientId = await registerTestClient(base, REDIRECT);
      const form = { ...(await codeForm(clientId)), client_id: clientId };
      expect(refusal(await tokenRequest(base, { ...form, client_secret: 'anything' }))).toEqual({
        status: 401,
        error: 'invalid_client',
      });
      expect(refusal(await tokenRequest(base, form, basic(clientId, 'anything')))).toEqual({
        status: 401,
        error: 'invalid_client',
      });
      expect(refusal(await tokenRequest(base, form, basic(clientId, '')))).toEqual({
        status: 401,
        error: 'invalid_client',
      });
      expect((await tokenRequest(base, form)).status).toBe(200);
    });

    it('L18: a grant type the client did not register → unauthorized_client', async () => {
      const codeOnly = await register({ token_endpoint_auth_method: 'none', grant_types: ['authorization_code'] });
      expect(codeOnly.grant_types).toEqual(['authorization_code']);
      const issued = await tokenRequest(base, {
        ...(await codeForm(codeOnly.client_id)),
        client_id: codeOnly.client_id,
      });
      expect(issued.status).toBe(200);
      expect(issued.json.refresh_token).toBeUndefined(); // a token for a grant it may not use is not handed out
      expect(refusal(await refreshAt(base, codeOnly.client_id)('any-refresh-token'))).toEqual({
        status: 400,
        error: 'unauthorized_client',
      });
      const refreshOnly = await register({ token_endpoint_auth_method: 'none', grant_types: ['refresh_token'] });
      const code = await tokenRequest(base, {
        grant_type: 'authorization_code',
        code: 'any-code',
        redirect_uri: REDIRECT,
        code_verifier: 'v'.repeat(43),
        client_id: refreshOnly.client_id,
      });
      expect(refusal(code)).toEqual({ status: 400, error: 'unauthorized_client' });
    });
  });
});
