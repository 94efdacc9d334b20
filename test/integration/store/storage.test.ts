/**
 * Token storage and Firestore behaviour (E1, E9, F2, F3, F4, F6, F7): what a
 * full flow leaves in Firestore, read directly from the emulator; single-use
 * records under 50-way concurrency; transaction retries without duplicated
 * side effects; expired records read as absent; oversized input rejected
 * before any write.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Firestore, Transaction } from '@google-cloud/firestore';
import type { Deps } from '../../../shared/services/deps.js';
import { addSeconds, systemClock } from '../../../shared/kernel/clock.js';
import { COLLECTIONS } from '../../../shared/store/collections.js';
import { createAuthCode, redeemAuthCode } from '../../../shared/store/auth-codes.repo.js';
import { consumeAuthRequest, createAuthRequest } from '../../../shared/store/auth-requests.repo.js';
import {
  consumeLinkTransaction,
  createLinkTransaction,
  linkTxPath,
} from '../../../shared/store/link-transactions.repo.js';
import {
  consumeConnectTransaction,
  createConnectTransaction,
} from '../../../shared/store/connect-transactions.repo.js';
import { UpstreamTokenStore } from '../../../shared/upstream-link/link-store.js';
import { grantPrincipal, tokenRecordPath } from '../../../shared/store/upstream-tokens.repo.js';
import { type RallyTokens } from '../../../shared/rally/oauth.js';
import { createLogger } from '../../../shared/logging/logger.js';
import {
  depsFor,
  dumpFirestore,
  refreshCount,
  sandboxOf,
  startTestStack,
  type StoredDoc,
  type TestStack,
} from '../../helpers/stack.js';
import {
  BINDING_COOKIE,
  callTool,
  DEFAULT_REDIRECT,
  pkcePair,
  recordedSignIn,
  registerTestClient,
  resultText,
  signIn,
} from '../../helpers/oauth-flow.js';
import { sha256Id } from '../../../shared/kernel/hash.js';

let stack: TestStack;
let deps: Deps;
let db: Firestore;

beforeAll(async () => {
  stack = await startTestStack({ env: { SESSION_LINK_MODE: 'false' } });
  deps = depsFor(stack);
  db = await deps.db();
});
afterAll(async () => {
  await stack?.stop();
});

const gidOf = (token: string) =>
  (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { gid: string }).gid;
const count = async (collection: string) => (await db.collection(collection).get()).size;
/** What the code fixtures below were issued for, so a redemption passes the L4 checks. */
const sameRequest = { clientId: 'c', redirectUri: DEFAULT_REDIRECT, codeChallenge: 'x'.repeat(43) };
const form = (o: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(o).toString(),
});

