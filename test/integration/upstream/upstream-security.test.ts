/**
 * The security cases every upstream provider must pass, written once and run for each provider
 * (./providers.ts: Rally, and GitHub's own provider module): state single use and the
 * browser binding at the one callback (B3, B4, B6), PKCE and the code exchange (B16), sealing
 * bound to the document with no plaintext in Firestore (E1), the refresh race across two
 * instances (D2), a refused refresh becoming that provider's sign-in prompt (D3), a refresh answer
 * lost after the provider rotated (D5). Then the cases of two providers side by side (group R,
 * issue 19): a state of one provider with another's code, a second provider's link completed by
 * another user or browser, one provider's tokens in the other's record, what a call reads, and the
 * relink rule of a second provider.
 *
 * Two server instances share the emulator, Rally's sandbox and GitHub's (as a GitHub App: expiring
 * user tokens, single-use refresh tokens). Users: user001–user006 per row case that changes the
 * provider's state, alice and bob elsewhere; each signs in with the same name at both providers.
 */
import { createHash } from 'node:crypto';
import { jest } from '@jest/globals';
import { createDeps } from '../../../shared/app/deps.js';
import { loadConfig } from '../../../shared/config/config.js';
import { createLogger } from '../../../shared/logging/logger.js';
import { createCallContext } from '../../../shared/mcp/call-context.js';
import { disconnectLink } from '../../../shared/upstream-link/link-read.js';
import { tokenRecordPath, tokenRecords } from '../../../shared/store/upstream-tokens.repo.js';
import type { UpstreamProviderId } from '../../../shared/upstream/provider.js';
import { dumpFirestore, waitOutLinkCache } from '../../helpers/stack.js';
import { until } from '../../helpers/poll.js';
import { browse, CookieJar, recordedSignIn } from '../../helpers/oauth-flow.js';
import {
  connectLinkFor,
  principalOf,
  recordPath,
  requestContext,
  startUpstreamSuite,
  type UpstreamRow,
  type Use,
  type UpstreamSuite,
} from './providers.js';

jest.setTimeout(120_000);

let suite: UpstreamSuite;
beforeAll(async () => {
  suite = await startUpstreamSuite();
});
afterAll(async () => {
  await suite?.stop();
});

const db = () => suite.deps[0].db();
const count = async (collection: string) => (await (await db()).collection(collection).get()).size;
const exists = async (path: string) => (await (await db()).doc(path).get()).exists;
const ok = (row: UpstreamRow, user: string): Use => ({ kind: 'ok', login: row.login(user) });
const tokenPosts = (row: UpstreamRow) => row.provider.tokenPosts();
const refreshes = (row: UpstreamRow) => row.provider.refreshCount();

/** Each row's own users for the cases that change a user's state at the provider. */
const USERS: Record<UpstreamProviderId, { readonly race: string; readonly refused: string; readonly lost: string }> = {
  rally: { race: 'user001', refused: 'user002', lost: 'user005' },
  github: { race: 'user003', refused: 'user004', lost: 'user006' },
};

