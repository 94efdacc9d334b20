/**
 * Security cases H (the server as MCP authorization server), over real HTTP
 * against the local stack and the Rally sandbox.
 */
import { startTestStack, waitOutLinkCache, type TestStack } from '../../helpers/stack.js';
import {
  authorizeToRedirect,
  browse,
  CookieJar,
  DEFAULT_REDIRECT,
  initializeBody,
  mcpCall,
  pkcePair,
  registerTestClient,
  signIn,
  tokenRequest,
  toolCallBody,
} from '../../helpers/oauth-flow.js';

const REDIRECT = DEFAULT_REDIRECT;
/** How long an authorization code lives (the default, stated): H15 moves the servers' clock past it. */
const CODE_TTL_SECONDS = 60;

describe('authorization server (group H)', () => {
  let stack: TestStack;
  let base: string;

  beforeAll(async () => {
    stack = await startTestStack({
      env: { AUTH_CODE_TTL_SECONDS: String(CODE_TTL_SECONDS), REFRESH_GRACE_SECONDS: '60' },
    });
    base = stack.url;
  });
  afterAll(() => stack?.stop());

  const authorizeUrl = (params: Record<string, string | undefined>) => {
    const { challenge } = pkcePair();
    const url = new URL(`${base}/authorize`);
    const all: Record<string, string | undefined> = {
      response_type: 'code',
      redirect_uri: REDIRECT,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'st-123',
      ...params,
    };
    for (const [k, v] of Object.entries(all)) if (v !== undefined) url.searchParams.set(k, v);
    return url.toString();
  };
  const get = (url: string, init: RequestInit = {}) => fetch(url, { redirect: 'manual', ...init });
  const location = async (res: Response) => {
    expect(res.status).toBe(302);
    return new URL(res.headers.get('location')!);
  };
  const register = async (metadata: Record<string, unknown>) => {
    const res = await fetch(`${base}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Registered', token_endpoint_auth_method: 'none', ...metadata }),
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON that the test reads freely and checks with expect()
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  /** Our consent allowed, Rally's denied: the callback's page offers the client's error redirect as a link. */
  const rallyDeniedReturnLink = async (clientId: string) => {
    const jar = new CookieJar();
    const toRally = await browse(authorizeUrl({ client_id: clientId }), {
      username: 'alice',
      stopAt: stack.sandbox!.url,
      jar,
    });
    const back = await browse(toRally.url, { username: 'alice', stopAt: `${base}/oauth/callback`, consent: 'deny' });
    const cookie = jar.header(base);
    const page = await fetch(back.url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    expect(page.status).toBe(400);
    const href = /<a href="([^"]+)">Return to the application<\/a>/.exec(await page.text())?.[1];
    return new URL(href!.replaceAll('&amp;', '&'));
  };

  it('H1: unknown client_id → error page, no redirect', async () => {
    const res = await get(authorizeUrl({ client_id: 'rmcp_unknown' }));
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('Unknown application');
  });

  it('H2: redirect_uri not exactly as registered → error page, no redirect (every variant)', async () => {
    const clientId = await registerTestClient(base, 'https://app.example.com/cb');
    const variants = [
      'https://app.example.com/other',
      'https://app.example.com/cb?x=1',
      'https://app.example.com/cb/',
      'https://app.example.com/CB',
      'https://app.example.com/cb#frag',
      'https://ok@evil.example/cb',
      'https://app.example.com/cb/../x',
      'https://app.example.com/cb/..;/x',
      'https://evil.example/cb',
      'http://app.example.com/cb',
    ];
    for (const redirect_uri of variants) {
      const res = await get(authorizeUrl({ client_id: clientId, redirect_uri }));
      expect({ redirect_uri, status: res.status, location: res.headers.get('location') }).toEqual({
        redirect_uri,
        status: 400,
        location: null,
      });
    }
    // The loopback rule (RFC 8252 §7.3) relaxes only the port, nothing else.
    const loopback = await registerTestClient(base, 'http://127.0.0.1/callback');
    expect(
      (await get(authorizeUrl({ client_id: loopback, redirect_uri: 'http://127.0.0.1:51234/callback' }))).status,
    ).toBe(200);
    expect(
      (await get(authorizeUrl({ client_id: loopback, redirect_uri: 'http://127.0.0.1:51234/callback/../x' }))).status,
    ).toBe(400);
    expect(
      (await get(authorizeUrl({ client_id: loopback, redirect_uri: 'http://localhost:51234/callback' }))).status,
    ).toBe(400);
  });

  it('H3: a client with several redirect URIs that sends none → error page', async () => {
    const res = await fetch(`${base}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Two', redirect_uris: ['https://a.example/cb', 'https://b.example/cb'] }),
    });
    const { client_id } = (await res.json()) as { client_id: string };
    const page = await get(authorizeUrl({ client_id, redirect_uri: undefined }));
    expect(page.status).toBe(400);
    expect(page.headers.get('location')).toBeNull();
  });

  it('H5: dangerous redirect URIs are refused at registration', async () => {
    const bad = [
      'javascript:alert(1)',
      'JAVASCRIPT:alert(1)',
      ' javascript:alert(1)',
      '\tjavascript:alert(1)',
      'java\nscript:alert(1)',
      'data:text/html,hi',
      'vbscript:msgbox',
      'file:///etc/passwd',
      'http://app.example.com/cb',
      'https://user:pw@app.example.com/cb',
    ];
    for (const uri of bad) {
      const res = await fetch(`${base}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: [uri] }),
      });
      expect({ uri, status: res.status, body: await res.json() }).toEqual({
        uri,
        status: 400,
        body: expect.objectContaining({ error: 'invalid_redirect_uri' }),
      });
    }
  });

  it('H6/H7/H8/H9: bad PKCE, response_type or resource → error back to the client with state and exactly one iss', async () => {
    const clientId = await registerTestClient(base, REDIRECT);
    const cases: Array<[Record<string, string | undefined>, string]> = [
      [{ code_challenge: undefined }, 'invalid_request'],
      [{ code_challenge_method: 'plain' }, 'invalid_request'],
      [{ code_challenge_method: undefined }, 'invalid_request'],
      [{ code_challenge_method: 'S512' }, 'invalid_request'],
      [{ code_challenge: 'a'.repeat(42) }, 'invalid_request'],
      [{ code_challenge: 'a'.repeat(129) }, 'invalid_request'],
      [{ code_challenge: `${'a'.repeat(42)}!` }, 'invalid_request'],
      [{ response_type: 'token' }, 'unsupported_response_type'],
      [{ response_type: undefined }, 'unsupported_response_type'],
      [{ resource: `${base}/mcp#frag` }, 'invalid_target'],
      [{ resource: 'https://other.example/mcp' }, 'invalid_target'],
      [{ scope: 'rally.admin' }, 'invalid_scope'],
    ];
    for (const [params, error] of cases) {
      const res = await get(authorizeUrl({ client_id: clientId, ...params }));
      expect(res.status).toBe(302);
      const loc = new URL(res.headers.get('location')!);
      expect(`${loc.origin}${loc.pathname}`).toBe(REDIRECT);
      expect({ params, error: loc.searchParams.get('error') }).toEqual({ params, error });
      expect(loc.searchParams.getAll('state')).toEqual(['st-123']);
      expect(loc.searchParams.getAll('iss')).toEqual([base]);
    }
  });

  it('H8/H9: resource omitted → the canonical audience; the success redirect carries state and one iss', async () => {
    const clientId = await registerTestClient(base, REDIRECT);
    const { redirect, verifier, state } = await authorizeToRedirect(base, {
      clientId,
      params: { resource: undefined },
    });
    expect(redirect.searchParams.getAll('state')).toEqual([state]);
    expect(redirect.searchParams.getAll('iss')).toEqual([base]);
    const token = await tokenRequest(base, {
      grant_type: 'authorization_code',
      code: redirect.searchParams.get('code')!,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
      client_id: clientId,
    });
    expect(token.status).toBe(200);
    const payload = JSON.parse(Buffer.from(token.json.access_token.split('.')[1], 'base64url').toString());
    expect(payload.aud).toBe(`${base}/mcp`);
  });

  it('H9: every authorization response that reaches the client carries state and exactly one iss (each path: success, /authorize errors, consent denied, Rally denied)', async () => {
    const clientId = await registerTestClient(base, REDIRECT);
    const native = await register({ application_type: 'native', redirect_uris: ['com.example.rally-mcp:/cb'] });
    expect(native.status).toBe(201);
    /** Each path, and where the browser (or the page's return link) sends the client. */
    const paths: Array<[string, () => Promise<URL>]> = [
      ['success', async () => (await authorizeToRedirect(base, { clientId, params: { state: 'st-123' } })).redirect],
      [
        'success to a native private-use redirect',
        async () =>
          (
            await authorizeToRedirect(base, {
              clientId: native.body.client_id,
              redirectUri: 'com.example.rally-mcp:/cb',
              params: { state: 'st-123' },
            })
          ).redirect,
      ],
      [
        'invalid_request',
        async () => location(await get(authorizeUrl({ client_id: clientId, code_challenge: undefined }))),
      ],
      [
        'unsupported_response_type',
        async () => location(await get(authorizeUrl({ client_id: clientId, response_type: 'token' }))),
      ],
      [
        'invalid_target',
        async () => location(await get(authorizeUrl({ client_id: clientId, resource: 'https://other.example/mcp' }))),
      ],
      ['invalid_scope', async () => location(await get(authorizeUrl({ client_id: clientId, scope: 'rally.admin' })))],
      [
        'access_denied at our consent',
        async () =>
          (await authorizeToRedirect(base, { clientId, consent: 'deny', params: { state: 'st-123' } })).redirect,
      ],
      ['access_denied at Rally (the return link)', () => rallyDeniedReturnLink(clientId)],
    ];
    for (const [path, run] of paths) {
      const to = await run();
      expect({
        path,
        iss: to.searchParams.getAll('iss'),
        state: to.searchParams.getAll('state'),
        answer: to.searchParams.has('code') ? 'code' : to.searchParams.get('error'),
      }).toEqual({
        path,
        iss: [base],
        state: ['st-123'],
        answer: path.startsWith('success') ? 'code' : path.split(' ')[0],
      });
    }
    // server_error and temporarily_unavailable are never redirected: after the client is validated, a failure
    // (store down, Rally down) is answered with our error page (RFC 6749 §4.1.2.1 allows either), so no
    // response to the client exists without iss. test/unit/oauth-as/client-redirect.test.ts keeps every
    // redirect in shared/ going through clientRedirect.
  });

  it('H24: application_type at registration: absent → web with the pre-2026 redirect rule (VS Code, Copilot Studio shapes); web refuses loopback; native takes loopback, private-use schemes and https', async () => {
    const vscode = [
      'https://insiders.vscode.dev/redirect',
      'https://vscode.dev/redirect',
      'http://127.0.0.1/',
      'http://127.0.0.1:33418/',
    ];
    const accepted: Array<[Record<string, unknown>, string]> = [
      [{ redirect_uris: vscode }, 'web'], // VS Code before it sent application_type
      [{ redirect_uris: vscode, application_type: 'native' }, 'native'], // VS Code today (microsoft/vscode oauth.ts)
      [{ redirect_uris: ['http://localhost:6274/oauth/callback'] }, 'web'], // MCP SDK v1 client, no application_type
      [{ redirect_uris: ['https://global.consent.azure-apim.net/redirect/cr123-rally'] }, 'web'], // Copilot Studio
      [{ redirect_uris: ['https://app.example.com/cb'], application_type: 'web' }, 'web'],
      [
        { redirect_uris: ['http://[::1]:5000/cb', 'com.example.app:/oauth2redirect'], application_type: 'native' },
        'native',
      ],
    ];
    for (const [metadata, type] of accepted) {
      const res = await register(metadata);
      expect({ metadata, status: res.status, type: res.body.application_type }).toEqual({
        metadata,
        status: 201,
        type,
      });
    }
    const refused: Array<[Record<string, unknown>, string, RegExp]> = [
      [
        { redirect_uris: ['http://127.0.0.1:33418/cb'], application_type: 'web' },
        'invalid_redirect_uri',
        /loopback.*native/,
      ],
      [{ redirect_uris: ['https://localhost/cb'], application_type: 'web' }, 'invalid_redirect_uri', /loopback/],
      [
        { redirect_uris: ['https://ok.example/cb', 'http://app.example.com/cb'], application_type: 'web' },
        'invalid_redirect_uri',
        /redirect_uris\[1\] must use https/,
      ],
      [
        { redirect_uris: ['http://app.example.com/cb'], application_type: 'native' },
        'invalid_redirect_uri',
        /loopback.*private-use/,
      ],
      [{ redirect_uris: ['myapp:/cb'], application_type: 'native' }, 'invalid_redirect_uri', /native/], // not reverse-DNS
      [{ redirect_uris: ['com.example.app://host/cb'], application_type: 'native' }, 'invalid_redirect_uri', /native/],
      [{ redirect_uris: ['javascript:alert(1)'], application_type: 'native' }, 'invalid_redirect_uri', /native/],
      [{ redirect_uris: ['com.example.app:/cb'] }, 'invalid_redirect_uri', /private-use scheme.*native/],
      [{ redirect_uris: ['com.example.app:/cb'], application_type: 'web' }, 'invalid_redirect_uri', /https/],
      [
        { redirect_uris: ['https://app.example.com/cb'], application_type: 'desktop' },
        'invalid_client_metadata',
        /application_type/,
      ],
    ];
    for (const [metadata, error, description] of refused) {
      const res = await register(metadata);
      expect({ metadata, status: res.status, error: res.body.error }).toEqual({ metadata, status: 400, error });
      expect({ metadata, description: res.body.error_description }).toEqual({
        metadata,
        description: expect.stringMatching(description),
      });
    }
  });

  it('H24: a native client with a private-use redirect: the consent page names the scheme and allows the redirect to it', async () => {
    const native = await register({
      application_type: 'native',
      redirect_uris: ['com.example.rally-mcp:/cb'],
      client_name: 'Native',
    });
    const page = await get(
      authorizeUrl({ client_id: native.body.client_id, redirect_uri: 'com.example.rally-mcp:/cb' }),
    );
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/form-action 'self' \S+ com\.example\.rally-mcp:;/);
    const html = await page.text();
    expect(html).toContain('<dt>Returns to</dt><dd>com.example.rally-mcp</dd>');
    expect(html).toContain('runs on your own computer');
  });

  it('H10/H11/H17: wrong or missing verifier, or another client → invalid_grant, with no-store on every answer', async () => {
    const clientId = await registerTestClient(base, REDIRECT);
    const other = await registerTestClient(base, REDIRECT);
    for (const form of [
      (code: string) => ({ code_verifier: pkcePair().verifier, client_id: clientId, code }),
      (code: string) => ({ client_id: clientId, code }),
      (code: string, verifier: string) => ({ code_verifier: verifier, client_id: other, code }),
    ]) {
      const { redirect, verifier } = await authorizeToRedirect(base, { clientId });
      const res = await tokenRequest(base, {
        grant_type: 'authorization_code',
        redirect_uri: REDIRECT,
        ...form(redirect.searchParams.get('code')!, verifier),
      });
      expect(res.status).toBe(400);
      expect(res.json.error).toBe('invalid_grant');
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('H13: a bad client secret → 401 invalid_client and the code is not consumed', async () => {
    const reg = await fetch(`${base}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'Confidential',
        redirect_uris: [REDIRECT],
        token_endpoint_auth_method: 'client_secret_basic',
      }),
    });
    const { client_id, client_secret } = (await reg.json()) as { client_id: string; client_secret: string };
    const { redirect, verifier } = await authorizeToRedirect(base, { clientId: client_id });
    const form = {
      grant_type: 'authorization_code',
      code: redirect.searchParams.get('code')!,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
    };
    const basic = (secret: string) => ({
      authorization: `Basic ${Buffer.from(`${client_id}:${secret}`).toString('base64')}`,
    });
    const bad = await tokenRequest(base, form, basic('wrong-secret'));
    expect(bad.status).toBe(401);
    expect(bad.json.error).toBe('invalid_client');
    expect(bad.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect(bad.headers.get('cache-control')).toBe('no-store');
    const good = await tokenRequest(base, form, basic(client_secret));
    expect(good.status).toBe(200);
  });

  it('H14: a code redeemed twice → invalid_grant, and the first access token stops working', async () => {
    const clientId = await registerTestClient(base, REDIRECT);
    const { redirect, verifier } = await authorizeToRedirect(base, { clientId });
    const form = {
      grant_type: 'authorization_code',
      code: redirect.searchParams.get('code')!,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
      client_id: clientId,
    };
    const first = await tokenRequest(base, form);
    expect(first.status).toBe(200);
    const auth = { authorization: `Bearer ${first.json.access_token}` };
    expect((await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), auth)).status).toBe(200);
    const second = await tokenRequest(base, form);
    expect(second.json.error).toBe('invalid_grant');
    await waitOutLinkCache(stack); // the warm instance may serve the link it read for LINK_CACHE_SECONDS
    const after = await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), auth);
    expect(after.status).toBe(401);
    expect(after.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const refresh = await tokenRequest(base, {
      grant_type: 'refresh_token',
      refresh_token: first.json.refresh_token,
      client_id: clientId,
    });
    expect(refresh.json.error).toBe('invalid_grant');
  });

  it('H15: a code used after its lifetime → invalid_grant', async () => {
    const clientId = await registerTestClient(base, REDIRECT);
    const { redirect, verifier } = await authorizeToRedirect(base, { clientId });
    await stack.clock.advanceSeconds(CODE_TTL_SECONDS + 1);
    const res = await tokenRequest(base, {
      grant_type: 'authorization_code',
      code: redirect.searchParams.get('code')!,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
      client_id: clientId,
    });
    expect(res.json.error).toBe('invalid_grant');
  });

  it('H18: a rotated-out refresh token works once more while its successor is unused, then reuse revokes the grant', async () => {
    const s = await signIn(base, 'alice');
    const refresh = (token: string) =>
      tokenRequest(base, { grant_type: 'refresh_token', refresh_token: token, client_id: s.clientId });
    const r1 = await refresh(s.refreshToken);
    expect(r1.status).toBe(200);
    const r1b = await refresh(s.refreshToken); // the response to r1 was "lost": one retry is allowed
    expect(r1b.status).toBe(200);
    expect(r1b.json.refresh_token).not.toBe(r1.json.refresh_token);
    // r1's token, displaced by the retry, is now a tombstone whose use revokes the grant (L3, token-endpoint.test.ts).
    const r2 = await refresh(r1b.json.refresh_token); // the successor is used…
    expect(r2.status).toBe(200);
    expect((await refresh(s.refreshToken)).json.error).toBe('invalid_grant'); // …so the old one is now theft: grant revoked
    expect((await refresh(r2.json.refresh_token)).json.error).toBe('invalid_grant');
    expect(
      (
        await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), {
          authorization: `Bearer ${r2.json.access_token}`,
        })
      ).status,
    ).toBe(401);
  });

  it('H20: revoking another client’s token is a 200 no-op', async () => {
    const victim = await signIn(base, 'alice');
    const attacker = await registerTestClient(base, REDIRECT, 'Attacker');
    for (const token of [victim.refreshToken, victim.accessToken]) {
      const res = await fetch(`${base}/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, client_id: attacker }),
      });
      expect(res.status).toBe(200);
    }
    const still = await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), {
      authorization: `Bearer ${victim.accessToken}`,
    });
    expect(still.status).toBe(200);
    expect(still.json.result.isError).toBeFalsy();
  });

  it('H21: consenting again for the same client revokes the older grant', async () => {
    const clientId = await registerTestClient(base, REDIRECT);
    const first = await signIn(base, 'bob', { clientId });
    const second = await signIn(base, 'bob', { clientId });
    expect(
      (
        await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), {
          authorization: `Bearer ${first.accessToken}`,
        })
      ).status,
    ).toBe(401);
    expect(
      (
        await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), {
          authorization: `Bearer ${second.accessToken}`,
        })
      ).status,
    ).toBe(200);
  });

  it('H22: a CORS preflight to /authorize gets no Access-Control-Allow-Origin', async () => {
    const res = await fetch(`${base}/authorize`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
    });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('H23 / C9 / C11 / C12: consent page cannot be framed, sets no cookie; the approval redirects with 303 and a __Host- cookie', async () => {
    const clientId = await registerTestClient(base, REDIRECT);
    const page = await get(authorizeUrl({ client_id: clientId }));
    expect(page.status).toBe(200);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('set-cookie')).toBeNull();
    const html = await page.text();
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]+)"`).exec(html)![1]!;
    const res = await get(`${base}/consent`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base },
      body: new URLSearchParams({ request_id: field('request_id'), csrf: field('csrf'), decision: 'allow' }),
    });
    expect(res.status).toBe(303);
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(
      /^__Host-rally-mcp-tx=[A-Za-z0-9_-]{43}; Max-Age=600; Path=\/; Secure; HttpOnly; SameSite=Lax$/,
    );
    expect(new URL(res.headers.get('location')!).pathname).toBe('/login/oauth2/auth');
  });

  it('C8: the consent page names the client, the redirect host, the access and the time; Cancel is as prominent as Allow', async () => {
    const clientId = await registerTestClient(base, 'https://app.example.com/cb', 'Example <b>App</b>');
    const html = await (
      await get(authorizeUrl({ client_id: clientId, redirect_uri: 'https://app.example.com/cb' }))
    ).text();
    expect(html).toContain('Example &lt;b&gt;App&lt;/b&gt;');
    expect(html).not.toContain('<b>App</b>');
    expect(html).toContain('app.example.com');
    expect(html).toContain('Create and update stories, defects, tasks and comments as you');
    expect(html).toMatch(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC/);
    expect(html).toMatch(
      /<button class="secondary" name="decision" value="deny" type="submit">Cancel<\/button><button class="primary" name="decision" value="allow" type="submit">Allow<\/button>/,
    );
  });

  it('C10: consent POST without the CSRF token, with another request’s token, or cross-site → 403', async () => {
    const clientId = await registerTestClient(base, REDIRECT);
    const pageFor = async () => {
      const html = await (await get(authorizeUrl({ client_id: clientId }))).text();
      const field = (name: string) => new RegExp(`name="${name}" value="([^"]+)"`).exec(html)![1]!;
      return { request_id: field('request_id'), csrf: field('csrf') };
    };
    const a = await pageFor();
    const b = await pageFor();
    const post = (form: Record<string, string>, headers: Record<string, string> = { origin: base }) =>
      get(`${base}/consent`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams({ decision: 'allow', ...form }),
      });
    expect((await post({ request_id: a.request_id })).status).toBe(403);
    expect((await post({ request_id: a.request_id, csrf: b.csrf })).status).toBe(403);
    expect((await post(b, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await post(b, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    // a's request was consumed by the wrong-token attempt? No: a mismatching CSRF does not consume it.
    expect((await post(a)).status).toBe(303);
    expect((await post(a)).status).toBe(403); // single use
  });

  it('metadata: RFC 8414 and OpenID discovery paths, PKCE S256 advertised, CORS open for discovery', async () => {
    for (const path of [
      '/.well-known/oauth-authorization-server',
      '/.well-known/openid-configuration',
      '/.well-known/oauth-authorization-server/mcp',
    ]) {
      const res = await fetch(`${base}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toMatchObject({
        issuer: base,
        code_challenge_methods_supported: ['S256'],
        authorization_response_iss_parameter_supported: true,
        client_id_metadata_document_supported: true, // CIMD, preferred by MCP 2026-07-28
        registration_endpoint: `${base}/register`, // DCR stays: Copilot Studio registers this way
      });
    }
    const prm = (await (await fetch(`${base}/.well-known/oauth-protected-resource/mcp`)).json()) as {
      resource_documentation: string;
    };
    expect(prm).toEqual({
      resource: `${base}/mcp`,
      authorization_servers: [base],
      scopes_supported: ['rally.read', 'rally.write'],
      bearer_methods_supported: ['header'],
      resource_name: 'Rally MCP server',
      resource_documentation: `${base}/docs`,
    });
    const init = await mcpCall(stack.mcpUrl, initializeBody());
    expect(init.json.result.serverInfo.name).toBe('rally-mcp');
    // The documentation link in the metadata is a real page.
    const docs = await fetch(prm.resource_documentation);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain(`&quot;url&quot;: &quot;${base}/mcp&quot;`);
  });

  it('consent denied → access_denied back to the client with state and iss; nothing sent to Rally', async () => {
    const clientId = await registerTestClient(base, REDIRECT);
    const before = stack.sandbox!.requests().length;
    const { redirect, state } = await authorizeToRedirect(base, { clientId, consent: 'deny', jar: new CookieJar() });
    expect(redirect.searchParams.get('error')).toBe('access_denied');
    expect(redirect.searchParams.get('state')).toBe(state);
    expect(redirect.searchParams.get('iss')).toBe(base);
    expect(stack.sandbox!.requests().length).toBe(before);
  });
});