describe('E. What Firestore holds after a full flow', () => {
  let docs: StoredDoc[];
  const secrets = new Map<string, string>();
  const remember = (what: string, v: string | null | undefined) => {
    if (v && v.length >= 8) secrets.set(v, what);
  };
  let ours: { access: string; refresh: string; newAccess: string; newRefresh: string; code: string; clientId: string };

  beforeAll(async () => {
    const sandbox = sandboxOf(stack);
    const s = await recordedSignIn(stack.url, 'alice');
    expect((await callTool(stack.mcpUrl, s.accessToken, 'get_rally_user')).status).toBe(200);
    sandbox.expireAccessTokens('alice');
    const r0 = refreshCount(stack);
    expect(
      (await callTool(stack.mcpUrl, s.accessToken, 'get_rally_user')).json.result.structuredContent.user.userName,
    ).toBe('alice@example.com');
    expect(refreshCount(stack) - r0).toBe(1);
    const rotated = await fetch(
      `${stack.url}/token`,
      form({ grant_type: 'refresh_token', refresh_token: s.refreshToken, client_id: s.clientId }),
    );
    const body = (await rotated.json()) as { access_token: string; refresh_token: string };
    expect(rotated.status).toBe(200);
    ours = {
      access: s.accessToken,
      refresh: s.refreshToken,
      newAccess: body.access_token,
      newRefresh: body.refresh_token,
      code: s.code,
      clientId: s.clientId,
    };
    for (const [k, v] of Object.entries(s))
      if (typeof v === 'string' && !['redirectUri', 'scope', 'clientId'].includes(k)) remember(`ours.${k}`, v);
    remember('ours.newAccess', body.access_token);
    remember('ours.newRefresh', body.refresh_token);
    for (const q of sandbox.requests()) {
      remember('rally.zsessionid', q.headers.zsessionid);
      if (q.url.startsWith('/login/oauth2/token')) {
        const b = new URLSearchParams(q.body);
        for (const k of ['code', 'refresh_token', 'code_verifier', 'client_secret']) remember(`rally.${k}`, b.get(k));
      }
    }
    const link = await (await deps.auth()).tokenStore('rally').read(grantPrincipal(gidOf(s.accessToken)));
    remember('rally.current.access', link?.tokens?.accessToken);
    remember('rally.current.refresh', link?.tokens?.refreshToken);
    remember(
      'rally.client_secret.file',
      (await readFile(`${stack.serverEnv.SECRETS_DIR}/rally-client-secret/1`, 'utf8')).trim(),
    );
    docs = await dumpFirestore(db);
  });

  it('E1: no Firestore document contains a Rally token, our token, code, client state, verifier, binding cookie or client secret', () => {
    expect(secrets.size).toBeGreaterThanOrEqual(14);
    expect(docs.length).toBeGreaterThan(5);
    for (const d of docs) {
      for (const [value, what] of secrets) {
        expect({ doc: `${d.collection}/${d.id}`, what, found: d.json.includes(value) || d.id === value }).toEqual({
          doc: `${d.collection}/${d.id}`,
          what,
          found: false,
        });
      }
    }
  });

  it('E9: our refresh tokens and authorization codes are stored only under their SHA-256 (43-char base64url) ids', async () => {
    const refreshIds = docs.filter((d) => d.collection === COLLECTIONS.refreshTokens).map((d) => d.id);
    expect(refreshIds).toEqual(expect.arrayContaining([sha256Id(ours.refresh), sha256Id(ours.newRefresh)]));
    const codeIds = docs.filter((d) => d.collection === COLLECTIONS.authCodes).map((d) => d.id);
    expect(codeIds).toContain(sha256Id(ours.code));
    for (const id of [...refreshIds, ...codeIds]) expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The old refresh record points at its successor by hash only.
    const old = await db.doc(`${COLLECTIONS.refreshTokens}/${sha256Id(ours.refresh)}`).get();
    expect(old.get('supersededBy')).toBe(sha256Id(ours.newRefresh));
    // A dump cannot be replayed: presenting a document id as a refresh token fails.
    const replay = await fetch(
      `${stack.url}/token`,
      form({ grant_type: 'refresh_token', refresh_token: sha256Id(ours.newRefresh), client_id: ours.clientId }),
    );
    expect(replay.status).toBe(400);
    expect(((await replay.json()) as { error: string }).error).toBe('invalid_grant');
  });

  it('F6: every document id the flow created is a 43-character base64url string; every TTL field is exempt from indexing', async () => {
    for (const d of docs)
      expect({ doc: `${d.collection}/${d.id}`, ok: /^[A-Za-z0-9_-]{43}$/.test(d.id) }).toEqual({
        doc: `${d.collection}/${d.id}`,
        ok: true,
      });
    const indexes = JSON.parse(await readFile(new URL('../../../firestore.indexes.json', import.meta.url), 'utf8')) as {
      fieldOverrides: Array<{ collectionGroup: string; fieldPath: string; ttl?: boolean; indexes: unknown[] }>;
    };
    for (const collection of Object.values(COLLECTIONS)) {
      const o = indexes.fieldOverrides.find((f) => f.collectionGroup === collection && f.fieldPath === 'expiresAt');
      expect({ collection, ttl: o?.ttl, indexes: o?.indexes }).toEqual({ collection, ttl: true, indexes: [] });
    }
  });
});