describe.each(['rally', 'github'] as const)('upstream provider %s', (id) => {
  const row = () => suite.row(id);
  const collection = () => tokenRecords(id).collection;

  it('B3/C2/C6: a valid state without the binding cookie, or with another browser’s → 403; no token request at the provider; nothing stored', async () => {
    const { providerUrl } = await row().start('alice');
    const back = await row().atProvider(providerUrl, 'bob'); // the victim signs in with the attacker's link
    const other = (await row().start('bob')).jar; // a different browser's cookie
    const before = [tokenPosts(row()).length, await count(collection())];
    expect((await suite.callback(back)).status).toBe(403);
    expect((await suite.callback(back, other)).status).toBe(403);
    expect([tokenPosts(row()).length, await count(collection())]).toEqual(before);
  });

  it('B4/B6/B13: one state, 20 parallel callbacks and a later replay (a URL copied from logs) → exactly one reaches the provider’s token endpoint; the others and the replay are refused', async () => {
    const { providerUrl, jar } = await row().start('alice');
    const back = await row().atProvider(providerUrl, 'alice');
    const before = tokenPosts(row()).length;
    const statuses = await Promise.all(
      Array.from({ length: 20 }, () => suite.callback(back, jar).then((r) => r.status)),
    );
    expect(statuses.sort((a, b) => a - b)).toEqual(
      [row().completed, ...Array<number>(19).fill(400)].sort((a, b) => a - b),
    );
    const bound = await count(collection());
    expect((await suite.callback(back, jar)).status).toBe(400);
    expect(await count(collection())).toBe(bound); // the first binding is unchanged
    expect(tokenPosts(row()).length - before).toBe(1);
  });

  it('B16: the code goes to the provider’s configured token endpoint only, with our redirect URI, our client authentication and the PKCE verifier of the S256 challenge sent (the provider’s sandbox checks it)', async () => {
    const { providerUrl, jar } = await row().start('alice');
    const back = await row().atProvider(providerUrl, 'alice');
    const others = suite.rows.filter((r) => r.id !== id).map((r) => tokenPosts(r).length);
    const mark = tokenPosts(row()).length;
    expect((await suite.callback(back, jar)).status).toBe(row().completed);
    const posts = tokenPosts(row()).slice(mark);
    expect(posts).toHaveLength(1);
    expect(posts[0]!.status).toBe(200);
    const { form } = posts[0]!;
    expect(posts[0]!.grantType).toBe('authorization_code');
    expect(form.get('code')).toBe(back.searchParams.get('code'));
    expect(form.get('redirect_uri')).toBe(`${suite.stack.url}/oauth/callback`);
    expect(form.get('redirect_uri')).toBe(providerUrl.searchParams.get('redirect_uri'));
    expect(form.get('client_id')).toBe(providerUrl.searchParams.get('client_id'));
    expect(form.get('client_secret')).toBeTruthy();
    expect(providerUrl.searchParams.get('code_challenge_method')).toBe('S256');
    const verifier = form.get('code_verifier')!;
    expect(createHash('sha256').update(verifier).digest('base64url')).toBe(
      providerUrl.searchParams.get('code_challenge'),
    );
    expect(suite.rows.filter((r) => r.id !== id).map((r) => tokenPosts(r).length)).toEqual(others);
  });

  it('E1: the token record is a JWE (A256KW/A256GCM) bound to its document plus metadata only; no document holds the provider’s tokens; the blob moved to another grant’s record does not open', async () => {
    const s = await row().linked('alice');
    const ref = (await db()).doc(recordPath(row(), s));
    const data = (await ref.get()).data() as Record<string, unknown>;
    expect(
      Object.keys(data)
        .filter((k) => data[k] !== null)
        .sort(),
    ).toEqual([...row().recordFields].sort());
    const sealed = String(data.sealed);
    expect(sealed).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const header = JSON.parse(Buffer.from(sealed.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
    expect([header.alg, header.enc, header.zip]).toEqual(['A256KW', 'A256GCM', undefined]);
    const store = (await suite.deps[0].auth()).tokenStore(id);
    const link = await store.read(s.principal);
    const secrets = [link?.tokens?.accessToken, link?.tokens?.refreshToken];
    expect(secrets.every((v) => typeof v === 'string' && v.length >= 16)).toBe(true);
    for (const doc of await dumpFirestore(await db()))
      for (const secret of secrets)
        expect({ doc: `${doc.collection}/${doc.id}`, found: doc.json.includes(secret!) }).toEqual({
          doc: `${doc.collection}/${doc.id}`,
          found: false,
        });
    const other = await row().linked('alice');
    const otherRef = (await db()).doc(recordPath(row(), other));
    await otherRef.update({ sealed, version: Number((await otherRef.get()).get('version')) + 1 });
    const moved = await store.read(other.principal);
    expect(moved?.status).toBe('linked');
    expect(moved?.tokens).toBeUndefined();
  });

  it('D2: two instances × 10 concurrent uses needing a refresh of the same link → the provider sees exactly one refresh; every use succeeds', async () => {
    const user = USERS[id].race;
    const s = await row().linked(user);
    expect(await row().use(s, 0)).toEqual(ok(row(), user));
    row().provider.expireAccessTokens(row().login(user));
    const r0 = refreshes(row());
    const uses = await Promise.all(([0, 1] as const).flatMap((i) => Array.from({ length: 10 }, () => row().use(s, i))));
    for (const u of uses) expect(u).toEqual(ok(row(), user));
    expect(refreshes(row()) - r0).toBe(1);
    const doc = await (await db()).doc(recordPath(row(), s)).get();
    expect(doc.get('version')).toBe(2);
    expect(doc.get('leaseHolder') ?? undefined).toBeUndefined();
  });

  it('D3/R6: the provider refuses the refresh token → the record is marked refresh_failed and the caller gets that provider’s sign-in prompt with a /connect link, not an error; the next use does not ask the provider again; the link restores it', async () => {
    const user = USERS[id].refused;
    const s = await row().linked(user);
    expect(await row().use(s, 0)).toEqual(ok(row(), user));
    row().provider.revokeUser(row().login(user));
    await waitOutLinkCache(suite.stack);
    const r0 = refreshes(row());
    const first = await row().use(s, 0);
    expect(refreshes(row()) - r0).toBe(1);
    const doc = await (await db()).doc(recordPath(row(), s)).get();
    expect(doc.get('status')).toBe('refresh_failed');
    expect(doc.get('sealed') ?? undefined).toBeUndefined();
    const mark = row().provider.mark();
    const again = await row().use(s, 1);
    expect(row().provider.since(mark)).toEqual([]);
    const links = [first, again].map((prompt) => {
      const text = prompt.kind === 'prompt' ? prompt.text : JSON.stringify(prompt);
      expect(text).toContain(`${row().name} is not connected`);
      return /(http[^)\s]+\/connect\/[\w-]{43})/.exec(text)?.[1];
    });
    expect(links[0]).toMatch(new RegExp(`^${suite.stack.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/connect/`));
    const relinked = await browse(links[0]!, { username: user, stopAt: 'never' });
    expect(relinked.body).toContain(`${row().name} is connected.`);
    await waitOutLinkCache(suite.stack);
    expect(await row().use(s, 0)).toEqual(ok(row(), user));
  });

  it('D5: the refresh answer is lost after the provider rotated the refresh token (our timeout) → that use fails cleanly, an error and not a prompt, nothing stored; the next use meets the refused old refresh token and gets the sign-in prompt; then no retry loop', async () => {
    const user = USERS[id].lost;
    const s = await row().linked(user);
    expect(await row().use(s, 0)).toEqual(ok(row(), user));
    const ref = (await db()).doc(recordPath(row(), s));
    const version = Number((await ref.get()).get('version'));
    row().provider.expireAccessTokens(row().login(user));
    row().provider.delayTokenEndpoint(4000); // processed 4 s later; we give up after the provider's 3 s timeout
    const r0 = refreshes(row());
    expect((await row().use(s, 0)).kind).toBe('error');
    await until(() => refreshes(row()) - r0 === 1, 'the provider to finish the delayed refresh');
    expect((await ref.get()).get('version')).toBe(version); // nothing was stored
    const second = await row().use(s, 0);
    expect(refreshes(row()) - r0).toBe(2); // one more attempt with the rotated-out refresh token, refused
    expect((await ref.get()).get('status')).toBe('refresh_failed');
    const third = await row().use(s, 1);
    expect(refreshes(row()) - r0).toBe(2); // no retry loop
    for (const prompt of [second, third]) {
      expect(prompt.kind).toBe('prompt');
      expect(prompt.kind === 'prompt' && prompt.text).toContain(`${row().name} is not connected`);
    }
  });
});

describe('R. Two providers side by side (issue 19)', () => {
  const rally = () => suite.row('rally');
  const github = () => suite.row('github');
  const gidOf = (token: string) =>
    (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { gid: string }).gid;
  const records = async () => [await count('rally_tokens'), await count('upstream_tokens')];

  it('R1: a state minted for one provider, brought back with the other provider’s code, sends that code only to the state’s provider (which refuses it); an `iss` of another server is refused before any exchange; nothing is stored', async () => {
    const gh = await github().start('alice');
    const ghBack = await github().atProvider(gh.providerUrl, 'alice');
    const ra = await rally().start('alice');
    const raBack = await rally().atProvider(ra.providerUrl, 'alice');
    const posts = () => [tokenPosts(rally()).length, tokenPosts(github()).length];
    const [rally0, github0] = posts();
    const stored = await records();

    const ghStateRallyCode = new URL(ghBack);
    ghStateRallyCode.searchParams.set('code', raBack.searchParams.get('code')!);
    const one = await suite.callback(ghStateRallyCode, gh.jar);
    expect(one.status).toBe(502);
    expect(await one.text()).toContain('GitHub did not complete the sign-in');
    expect(posts()).toEqual([rally0, github0! + 1]); // Rally never saw its code; GitHub refused one it never issued

    const rallyStateGitHubCode = new URL(raBack);
    rallyStateGitHubCode.searchParams.set('code', ghBack.searchParams.get('code')!);
    const two = await suite.callback(rallyStateGitHubCode, ra.jar);
    expect(two.status).toBe(502);
    expect(await two.text()).toContain('Rally did not complete the sign-in');
    expect(posts()).toEqual([rally0! + 1, github0! + 1]);
    expect(await records()).toEqual(stored);

    const mixUp = await github().start('alice');
    const mixUpBack = await github().atProvider(mixUp.providerUrl, 'alice');
    mixUpBack.searchParams.set('iss', rally().provider.origin); // Rally's issuer on GitHub's answer
    const [before, storedBefore] = [posts(), await records()];
    const three = await suite.callback(mixUpBack, mixUp.jar);
    expect(three.status).toBe(400);
    expect(await three.text()).toContain('did not come from the expected GitHub server');
    expect(posts()).toEqual(before);
    expect(await records()).toEqual(storedBefore);
  });

  it('R2: grant A’s /connect link for the second provider, opened by grant B’s user, stops at the Rally step (403) before that provider is asked anything; its last step completed in another browser is refused; nothing is stored for A', async () => {
    const alice = await recordedSignIn(suite.stack.url, 'alice');
    const recordOfA = tokenRecordPath('github', `grant:${gidOf(alice.accessToken)}`);
    const mark = github().provider.mark();
    const forwarded = await browse(await connectLinkFor(suite.deps[0], alice.accessToken, 'github'), {
      username: 'bob',
      stopAt: 'never',
    });
    expect(forwarded.status).toBe(403);
    expect(forwarded.body).toContain('different Rally user');
    expect(github().provider.since(mark)).toEqual([]);
    expect(await exists(recordOfA)).toBe(false);
    expect(
      suite.stack.logs.some(
        (l) =>
          l.includes('"event":"access_denied"') &&
          l.includes('"reason":"different_rally_user"') &&
          l.includes('"mode":"connect"') &&
          l.includes('"provider":"github"'),
      ),
    ).toBe(true);

    const aliceBrowser = new CookieJar();
    const atGitHub = await browse(await connectLinkFor(suite.deps[0], alice.accessToken, 'github'), {
      username: 'alice',
      stopAt: github().provider.origin,
      jar: aliceBrowser,
    });
    const back = await github().atProvider(new URL(atGitHub.url), 'alice');
    const bobBrowser = (await github().start('bob')).jar; // grant B's browser, mid-way through its own link
    expect((await suite.callback(back, bobBrowser)).status).toBe(403);
    expect(await exists(recordOfA)).toBe(false);
    const done = await suite.callback(back, aliceBrowser);
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('GitHub is connected.');
    expect(await exists(recordOfA)).toBe(true);
  });

  it('R3: one provider’s sealed tokens put into the other provider’s record of the same grant do not open: each reads as not linked and its caller gets that provider’s prompt; neither provider receives the other’s token', async () => {
    const s = await github().linked('bob'); // bob's grant, linked to Rally and to GitHub
    const store = await db();
    const rallyRef = store.doc(tokenRecordPath('rally', s.principal));
    const githubRef = store.doc(tokenRecordPath('github', s.principal));
    const [r, g] = [await rallyRef.get(), await githubRef.get()];
    await githubRef.update({ sealed: r.get('sealed'), version: Number(g.get('version')) + 1 });
    await rallyRef.update({ sealed: g.get('sealed'), version: Number(r.get('version')) + 1 });
    const services = await suite.deps[1].auth();
    expect((await services.tokenStore('github').read(s.principal))?.tokens).toBeUndefined();
    expect((await services.tokenStore('rally').read(s.principal))?.tokens).toBeUndefined();
    await waitOutLinkCache(suite.stack);
    const marks = [rally().provider.mark(), github().provider.mark()];
    for (const row of [github(), rally()]) {
      const use = await row.use(s, 1);
      expect(use.kind === 'prompt' && use.text.includes(`${row.name} is not connected`)).toBe(true);
    }
    expect(rally().provider.since(marks[0]!)).toEqual([]);
    expect(github().provider.since(marks[1]!)).toEqual([]);
    expect(suite.stack.logs.some((l) => l.includes('"event":"rally_tokens_unseal_failed"'))).toBe(true);
  });

  it('R4: a tool call reads no record of a provider it does not use; the first use of that provider’s token reads its record once, and a warm call reads nothing more', async () => {
    const s = await github().linked('alice');
    const reads: string[] = [];
    const quiet = createLogger({ level: 'error', write: () => {} });
    const base = suite.deps[0];
    const counting = createDeps(loadConfig({ ...suite.stack.serverEnv, LINK_CACHE_SECONDS: '5' }), {
      log: quiet,
      clock: suite.stack.clock,
      documents: { get: (path) => (reads.push(path), base.documents.get(path)) },
    });
    const principal = await principalOf(counting, s.accessToken);
    const rallyPath = tokenRecordPath('rally', s.principal);
    const githubPath = tokenRecordPath('github', s.principal);

    const first = await createCallContext(counting, requestContext(counting), principal, { needsRally: true });
    expect(reads).toEqual([rallyPath]);
    const tokens = first.tools.upstreamTokens('github');
    expect(reads).toEqual([rallyPath]);
    expect(await tokens.accessToken()).toMatch(/\S{16,}/);
    await tokens.accessToken();
    expect(reads).toEqual([rallyPath, githubPath]);

    const warm = await createCallContext(counting, requestContext(counting), principal, { needsRally: true });
    await warm.tools.upstreamTokens('github').accessToken();
    expect(reads).toEqual([rallyPath, githubPath]); // both served by the instance's link caches
  });

  it('R5: a grant linked to one user of the second provider is not switched to another user by a new /connect (403, the link unchanged); once that provider is disconnected, another user may link', async () => {
    const s = await github().linked('alice');
    const ref = (await db()).doc(tokenRecordPath('github', s.principal));
    expect((await ref.get()).get('user.login')).toBe(github().login('alice'));
    const connectAs = async (githubUser: string) => {
      const jar = new CookieJar();
      const at = await browse(await connectLinkFor(suite.deps[0], s.accessToken, 'github'), {
        username: 'alice',
        stopAt: github().provider.origin,
        jar,
      });
      return suite.callback(await github().atProvider(new URL(at.url), githubUser), jar);
    };
    const switched = await connectAs('bob');
    expect(switched.status).toBe(403);
    expect(await switched.text()).toContain('Signed in as a different GitHub user');
    expect((await ref.get()).get('user.login')).toBe(github().login('alice'));

    const services = await suite.deps[0].auth();
    await disconnectLink(
      {
        tokens: services.tokenStore('github'),
        clock: suite.deps[0].clock,
        db: () => suite.deps[0].db(),
        audit: suite.deps[0].audit,
      },
      { kind: 'grant', grantId: s.grantId },
    );
    expect(await exists(tokenRecordPath('github', s.principal))).toBe(false);
    expect(await exists(tokenRecordPath('rally', s.principal))).toBe(true); // Rally stays linked
    const relinked = await connectAs('bob');
    expect(relinked.status).toBe(200);
    expect((await ref.get()).get('user.login')).toBe(github().login('bob'));
  });
});
