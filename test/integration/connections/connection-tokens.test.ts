/**
 * Connection tokens (issue 18) over real HTTP against the local stack: created on the
 * /connections pages after a real Rally (sandbox) sign-in, used by a client that only sets static
 * headers, refused for writes until a token has write scope, and refused (401) once revoked,
 * within the documented cache window (LINK_CACHE_SECONDS). Security cases O1–O10, O14.
 */
import { browse, callTool, CookieJar, parseForms, signIn } from '../../helpers/oauth-flow.js';
import { sha256Id } from '../../../shared/kernel/hash.js';
import { depsFor, startTestStack, waitOutLinkCache, type TestStack } from '../../helpers/stack.js';
import {
  callWithHeaders,
  createToken,
  openConsole,
  postForm,
  signInToConsole,
  TOKEN_SHAPE,
} from '../../helpers/connections.js';
import { listConnectionTokens } from '../../../shared/store/connection-tokens.repo.js';
import { getGrant } from '../../../shared/store/grants.repo.js';

const ALICE = 'alice@example.com'; // the sandbox's UserName of alice
const plain = (token: string) => ({ 'X-Rally-MCP-Token': token });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('connection tokens (issue 18)', () => {
  let stack: TestStack;
  let alice: CookieJar;
  beforeAll(async () => {
    stack = await startTestStack();
    alice = await signInToConsole(stack.url, 'alice');
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const audits = (event: string, needle: string) =>
    stack.logs.filter((l) => l.includes(`"event":"${event}"`) && l.includes(needle));

  it('O1: a token made on the page reads with only a static header (X-Rally-MCP-Token or Bearer), through the same audit path named by its id', async () => {
    const { token, id } = await createToken(stack.url, alice);
    for (const headers of [plain(token), bearer(token)]) {
      const res = await callWithHeaders(stack.url, headers, 'get_rally_user');
      expect(res.status).toBe(200);
      expect(res.json.result.isError).toBeFalsy();
      expect(res.json.result.structuredContent.user.userName).toBe(ALICE);
    }
    const rest = await fetch(`${stack.url}/tools/get_rally_user`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...plain(token) },
      body: '{}',
    });
    expect(rest.status).toBe(200); // the REST shape takes it the same way
    const executed = audits('tool_executed', `"connectionTokenId":"${id}"`);
    expect(executed.length).toBe(3);
    expect(executed[0]).toContain('"clientId":"rally-mcp-connection-token"');
    expect(stack.logs.some((l) => TOKEN_SHAPE.test(l))).toBe(false); // K1: the token itself is never logged
  });

  it('O2: read-only by default: a write tool gets 403 insufficient_scope; a token created with write opted in may write; scopes never widen', async () => {
    const read = await createToken(stack.url, alice);
    const denied = await callWithHeaders(stack.url, plain(read.token), 'create_rally_story', { name: 'From CI' });
    expect(denied.status).toBe(403);
    expect(denied.headers.get('www-authenticate')).toContain('insufficient_scope');
    expect(audits('access_denied', `"connectionTokenId":"${read.id}"`).length).toBe(1);
    const write = await createToken(stack.url, alice, { write: true });
    const created = await callWithHeaders(stack.url, plain(write.token), 'create_rally_story', { name: 'From CI' });
    expect(created.status).toBe(200);
    expect(created.json.result.isError).toBeFalsy();
    // The read-only token is still read-only: nothing on the page or in the store widened it.
    const again = await callWithHeaders(stack.url, plain(read.token), 'create_rally_story', { name: 'From CI' });
    expect(again.status).toBe(403);
    const stored = await listConnectionTokens(await depsFor(stack).db(), { rallyUser: ALICE });
    expect(stored.find((t) => t.tokenId === read.id)?.scopes).toEqual(['rally.read']);
  });

  it('O3: revoked by its owner on the page → 401 once the cache window (LINK_CACHE_SECONDS) has passed; other tokens keep working', async () => {
    const doomed = await createToken(stack.url, alice);
    const kept = await createToken(stack.url, alice);
    expect((await callWithHeaders(stack.url, plain(doomed.token), 'get_rally_user')).status).toBe(200);
    const page = await openConsole(stack.url, alice);
    const revoke = page.form('/connections/revoke', doomed.id);
    const res = await postForm(revoke.action, alice, revoke.fields);
    expect(res.status).toBe(303);
    await waitOutLinkCache(stack);
    const after = await callWithHeaders(stack.url, plain(doomed.token), 'get_rally_user');
    expect(after.status).toBe(401);
    expect(after.headers.get('www-authenticate')).toContain('invalid_token');
    expect((await callWithHeaders(stack.url, plain(kept.token), 'get_rally_user')).status).toBe(200);
    expect((await openConsole(stack.url, alice)).body).toContain('revoked');
  });

  it('O4: guessing: a wrong secret for a real id, an unknown id, a malformed or foreign token → 401, with the reason in the audit line and never the token', async () => {
    const { token, id } = await createToken(stack.url, alice);
    const wrongSecret = `${token.slice(0, -4)}AAAA`;
    const unknownId = `rmcp_ct_${'0'.repeat(20)}_${token.slice(-43)}`;
    for (const guess of [wrongSecret, unknownId, 'rmcp_ct_short', `${token}x`]) {
      const res = await callWithHeaders(stack.url, plain(guess), 'get_rally_user');
      expect(res.status).toBe(401);
    }
    expect(audits('access_denied', '"connection_token_secret"').length).toBeGreaterThanOrEqual(1);
    expect(audits('access_denied', '"connection_token_unknown"').length).toBeGreaterThanOrEqual(1);
    expect(audits('access_denied', '"connection_token_malformed"').length).toBeGreaterThanOrEqual(2);
    expect(stack.logs.some((l) => l.includes(token.slice(-43)))).toBe(false);
    expect((await callWithHeaders(stack.url, plain(token), 'get_rally_user')).status).toBe(200); // guesses do not lock out the owner
    expect(id).toMatch(/^[0-9a-f]{20}$/);
  });

  it('O5: the token is shown once: the creation page has it, the list never does, and a reloaded or replayed creation POST creates and shows nothing', async () => {
    const page = await openConsole(stack.url, alice);
    const form = page.form('/connections/create');
    const { write: _checkbox, ...hidden } = form.fields;
    const fields = { ...hidden, name: 'Replay me', days: '7' };
    const first = await postForm(form.action, alice, fields);
    expect(first.status).toBe(200);
    const token = TOKEN_SHAPE.exec(first.body)?.[0];
    expect(token).toBeDefined();
    const replay = await postForm(form.action, alice, fields);
    expect(replay.status).toBe(409);
    expect(TOKEN_SHAPE.test(replay.body)).toBe(false);
    const list = await openConsole(stack.url, alice);
    expect(TOKEN_SHAPE.test(list.body)).toBe(false);
    expect(list.body.match(/Replay me/g)?.length).toBe(1);
    const stored = await listConnectionTokens(await depsFor(stack).db(), { rallyUser: ALICE });
    expect(stored.filter((t) => t.name === 'Replay me').length).toBe(1);
    expect(JSON.stringify(stored)).not.toContain(token!.slice(-43)); // E1: only the hash is stored
  });

  it('O6: CSRF: a cross-site post, a post without the page’s nonce or CSRF token, or another browser’s nonce creates or revokes nothing', async () => {
    const before = (await listConnectionTokens(await depsFor(stack).db(), { rallyUser: ALICE })).length;
    const page = await openConsole(stack.url, alice);
    const create = page.form('/connections/create');
    const crossSite = await postForm(
      create.action,
      alice,
      { ...create.fields, name: 'x', days: '7' },
      {
        'content-type': 'application/x-www-form-urlencoded',
        origin: 'https://evil.example',
        'sec-fetch-site': 'cross-site',
      },
    );
    expect(crossSite.status).toBe(403);
    const noNonce = await postForm(create.action, alice, { name: 'x', days: '7' });
    expect(noNonce.status).toBe(400);
    const bob = await signInToConsole(stack.url, 'bob');
    const otherBrowser = await postForm(create.action, bob, { ...create.fields, name: 'x', days: '7' });
    expect(otherBrowser.status).toBe(409);
    const noSession = await postForm(create.action, undefined, { ...create.fields, name: 'x', days: '7' });
    expect(noSession.status).toBe(409);
    const { id } = await createToken(stack.url, alice);
    const revoke = (await openConsole(stack.url, alice)).form('/connections/revoke', id);
    expect((await postForm(revoke.action, alice, { ...revoke.fields, csrf: 'A'.repeat(43) })).status).toBe(403);
    expect((await postForm(revoke.action, bob, revoke.fields)).status).toBe(403); // bob's session, alice's token and CSRF
    const after = await listConnectionTokens(await depsFor(stack).db(), { rallyUser: ALICE });
    expect(after.length).toBe(before + 1);
    expect(after.find((t) => t.tokenId === id)?.status).toBe('active');
  });

  it('O7: Authorization and X-Rally-MCP-Token with different values → 400, whichever is valid', async () => {
    const a = await createToken(stack.url, alice);
    const b = await createToken(stack.url, alice);
    const res = await callWithHeaders(stack.url, { ...bearer(a.token), ...plain(b.token) }, 'get_rally_user');
    expect(res.status).toBe(400);
    const same = await callWithHeaders(stack.url, { ...bearer(a.token), ...plain(a.token) }, 'get_rally_user');
    expect(same.status).toBe(200);
  });

  it('O8: the pages cannot be framed or cached, send no referrer (the policy of Your access, Q5), and escape the token name', async () => {
    const name = '<img src=x onerror=alert(1)>"\'';
    const { page } = await createToken(stack.url, alice, { name });
    expect(page).not.toContain('<img src=x');
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;');
    const res = await fetch(`${stack.url}/connections`, { headers: { cookie: alice.header(stack.url)! } });
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer'); // one policy with /account (shared/oauth-as/browser-session.ts)
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(await res.text()).not.toContain('<img src=x');
  });

  it('O9: a tool allowlist: other tools are refused (policy_denied, audited) and absent from tools/list', async () => {
    const { token, id } = await createToken(stack.url, alice, { tools: 'get_rally_user' });
    expect((await callWithHeaders(stack.url, plain(token), 'get_rally_user')).status).toBe(200);
    const other = await callWithHeaders(stack.url, plain(token), 'list_rally_projects');
    expect(other.json.result.isError).toBe(true);
    expect(audits('policy_denied', `"connectionTokenId":"${id}"`).length).toBe(1);
    const list = await callWithHeaders(stack.url, plain(token), 'get_rally_user').then(async () =>
      fetch(`${stack.url}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...plain(token) },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
      }).then((r) => r.text()),
    );
    expect(list).toContain('get_rally_user');
    expect(list).not.toContain('list_rally_projects');
  });

  it('O14: create_connection_token gives a signed-in client the /connections link only: no token passes through the model, and a connection token is not offered the tool', async () => {
    const { accessToken } = await signIn(stack.url, 'alice');
    const res = await callTool(stack.mcpUrl, accessToken, 'create_connection_token');
    expect(res.json.result.isError).toBeFalsy();
    expect(res.json.result.structuredContent.url).toBe(`${stack.url}/connections`);
    expect(TOKEN_SHAPE.test(JSON.stringify(res.json))).toBe(false);
    const { token } = await createToken(stack.url, alice);
    const asToken = await callWithHeaders(stack.url, plain(token), 'create_connection_token');
    expect(asToken.json.error ?? asToken.json.result?.isError).toBeTruthy();
  });

  it('Q2/O10 with Your access: one sign-in serves both pages; /account lists the token (not the connections grant as a client) and ends it with the same CSRF token', async () => {
    const jar = await signInToConsole(stack.url, 'alice');
    const made = await createToken(stack.url, jar, { name: 'CI of acme/web' });
    const accountUrl = `${stack.url}/account`;
    const res = await fetch(accountUrl, { headers: { cookie: jar.header(accountUrl)! } });
    expect(res.status).toBe(200);
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const body = await res.text();
    expect(body).toContain('Signed in to Rally as');
    expect(body).toContain(`id ${made.id}`);
    expect(body).not.toContain('<h3>Connection tokens</h3>'); // the internal connections grant is no client
    const end = parseForms(body, accountUrl).find((f) => f.fields.row === sha256Id(`connection-token:${made.id}`));
    expect(end).toBeDefined();
    // One CSRF token for both pages' change forms (derived from the one session cookie).
    expect(end!.fields.csrf).toBe((await openConsole(stack.url, jar)).form('/connections/sign-out').fields.csrf);
    expect((await postForm(end!.action, jar, end!.fields)).status).toBe(303);
    expect(audits('token_revoked', `"connectionTokenId":"${made.id}"`).join()).toContain('"reason":"user_request"');
    await waitOutLinkCache(stack);
    expect((await callWithHeaders(stack.url, plain(made.token), 'get_rally_user')).status).toBe(401);
    // Still signed in on /connections (same session); the token shows as revoked there.
    const page = await openConsole(stack.url, jar);
    expect(page.body).toContain('Create token');
    expect(page.forms.some((f) => f.fields.token_id === made.id)).toBe(false);
  });

  it('Q7/O6 with Your access: a sign-in on /account (no Rally token kept) is asked to sign in on /connections, and its CSRF token revokes nothing there', async () => {
    const jar = new CookieJar();
    const start = `${stack.url}/account/sign-in`;
    const res = await fetch(start, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        origin: stack.url,
        'sec-fetch-site': 'same-origin',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: '',
    });
    jar.store(start, res);
    const done = await browse(res.headers.get('location')!, { username: 'alice', jar, stopAt: `${stack.url}/account` });
    expect(done.status).toBe(0);
    const accountUrl = `${stack.url}/account`;
    const account = await (await fetch(accountUrl, { headers: { cookie: jar.header(accountUrl)! } })).text();
    expect(account).toContain('Signed in to Rally as');
    const csrf = parseForms(account, accountUrl).find((f) => f.action.endsWith('/account/sign-out'))!.fields.csrf!;
    const page = await openConsole(stack.url, jar);
    expect(page.body).toContain('Sign in with Rally');
    expect(page.body).not.toContain('Create token');
    const token = await createToken(stack.url, alice);
    const revoke = await postForm(`${stack.url}/connections/revoke`, jar, { csrf, token_id: token.id });
    expect(revoke.status).toBeGreaterThanOrEqual(400);
    expect((await callWithHeaders(stack.url, plain(token.token), 'get_rally_user')).status).toBe(200);
  });

  it('O10: revoking the user’s grant (“Revoke all”, or disconnect_rally with a token) revokes every token bound to it → 401', async () => {
    const again = await signInToConsole(stack.url, 'alice'); // the same connections grant as before
    const one = await createToken(stack.url, again);
    const two = await createToken(stack.url, again);
    expect((await callWithHeaders(stack.url, plain(one.token), 'get_rally_user')).status).toBe(200);
    const write = await createToken(stack.url, again, { write: true });
    const disconnected = await callWithHeaders(stack.url, plain(write.token), 'disconnect_rally');
    expect(disconnected.status).toBe(200);
    await waitOutLinkCache(stack);
    for (const t of [one, two, write])
      expect((await callWithHeaders(stack.url, plain(t.token), 'get_rally_user')).status).toBe(401);
    const stored = await listConnectionTokens(await depsFor(stack).db(), { rallyUser: ALICE });
    expect(stored.find((t) => t.tokenId === one.id)?.revokedBy).toBe('grant');
    // A new sign-in makes a new grant: new tokens work, the revoked ones stay revoked.
    const later = await signInToConsole(stack.url, 'alice');
    const fresh = await createToken(stack.url, later);
    expect((await callWithHeaders(stack.url, plain(fresh.token), 'get_rally_user')).status).toBe(200);
    expect((await callWithHeaders(stack.url, plain(one.token), 'get_rally_user')).status).toBe(401);
    // “Revoke all” on the page does the same and signs the browser out.
    const all = (await openConsole(stack.url, later)).form('/connections/revoke-all');
    expect((await postForm(all.action, later, all.fields)).status).toBe(303);
    await waitOutLinkCache(stack);
    expect((await callWithHeaders(stack.url, plain(fresh.token), 'get_rally_user')).status).toBe(401);
    const grant = stored.find((t) => t.tokenId === one.id)!.grantId;
    expect((await getGrant(await depsFor(stack).db(), grant, stack.clock.now()))?.status).toBe('revoked');
    expect((await openConsole(stack.url, later)).body).toContain('Sign in with Rally');
  });
});