describe('F2. Expired records read as absent', () => {
  it('F2: an expired authorization code (not yet swept) → invalid_grant at /token, and the record is not marked used', async () => {
    const s = await signIn(stack.url, 'bob');
    const clientId = s.clientId;
    const code = randomBytes(32).toString('base64url');
    const { verifier, challenge } = pkcePair();
    const now = new Date();
    await createAuthCode(db, code, {
      grantId: gidOf(s.accessToken),
      sub: 'rally:1',
      clientId,
      redirectUri: DEFAULT_REDIRECT,
      codeChallenge: challenge,
      scopes: ['rally.read'],
      resource: stack.mcpUrl,
      createdAt: addSeconds(now, -61),
      expiresAt: addSeconds(now, -1),
    });
    const res = await fetch(
      `${stack.url}/token`,
      form({
        grant_type: 'authorization_code',
        code,
        redirect_uri: DEFAULT_REDIRECT,
        code_verifier: verifier,
        client_id: clientId,
      }),
    );
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');
    expect((await db.doc(`${COLLECTIONS.authCodes}/${sha256Id(code)}`).get()).get('usedAt')).toBeUndefined();
  });

  it('F2: an expired link transaction with the right browser cookie → 400 at the callback, no Rally token request, record deleted', async () => {
    const { sealer } = await deps.auth();
    const state = randomBytes(32).toString('base64url');
    const browser = randomBytes(32).toString('base64url');
    const now = new Date();
    await createLinkTransaction(db, state, {
      kind: 'authorize',
      browserHash: sha256Id(browser),
      clientId: 'c',
      redirectUri: DEFAULT_REDIRECT,
      codeChallenge: 'x'.repeat(43),
      scopes: ['rally.read'],
      resource: stack.mcpUrl,
      sealed: await sealer.seal(JSON.stringify({ rallyVerifier: 'v'.repeat(43) }), linkTxPath(state)),
      createdAt: addSeconds(now, -601),
      expiresAt: addSeconds(now, -1),
    });
    const r0 = sandboxOf(stack).stats().tokenRequests.authorization_code ?? 0;
    const res = await fetch(`${stack.url}/oauth/callback?code=abc&state=${state}`, {
      redirect: 'manual',
      headers: { cookie: `${BINDING_COOKIE}=${browser}` },
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('This sign-in link has expired');
    expect(sandboxOf(stack).stats().tokenRequests.authorization_code ?? 0).toBe(r0);
    expect((await db.doc(linkTxPath(state)).get()).exists).toBe(false);
  });

  it('F2 (B5 clock): a link transaction read 10 min + 1 s after creation by the injected clock is refused; at 9 min 59 s it is accepted', async () => {
    const t0 = new Date();
    const browser = randomBytes(32).toString('base64url');
    const make = async () => {
      const state = randomBytes(32).toString('base64url');
      await createLinkTransaction(db, state, {
        kind: 'relink',
        browserHash: sha256Id(browser),
        grantId: 'g',
        sub: 's',
        sealed: 'x',
        createdAt: t0,
        expiresAt: addSeconds(t0, 600),
      });
      return state;
    };
    const late = await make();
    const inTime = await make();
    expect(await consumeLinkTransaction(db, late, browser, addSeconds(t0, 601))).toEqual({
      ok: false,
      reason: 'expired',
    });
    expect((await db.doc(linkTxPath(late)).get()).exists).toBe(false);
    expect((await consumeLinkTransaction(db, inTime, browser, addSeconds(t0, 599))).ok).toBe(true);
  });

  it('F2: an expired auth request → consent POST 403 and no link transaction', async () => {
    const requestId = randomBytes(24).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    const now = new Date();
    await createAuthRequest(db, requestId, {
      clientId: 'c',
      clientName: 'n',
      redirectUri: DEFAULT_REDIRECT,
      codeChallenge: 'x'.repeat(43),
      scopes: ['rally.read'],
      resource: stack.mcpUrl,
      csrfHash: sha256Id(csrf),
      createdAt: addSeconds(now, -601),
      expiresAt: addSeconds(now, -1),
    });
    const before = await count(COLLECTIONS.linkTransactions);
    const res = await fetch(`${stack.url}/consent`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: stack.url,
        'sec-fetch-site': 'same-origin',
      },
      body: new URLSearchParams({ request_id: requestId, csrf, decision: 'allow' }).toString(),
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('location')).toBeNull();
    expect(await count(COLLECTIONS.linkTransactions)).toBe(before);
  });

  it('F2: an expired refresh token record → invalid_grant', async () => {
    const s = await signIn(stack.url, 'bob');
    await db
      .doc(`${COLLECTIONS.refreshTokens}/${sha256Id(s.refreshToken)}`)
      .update({ expiresAt: addSeconds(new Date(), -1) });
    const res = await fetch(
      `${stack.url}/token`,
      form({ grant_type: 'refresh_token', refresh_token: s.refreshToken, client_id: s.clientId }),
    );
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');
  });

  it('F2: an expired rally_tokens record (TTL not yet swept) is treated as absent: no Rally request with it, the user is asked to link again', async () => {
    const s = await signIn(stack.url, 'bob');
    const ref = db.doc(tokenRecordPath('rally', grantPrincipal(gidOf(s.accessToken))));
    expect((await ref.get()).exists).toBe(true);
    await ref.update({ expiresAt: addSeconds(new Date(), -1) });
    const sandbox = sandboxOf(stack);
    sandbox.clearRequests();
    const r = await callTool(stack.mcpUrl, s.accessToken, 'get_rally_user');
    expect(sandbox.requests().filter((q) => q.url.startsWith('/slm/webservice/'))).toEqual([]);
    expect(r.json.result?.isError).toBe(true);
    expect(resultText(r.json)).toMatch(/\/connect\/[A-Za-z0-9_-]{43}/);
  });
});

describe('F3. Consume-once under 50-way concurrency (emulator)', () => {
  const N = 50;
  const settle = async <T>(fn: () => Promise<T>) => Promise.allSettled(Array.from({ length: N }, fn));

  it('F3: one link transaction consumed by 50 parallel callers → exactly one success', async () => {
    const state = randomBytes(32).toString('base64url');
    const browser = randomBytes(32).toString('base64url');
    const now = new Date();
    await createLinkTransaction(db, state, {
      kind: 'relink',
      browserHash: sha256Id(browser),
      grantId: 'g',
      sub: 's',
      sealed: 'x',
      createdAt: now,
      expiresAt: addSeconds(now, 600),
    });
    const results = await settle(() => consumeLinkTransaction(db, state, browser, new Date()));
    expect(results.filter((r) => r.status === 'fulfilled' && r.value.ok)).toHaveLength(1);
    expect((await db.doc(linkTxPath(state)).get()).exists).toBe(false);
  });

  it('F3: one authorization code redeemed by 50 parallel callers → exactly one success', async () => {
    const code = randomBytes(32).toString('base64url');
    const now = new Date();
    await createAuthCode(db, code, {
      grantId: 'g',
      sub: 's',
      clientId: 'c',
      redirectUri: DEFAULT_REDIRECT,
      codeChallenge: 'x'.repeat(43),
      scopes: [],
      resource: 'r',
      createdAt: now,
      expiresAt: addSeconds(now, 60),
    });
    const results = await settle(() => redeemAuthCode(db, code, sameRequest, new Date()));
    expect(results.filter((r) => r.status === 'fulfilled' && r.value.ok)).toHaveLength(1);
  });

  it('F3: one auth request consumed by 50 parallel consent posts → exactly one success', async () => {
    const requestId = randomBytes(24).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    const now = new Date();
    await createAuthRequest(db, requestId, {
      clientId: 'c',
      clientName: 'n',
      redirectUri: DEFAULT_REDIRECT,
      codeChallenge: 'x'.repeat(43),
      scopes: [],
      resource: 'r',
      csrfHash: sha256Id(csrf),
      createdAt: now,
      expiresAt: addSeconds(now, 600),
    });
    const results = await settle(() => consumeAuthRequest(db, requestId, csrf, new Date()));
    expect(results.filter((r) => r.status === 'fulfilled' && r.value.ok)).toHaveLength(1);
  });

  it('F3: one connect link consumed by 50 parallel callers → exactly one success', async () => {
    const id = randomBytes(32).toString('base64url');
    const now = new Date();
    await createConnectTransaction(db, id, {
      kind: 'relink',
      grantId: 'g',
      sub: 's',
      clientName: 'n',
      verificationCode: 'AAA-BBB',
      createdAt: now,
      expiresAt: addSeconds(now, 600),
    });
    const results = await settle(() => consumeConnectTransaction(db, id, new Date()));
    expect(results.filter((r) => r.status === 'fulfilled' && r.value !== undefined)).toHaveLength(1);
  });
});

describe('F4. Transaction retries', () => {
  /** The real Firestore, except that the first attempt of every transaction fails with ABORTED after its callback ran (what a conflicting write causes). */
  function conflicting(real: Firestore) {
    const stats = { callbacks: 0, injected: 0, inTransaction: 0 };
    const db = new Proxy(real, {
      get(target, prop) {
        if (prop === 'runTransaction') {
          return <T>(fn: (t: Transaction) => Promise<T>, opts?: object) => {
            let attempt = 0;
            return target.runTransaction(async (t) => {
              attempt++;
              stats.callbacks++;
              stats.inTransaction++;
              try {
                const out = await fn(t);
                if (attempt === 1) {
                  stats.injected++;
                  throw Object.assign(new Error('10 ABORTED: injected conflicting write'), { code: 10 });
                }
                return out;
              } finally {
                stats.inTransaction--;
              }
            }, opts);
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    return { db, stats };
  }

  it('F4: a refresh whose transactions are all forced to retry calls Rally exactly once, outside any transaction, and bumps the version once', async () => {
    const { sealer } = await deps.auth();
    const { db: wrapped, stats } = conflicting(db);
    const store = new UpstreamTokenStore({
      provider: 'rally',
      db: async () => wrapped,
      documents: deps.documents,
      sealer,
      clock: systemClock,
      log: createLogger({ write: () => {} }),
      ttlSeconds: 3600,
    });
    const principal = grantPrincipal(`f4-${randomBytes(8).toString('hex')}`);
    const initial: RallyTokens = {
      accessToken: 'old-access-token',
      refreshToken: 'old-refresh-token',
      accessExpiresAt: addSeconds(new Date(), -10),
    };
    await store.link(principal, 'grant', initial, { id: '1', login: 'f4@example.com' });
    const linked = await store.read(principal);
    expect(linked?.version).toBe(1);
    let refresherCalls = 0;
    let transactionsOpenDuringRefresh = -1;
    const refreshed = await store.refresh(linked!, async (rt) => {
      refresherCalls++;
      transactionsOpenDuringRefresh = stats.inTransaction;
      expect(rt).toBe('old-refresh-token');
      return {
        accessToken: 'new-access-token',
        refreshToken: 'new-refresh-token',
        accessExpiresAt: addSeconds(new Date(), 3600),
      };
    });
    expect(stats.injected).toBeGreaterThanOrEqual(3); // link, lease, store: each retried once
    expect(stats.callbacks).toBeGreaterThanOrEqual(6);
    expect(refresherCalls).toBe(1);
    expect(transactionsOpenDuringRefresh).toBe(0);
    expect(refreshed.tokens?.accessToken).toBe('new-access-token');
    const doc = await db.doc(tokenRecordPath('rally', principal)).get();
    expect(doc.get('version')).toBe(2);
    expect(doc.get('leaseHolder') ?? undefined).toBeUndefined(); // cleared (null or absent)
    const again = await store.read(principal);
    expect(again?.tokens?.refreshToken).toBe('new-refresh-token');
  });

  it('F4: an authorization code is redeemed with a precondition write, not a transaction: a conflicting write makes the loser a reuse, never a second success', async () => {
    const { db: wrapped, stats } = conflicting(db);
    const code = randomBytes(32).toString('base64url');
    const now = new Date();
    await createAuthCode(db, code, {
      grantId: 'g',
      sub: 's',
      clientId: 'c',
      redirectUri: DEFAULT_REDIRECT,
      codeChallenge: 'x'.repeat(43),
      scopes: [],
      resource: 'r',
      createdAt: now,
      expiresAt: addSeconds(now, 60),
    });
    const results = await Promise.all(
      Array.from({ length: 10 }, () => redeemAuthCode(wrapped, code, sameRequest, new Date())),
    );
    expect(stats.callbacks).toBe(0); // no transaction callback to re-run
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok)).toEqual(
      Array.from({ length: 9 }, () => ({ ok: false, reason: 'reused', grantId: 'g' })),
    );
    expect(await redeemAuthCode(db, code, sameRequest, new Date())).toEqual({
      ok: false,
      reason: 'reused',
      grantId: 'g',
    });
  });
});

describe('F7. Oversized input is rejected before any write', () => {
  it('F7: oversized DCR metadata → 400 invalid_client_metadata and no client stored', async () => {
    const before = await count(COLLECTIONS.clients);
    const cases = [
      { client_name: 'n'.repeat(5000), redirect_uris: [DEFAULT_REDIRECT] },
      { client_name: 'ok', redirect_uris: [DEFAULT_REDIRECT], padding: 'p'.repeat(20_000) },
      { client_name: 'ok', redirect_uris: Array.from({ length: 50 }, (_, i) => `http://127.0.0.1:${1000 + i}/cb`) },
      { client_name: 'ok', redirect_uris: [`http://127.0.0.1:1/${'a'.repeat(600)}`] },
      { client_name: 'ok', redirect_uris: [DEFAULT_REDIRECT], scope: 'rally.read '.repeat(100) },
    ];
    for (const body of cases) {
      const res = await fetch(`${stack.url}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect({ keys: Object.keys(body), status: res.status }).toEqual({ keys: Object.keys(body), status: 400 });
      expect(((await res.json()) as { error: string }).error).toBe('invalid_client_metadata');
    }
    expect(await count(COLLECTIONS.clients)).toBe(before);
  });

  it('F7: a huge scope or state at /authorize → error redirect to the client and no auth request stored; repeated valid scopes are stored deduplicated', async () => {
    const clientId = await registerTestClient(stack.url, DEFAULT_REDIRECT);
    const { challenge } = pkcePair();
    const authorize = (extra: Record<string, string>) => {
      const u = new URL(`${stack.url}/authorize`);
      for (const [k, v] of Object.entries({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: DEFAULT_REDIRECT,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        ...extra,
      }))
        u.searchParams.set(k, v);
      return fetch(u, { redirect: 'manual' });
    };
    const before = await count(COLLECTIONS.authRequests);
    const hugeScope = await authorize({ scope: `rally.read ${'x'.repeat(6000)}` });
    expect(hugeScope.status).toBe(302);
    expect(new URL(hugeScope.headers.get('location') ?? '').searchParams.get('error')).toBe('invalid_scope');
    const hugeState = await authorize({ state: 's'.repeat(6000) });
    expect(hugeState.status).toBe(302);
    expect(new URL(hugeState.headers.get('location') ?? '').searchParams.get('error')).toBe('invalid_request');
    expect(await count(COLLECTIONS.authRequests)).toBe(before);
    const repeated = await authorize({ scope: Array.from({ length: 400 }, () => 'rally.read').join(' ') });
    expect(repeated.status).toBe(200);
    await repeated.text();
    const stored = (await db.collection(COLLECTIONS.authRequests).get()).docs
      .map((d) => d.data())
      .filter((d) => d.clientId === clientId);
    expect(stored).toHaveLength(1);
    expect(stored[0]?.scopes).toEqual(['rally.read']);
    expect(JSON.stringify(stored[0]).length).toBeLessThan(4096);
  });
});
