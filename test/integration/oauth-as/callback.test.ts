/**
 * Security cases B (callback handling) and C1/C7 (forwarded links, login CSRF) in default mode,
 * over real HTTP with the Rally sandbox. The cases every upstream provider shares (B3/C2/C6 the
 * browser binding, B4/B6/B13 single use, B16 the code exchange) run for each provider in
 * test/integration/upstream/upstream-security.test.ts.
 */
import { Firestore } from '@google-cloud/firestore';
import { startTestStack, type TestStack } from '../../helpers/stack.js';
import {
  browse,
  CookieJar,
  mcpCall,
  pkcePair,
  registerTestClient,
  signIn,
  toolCallBody,
} from '../../helpers/oauth-flow.js';
import { consumeLinkTransaction, createLinkTransaction } from '../../../shared/store/link-transactions.repo.js';
import { emulatorFirestore } from '../../helpers/firestore.js';
import { COLLECTIONS } from '../../../shared/store/collections.js';

const REDIRECT = 'http://127.0.0.1:33418/callback';

describe('OAuth callback (groups B and C)', () => {
  let stack: TestStack;
  let base: string;
  let db: Firestore;

  beforeAll(async () => {
    stack = await startTestStack({ env: { RALLY_TIMEOUT_MS: '1500' } });
    base = stack.url;
    db = emulatorFirestore(stack.projectId, stack.firestoreHost);
  });
  afterAll(async () => {
    await db?.terminate();
    await stack?.stop();
  });
  afterEach(() => stack.sandbox!.clearFaults());

  const tokenRequests = () => stack.sandbox!.requests().filter((r) => r.url.startsWith('/login/oauth2/token')).length;
  const countDocs = async (name: string) => (await db.collection(name).get()).size;

  /** Our /authorize → consent → the 303 to Rally: the Rally URL (with our state) and the browser's jar. */
  async function startLink(clientId?: string) {
    const id = clientId ?? (await registerTestClient(base, REDIRECT));
    const url = new URL(`${base}/authorize`);
    const { challenge } = pkcePair();
    for (const [k, v] of Object.entries({
      response_type: 'code',
      client_id: id,
      redirect_uri: REDIRECT,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'client-state',
    }))
      url.searchParams.set(k, v);
    const jar = new CookieJar();
    const res = await browse(url.toString(), { username: 'alice', stopAt: stack.sandbox!.url, jar });
    const rallyUrl = new URL(res.url);
    return { rallyUrl, jar, state: rallyUrl.searchParams.get('state')!, clientId: id };
  }

  /** Signs in at the sandbox and stops where Rally sends the browser back to us. */
  async function rallyCallback(rallyUrl: URL, username = 'alice', consent: 'allow' | 'deny' = 'allow') {
    const res = await browse(rallyUrl.toString(), {
      username,
      stopAt: `${base}/oauth/callback`,
      consent,
      jar: new CookieJar(),
    });
    return new URL(res.url);
  }

  const callback = (url: URL | string, jar?: CookieJar, init: RequestInit = {}) => {
    const cookie = jar?.header(base);
    return fetch(url, {
      redirect: 'manual',
      ...init,
      headers: { ...(cookie ? { cookie } : {}), ...(init.headers as Record<string, string>) },
    });
  };

  it('B1: no state → 400, no token request, nothing stored', async () => {
    const before = [tokenRequests(), await countDocs(COLLECTIONS.grants)];
    const res = await callback(`${base}/oauth/callback?code=abc`);
    expect(res.status).toBe(400);
    expect([tokenRequests(), await countDocs(COLLECTIONS.grants)]).toEqual(before);
  });

  it('B2: unknown state, or one altered by a character → 400, no token request', async () => {
    const { state, jar } = await startLink();
    const before = tokenRequests();
    const altered = `${state.slice(0, -1)}${state.endsWith('A') ? 'B' : 'A'}`;
    for (const s of ['unknown-state', altered]) {
      const res = await callback(`${base}/oauth/callback?code=abc&state=${s}`, jar);
      expect(res.status).toBe(400);
    }
    expect(tokenRequests()).toBe(before);
  });

  it('B5/F2: a state 10 min + 1 s old that TTL has not removed is refused (injected clock)', async () => {
    const created = new Date('2026-01-05T10:00:00Z');
    await createLinkTransaction(db, 'b5-state', {
      kind: 'authorize',
      browserHash: 'x',
      sealed: 'x',
      createdAt: created,
      expiresAt: new Date(created.getTime() + 600_000),
    });
    const late = await consumeLinkTransaction(db, 'b5-state', 'browser', new Date(created.getTime() + 601_000));
    expect(late).toEqual({ ok: false, reason: 'expired' });
    expect(
      (
        await db
          .doc(
            `${COLLECTIONS.linkTransactions}/${(await import('../../../shared/kernel/hash.js')).sha256Id('b5-state')}`,
          )
          .get()
      ).exists,
    ).toBe(false);
  });

  it('B8: an iss that is not Rally’s → refused, no token request, error_description not shown', async () => {
    const { rallyUrl, jar } = await startLink();
    const back = await rallyCallback(rallyUrl);
    back.searchParams.set('iss', 'https://evil.example');
    back.searchParams.set('error_description', '<script>alert(1)</script>');
    const before = tokenRequests();
    const res = await callback(back, jar);
    expect(res.status).toBe(400);
    expect(await res.text()).not.toContain('alert(1)');
    expect(tokenRequests()).toBe(before);
  });

  it('B9: error=access_denied with a valid state → state consumed, generic page, no token request', async () => {
    const { rallyUrl, jar } = await startLink();
    const back = await rallyCallback(rallyUrl, 'alice', 'deny');
    expect(back.searchParams.get('error')).toBe('access_denied');
    back.searchParams.set('error_description', '<img src=x onerror=alert(1)>');
    const before = tokenRequests();
    const res = await callback(back, jar);
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('Sign-in was not completed');
    expect(html).not.toContain('onerror');
    // The client learns of the refusal only through its own validated redirect URI.
    expect(html).toContain(`${REDIRECT}?error=access_denied&amp;state=client-state&amp;iss=`);
    expect((await callback(back, jar)).status).toBe(400); // consumed
    expect(tokenRequests()).toBe(before);
  });

  it('B10: error with an invalid state → generic page without attacker text', async () => {
    const res = await callback(
      `${base}/oauth/callback?state=nope&error=access_denied&error_description=${encodeURIComponent('<b>call +1-555 now</b>')}`,
    );
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).not.toContain('555');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });

  it('B11: POST to the callback → 405', async () => {
    const res = await fetch(`${base}/oauth/callback?state=x&code=y`, { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
  });

  it('B14: malformed Rally token responses → failure, nothing stored, generic page', async () => {
    const bodies = [
      'not json',
      JSON.stringify({ token_type: 'Bearer', expires_in: 60 }),
      JSON.stringify({ access_token: 'a', token_type: 'mac', expires_in: 60 }),
      JSON.stringify({ access_token: 'a', expires_in: 60 }),
      JSON.stringify({ access_token: 'a', token_type: 'Bearer', expires_in: -5 }),
      JSON.stringify({ access_token: 'a', token_type: 'Bearer', expires_in: 'soon' }),
      JSON.stringify({ access_token: 'a', token_type: 'bearer', expires_in: 60, refresh_token: 42 }),
    ];
    for (const body of bodies) {
      const { rallyUrl, jar } = await startLink();
      const back = await rallyCallback(rallyUrl);
      const remove = stack.sandbox!.injectFault({
        pathPrefix: '/login/oauth2/token',
        times: 1,
        fault: { kind: 'status', status: 200, body, contentType: 'application/json' },
      });
      const before = [
        await countDocs(COLLECTIONS.grants),
        await countDocs(COLLECTIONS.rallyTokens),
        await countDocs(COLLECTIONS.authCodes),
      ];
      const res = await callback(back, jar);
      remove();
      expect({ body, status: res.status }).toEqual({ body, status: 502 });
      expect(await res.text()).not.toContain(body.slice(0, 20).replace(/[<>&"]/g, ''));
      expect([
        await countDocs(COLLECTIONS.grants),
        await countDocs(COLLECTIONS.rallyTokens),
        await countDocs(COLLECTIONS.authCodes),
      ]).toEqual(before);
    }
  });

  it('B15: token exchange 5xx or timeout → the state cannot be reused; the user starts again; no partial record', async () => {
    for (const fault of [{ kind: 'status', status: 503 } as const, { kind: 'latency', ms: 3000 } as const]) {
      const { rallyUrl, jar } = await startLink();
      const back = await rallyCallback(rallyUrl);
      stack.sandbox!.injectFault({ pathPrefix: '/login/oauth2/token', times: 1, fault });
      const grants = await countDocs(COLLECTIONS.grants);
      const res = await callback(back, jar);
      expect(res.status).toBe(502);
      expect(await res.text()).toContain('Start again from your application');
      stack.sandbox!.clearFaults();
      expect((await callback(back, jar)).status).toBe(400);
      expect(await countDocs(COLLECTIONS.grants)).toBe(grants);
    }
  });

  it('C1/C7: a re-link opened by another Rally user is refused before anything is bound', async () => {
    const alice = await signIn(base, 'alice');
    const auth = { authorization: `Bearer ${alice.accessToken}` };
    const disconnect = await mcpCall(stack.mcpUrl, toolCallBody('disconnect_rally', {}), auth);
    expect(disconnect.json.result.isError).toBeFalsy();
    const prompt = await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), auth);
    expect(prompt.json.result.isError).toBe(true);
    const link = /\((http[^)]+\/connect\/[A-Za-z0-9_-]+)\)/.exec(prompt.json.result.content[0].text)![1]!;
    // The link is forwarded to bob, who signs in to Rally as himself.
    const res = await browse(link, { username: 'bob', stopAt: 'never' });
    expect(res.status).toBe(403);
    expect(res.body).toContain('different Rally user');
    const still = await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), auth);
    expect(still.json.result.isError).toBe(true); // alice's grant is still unlinked, not bob's
    expect(JSON.stringify(still.json)).not.toContain('bob@example.com');
    // Alice herself can re-link through a fresh link.
    const fresh = /\((http[^)]+\/connect\/[A-Za-z0-9_-]+)\)/.exec(still.json.result.content[0].text)![1]!;
    const done = await browse(fresh, { username: 'alice', stopAt: 'never' });
    expect(done.body).toContain('Rally is connected.');
    expect(done.body).toContain('<a href="/connections">'); // issue 18: connection tokens are one click away
    const ok = await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), auth);
    expect(JSON.stringify(ok.json.result.structuredContent)).toContain('alice@example.com');
  });

  /** alice signs in, disconnects Rally, and a tool call hands out a /connect/<id> re-link for her grant. */
  async function relinkAfterDisconnect() {
    const alice = await signIn(base, 'alice');
    const auth = { authorization: `Bearer ${alice.accessToken}` };
    expect((await mcpCall(stack.mcpUrl, toolCallBody('disconnect_rally', {}), auth)).json.result.isError).toBeFalsy();
    const prompt = await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), auth);
    const link = /\((http[^)]+\/connect\/[A-Za-z0-9_-]+)\)/.exec(prompt.json.result.content[0].text)![1]!;
    const revoke = async () => {
      const res = await fetch(`${base}/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: alice.refreshToken, client_id: alice.clientId }),
      });
      expect(res.status).toBe(200);
    };
    const toolStatus = async () => (await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), auth)).status;
    return { link, revoke, toolStatus };
  }

  it('L2: after disconnect_rally and POST /revoke, completing the old re-link is refused; nothing is stored and the revoked token stays 401', async () => {
    const { link, revoke, toolStatus } = await relinkAfterDisconnect();
    await revoke();
    expect(await toolStatus()).toBe(401);
    const tokensBefore = await countDocs(COLLECTIONS.rallyTokens);
    const res = await browse(link, { username: 'alice', stopAt: 'never' });
    expect(res.body).not.toContain('Rally is connected.');
    expect(res.status).toBe(404); // the dead re-link is not even offered
    expect(await countDocs(COLLECTIONS.rallyTokens)).toBe(tokensBefore);
    expect(await toolStatus()).toBe(401);
  });

  it('L2: a grant revoked while its re-link is at Rally stays revoked: the callback refuses inside the storing transaction', async () => {
    const { link, revoke, toolStatus } = await relinkAfterDisconnect();
    const jar = new CookieJar();
    const atRally = await browse(link, { username: 'alice', stopAt: stack.sandbox!.url, jar });
    await revoke(); // the user is signing in at Rally meanwhile
    expect(await toolStatus()).toBe(401);
    const tokensBefore = await countDocs(COLLECTIONS.rallyTokens);
    const back = await rallyCallback(new URL(atRally.url));
    const res = await callback(back, jar);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('no longer authorized');
    expect(await countDocs(COLLECTIONS.rallyTokens)).toBe(tokensBefore);
    expect(await toolStatus()).toBe(401);
  });

  it('L14: every callback answer, errors included, carries Cache-Control: no-store and Referrer-Policy: no-referrer', async () => {
    const answers: Array<[string, Response]> = [];
    answers.push(['405', await fetch(`${base}/oauth/callback?state=x&code=y`, { method: 'POST' })]);
    answers.push(['missing state', await callback(`${base}/oauth/callback?code=abc`)]);
    answers.push(['duplicated state', await callback(`${base}/oauth/callback?code=abc&state=a&state=b`)]);
    answers.push(['unknown state', await callback(`${base}/oauth/callback?code=abc&state=unknown-state`)]);
    const mismatch = await startLink();
    answers.push(['another browser', await callback(await rallyCallback(mismatch.rallyUrl), new CookieJar())]);
    const denied = await startLink();
    answers.push([
      'denied at Rally',
      await callback(await rallyCallback(denied.rallyUrl, 'alice', 'deny'), denied.jar),
    ]);
    const failing = await startLink();
    const failingBack = await rallyCallback(failing.rallyUrl);
    stack.sandbox!.injectFault({ pathPrefix: '/login/oauth2/token', times: 1, fault: { kind: 'status', status: 503 } });
    answers.push(['token exchange failed', await callback(failingBack, failing.jar)]);
    const ok = await startLink();
    answers.push(['success', await callback(await rallyCallback(ok.rallyUrl), ok.jar)]);
    const seen = answers.map(([kind, res]) => [
      kind,
      res.status,
      res.headers.get('cache-control'),
      res.headers.get('referrer-policy'),
    ]);
    expect(seen).toEqual([
      ['405', 405, 'no-store', 'no-referrer'],
      ['missing state', 400, 'no-store', 'no-referrer'],
      ['duplicated state', 400, 'no-store', 'no-referrer'],
      ['unknown state', 400, 'no-store', 'no-referrer'],
      ['another browser', 403, 'no-store', 'no-referrer'],
      ['denied at Rally', 400, 'no-store', 'no-referrer'],
      ['token exchange failed', 502, 'no-store', 'no-referrer'],
      ['success', 302, 'no-store', 'no-referrer'],
    ]);
  });

  it('L15: a binding cookie planted in the browser is not adopted: consent sets a fresh value, and the planted one cannot complete the callback', async () => {
    const name = stack.serverEnv.BINDING_COOKIE_NAME ?? '__Host-rally-mcp-tx';
    const planted = 'planted-by-a-sibling-site-0123456789';
    const jar = new CookieJar();
    // What a tossed cookie looks like to us: the browser sends it with its first request.
    const plantedJar = Object.assign(Object.create(CookieJar.prototype) as CookieJar, {
      store: (url: string, res: Response) => jar.store(url, res),
      header: (url: string) =>
        jar.header(url) ?? (new URL(url).origin === new URL(base).origin ? `${name}=${planted}` : undefined),
      clear: () => jar.clear(),
    });
    const id = await registerTestClient(base, REDIRECT);
    const url = new URL(`${base}/authorize`);
    const { challenge } = pkcePair();
    for (const [k, v] of Object.entries({
      response_type: 'code',
      client_id: id,
      redirect_uri: REDIRECT,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 's',
    }))
      url.searchParams.set(k, v);
    const setCookies: string[] = [];
    const end = await browse(url.toString(), {
      username: 'alice',
      stopAt: stack.sandbox!.url,
      jar: plantedJar,
      onResponse: (u, res) => {
        if (new URL(u).pathname === '/consent') setCookies.push(...res.headers.getSetCookie());
      },
    });
    const minted = setCookies.map((c) => new RegExp(`^${name}=([^;]*)`).exec(c)?.[1]).find(Boolean);
    expect(minted).toBeDefined();
    expect(minted).not.toBe(planted);
    const back = await rallyCallback(new URL(end.url));
    const withPlanted = await fetch(back, { redirect: 'manual', headers: { cookie: `${name}=${planted}` } });
    expect(withPlanted.status).toBe(403);
    const withMinted = await fetch(back, { redirect: 'manual', headers: { cookie: `${name}=${minted}` } });
    expect(withMinted.status).toBe(302);
  });

  it('A6: an unknown or used connect link → 404 page and no transaction', async () => {
    const txs = await countDocs(COLLECTIONS.linkTransactions);
    const res = await fetch(`${base}/connect/${'A'.repeat(43)}`);
    expect(res.status).toBe(404);
    const post = await fetch(`${base}/connect/${'A'.repeat(43)}`, {
      method: 'POST',
      headers: { origin: base, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'decision=continue',
      redirect: 'manual',
    });
    expect(post.status).toBe(404);
    expect(await countDocs(COLLECTIONS.linkTransactions)).toBe(txs);
  });
});
