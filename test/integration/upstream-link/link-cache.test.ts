/**
 * The token store's link cache (LINK_CACHE_SECONDS) against the real
 * emulator: a burst of tool calls costs one Firestore read; whatever this
 * instance changes is seen at once; what another instance or function
 * changes (revocation, disconnect) is seen within the window, never later;
 * absence and unusable links are never cached. Two stores on one Firestore
 * play two instances; one injected clock drives both.
 */
import { jest } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Firestore } from '@google-cloud/firestore';
import { createDeps } from '../../../shared/app/deps.js';
import { addSeconds } from '../../../shared/kernel/clock.js';
import { loadConfig } from '../../../shared/config/config.js';
import { createLogger } from '../../../shared/logging/logger.js';
import type { Sealer } from '../../../shared/crypto/sealer.js';
import { LinkRequiredError } from '../../../shared/upstream/link-required.js';
import type { DocumentReader } from '../../../shared/store/firestore-rest.js';
import { createGrant, revokeGrant } from '../../../shared/store/grants.repo.js';
import { UpstreamTokenStore } from '../../../shared/upstream-link/link-store.js';
import { grantPrincipal, tokenRecordPath } from '../../../shared/store/upstream-tokens.repo.js';
import { LINK_EPOCH_PATH } from '../../../shared/store/link-epoch.repo.js';
import { RECORD_MAX_AGE_SECONDS } from '../../../shared/upstream-link/link-cache.js';
import { UpstreamRefreshRejected, type UpstreamTokens as RallyTokens } from '../../../shared/upstream/provider.js';
import { ensureLocalKeys } from '../../../dev/local-keys.js';
import { demoProjectId, emulatorHost } from '../../helpers/env.js';
import { FakeClock } from '../../helpers/clock.js';
import { until } from '../../helpers/poll.js';

jest.setTimeout(60_000);

const CACHE_SECONDS = 5;
const clock = new FakeClock();
const advance = (seconds: number) => clock.advanceSeconds(seconds);

let db: Firestore;
let documents: DocumentReader;
let sealer: Sealer;

beforeAll(async () => {
  const keys = mkdtempSync(join(tmpdir(), 'link-cache-keys-'));
  await ensureLocalKeys(keys, { rallyClientSecret: randomBytes(21).toString('hex') });
  const config = loadConfig({
    NODE_ENV: 'development',
    PUBLIC_BASE_URL: 'http://127.0.0.1:1',
    GOOGLE_CLOUD_PROJECT: demoProjectId(),
    RALLY_CLIENT_ID: 'c',
    FIRESTORE_EMULATOR_HOST: emulatorHost(),
    SECRET_SOURCE: 'file',
    SECRETS_DIR: keys,
  });
  const deps = createDeps(config, { log: createLogger({ write: () => {} }), clock });
  db = await deps.db();
  documents = deps.documents;
  sealer = (await deps.auth()).sealer;
});
afterAll(async () => {
  await db?.terminate();
});

/**
 * One "instance": its own store, counting its Firestore reads of token records and its unseals
 * (`counts`), and its reads of the link epoch (`epochReads`). With `hold`, each read is sent at
 * once but its answer waits for that promise; with `failEpoch`, reads of the epoch fail.
 */
function instance(
  o: { cacheSeconds?: number; ttlSeconds?: number; hold?: () => Promise<void>; failEpoch?: () => boolean } = {},
) {
  const counts = { reads: 0, unseals: 0 };
  const epoch = { reads: 0 };
  /** Every read's answer and every unseal, to wait for work the store does beside a call. */
  const work: Array<Promise<unknown>> = [];
  const countingDocuments: DocumentReader = {
    get: (path) => {
      if (path === LINK_EPOCH_PATH) {
        epoch.reads++;
        if (o.failEpoch?.()) return Promise.reject(new Error('the epoch read failed'));
      } else counts.reads++;
      const answer = documents.get(path);
      const held = o.hold ? o.hold().then(() => answer) : answer;
      work.push(held.catch(() => {}));
      return held;
    },
  };
  const countingSealer: Sealer = {
    ...sealer,
    seal: (p, b) => sealer.seal(p, b),
    unseal: (s, b) => {
      counts.unseals++;
      const opened = sealer.unseal(s, b);
      work.push(opened.catch(() => {}));
      return opened;
    },
  };
  const store = new UpstreamTokenStore({
    provider: 'rally',
    db: async () => db,
    documents: countingDocuments,
    sealer: countingSealer,
    clock,
    log: createLogger({ write: () => {} }),
    ttlSeconds: o.ttlSeconds ?? 3600,
    cacheSeconds: o.cacheSeconds ?? CACHE_SECONDS,
  });
  /** Resolves once the reads and unseals started so far are over, and what follows them in the same turn. */
  const settled = async () => {
    for (let seen = -1; seen !== work.length;) {
      seen = work.length;
      await Promise.all(work);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };
  /** Reads every principal once after the instance has read the epoch, so each copy carries its tag. */
  const warm = async (...principals: string[]) => {
    if (epoch.reads === 0) {
      // A copy that needs confirming starts the instance's first read of the epoch.
      const bootstrap = newPrincipal();
      await store.link(bootstrap, 'grant', tokens('bootstrap'), alice);
      await store.read(bootstrap);
      advance(CACHE_SECONDS);
      await store.read(bootstrap);
      await settled();
      counts.reads -= 2; // those record reads are the bootstrap's, not the test's
      counts.unseals -= 1;
    }
    for (const p of principals) await store.read(p);
  };
  return {
    store,
    counts,
    settled,
    warm,
    get epochReads() {
      return epoch.reads;
    },
  };
}

const alice = { id: '4101', login: 'alice@example.com' };
const tokens = (tag: string): RallyTokens => ({
  accessToken: `access-${tag}`,
  refreshToken: `refresh-${tag}`,
  accessExpiresAt: addSeconds(clock.now(), 3600),
});
const newPrincipal = () => grantPrincipal(`cache-${randomBytes(8).toString('hex')}`);

/** A grant that `revokeGrant` can revoke, and its principal. */
async function activeGrant(): Promise<string> {
  const principal = newPrincipal();
  await createGrant(db, {
    grantId: principal.slice('grant:'.length),
    sub: 'rally:4101',
    clientId: 'c',
    clientName: 'x',
    scopes: ['rally.read'],
    status: 'active',
    createdAt: clock.now(),
    expiresAt: addSeconds(clock.now(), 3600),
  });
  return principal;
}

describe('link cache', () => {
  it('a burst within the window costs one Firestore read and one unseal; after the window it reads again but does not unseal an unchanged version', async () => {
    const { store, counts } = instance();
    const p = newPrincipal();
    await store.link(p, 'grant', tokens('a'), alice);
    for (let i = 0; i < 5; i++) {
      expect((await store.read(p))?.tokens?.accessToken).toBe('access-a');
      advance(0.9);
    }
    expect(counts).toEqual({ reads: 1, unseals: 1 });
    advance(1); // 5.5 s after the first read
    expect((await store.read(p))?.tokens?.accessToken).toBe('access-a');
    expect(counts).toEqual({ reads: 2, unseals: 1 });
  });

  it('a call in the last fifth of the window gets the copy at once and the link is re-read beside it: a principal that keeps calling never waits for a read', async () => {
    const { store, counts, settled } = instance();
    const p = newPrincipal();
    await store.link(p, 'grant', tokens('a'), alice);
    expect((await store.read(p))?.tokens?.accessToken).toBe('access-a');
    advance(3.9);
    expect((await store.read(p))?.tokens?.accessToken).toBe('access-a');
    expect(counts.reads).toBe(1); // not yet due
    advance(0.3); // 4.2 s: due
    expect((await store.read(p))?.tokens?.accessToken).toBe('access-a');
    expect((await store.read(p))?.tokens?.accessToken).toBe('access-a'); // one re-read at a time
    await settled();
    expect(counts.reads).toBe(2);
    advance(1.3); // 5.5 s after the first read, 1.3 s after the re-read: still fresh
    expect((await store.read(p))?.tokens?.accessToken).toBe('access-a');
    expect(counts).toEqual({ reads: 2, unseals: 1 });
  });

  it('a re-read under way does not bring back a link this instance disconnects meanwhile', async () => {
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding = false;
    const { store, counts, settled } = instance({ hold: () => (holding ? held : Promise.resolve()) });
    const p = newPrincipal();
    await store.link(p, 'grant', tokens('d'), alice);
    await store.read(p);
    advance(4.5);
    holding = true;
    expect((await store.read(p))?.tokens).toBeDefined(); // starts the re-read, which reads the linked record
    await until(() => counts.reads === 2, 'the re-read to be sent');
    holding = false;
    await store.remove(p); // the disconnect lands while the re-read's answer (the old record) is held
    release();
    await settled(); // the re-read has its answer, and has stored it or not
    expect(await store.read(p)).toBeUndefined();
    expect(counts.reads).toBe(3);
  });

  it('absence and unusable links are never cached: a link another instance stores is seen on the very next read', async () => {
    const a = instance();
    const b = instance();
    const p = newPrincipal();
    expect(await a.store.read(p)).toBeUndefined();
    await b.store.link(p, 'grant', tokens('b'), alice);
    expect((await a.store.read(p))?.tokens?.accessToken).toBe('access-b');
    expect(a.counts.reads).toBe(2);
  });

  it('what this instance changes is seen at once: a refresh (new tokens, no read), a re-link, a disconnect', async () => {
    const { store, counts } = instance();
    const p = newPrincipal();
    await store.link(p, 'grant', tokens('1'), alice);
    const first = (await store.read(p))!;
    const refreshed = await store.refresh(first, async () => tokens('2'));
    expect(refreshed.tokens?.accessToken).toBe('access-2');
    expect((await store.read(p))?.tokens?.accessToken).toBe('access-2');
    expect(counts.reads).toBe(1); // the refresh wrote the new copy; no read needed
    await store.link(p, 'grant', tokens('3'), alice);
    expect((await store.read(p))?.tokens?.accessToken).toBe('access-3');
    await store.remove(p);
    expect(await store.read(p)).toBeUndefined();
  });

  it('a revocation or a disconnect made elsewhere reaches a warm instance within the window, never later', async () => {
    const warm = instance();
    const elsewhere = instance();
    const revoked = await activeGrant();
    const grantId = revoked.slice('grant:'.length);
    const disconnected = newPrincipal();
    for (const p of [revoked, disconnected]) {
      await elsewhere.store.link(p, 'grant', tokens('x'), alice);
      expect((await warm.store.read(p))?.tokens).toBeDefined();
    }
    expect(await revokeGrant(db, grantId, clock.now())).toBe(true); // the authorization function's revocation
    await elsewhere.store.remove(disconnected); // another MCP instance's disconnect
    advance(CACHE_SECONDS - 0.5);
    expect((await warm.store.read(revoked))?.tokens).toBeDefined(); // the documented window (RFC 7009 §2.2)
    advance(0.5);
    expect(await warm.store.read(revoked)).toBeUndefined();
    expect(await warm.store.read(disconnected)).toBeUndefined();
  });

  it('a refresh that Rally rejects drops the copy: the next read goes to Firestore and finds the link unusable', async () => {
    const { store, counts } = instance();
    const p = newPrincipal();
    await store.link(p, 'grant', tokens('r'), alice);
    const link = (await store.read(p))!;
    await expect(
      store.refresh(link, async () => Promise.reject(new UpstreamRefreshRejected('rally'))),
    ).rejects.toBeInstanceOf(LinkRequiredError);
    const after = await store.read(p);
    expect(after).toMatchObject({ status: 'refresh_failed', tokens: undefined });
    expect(counts.reads).toBe(2);
    expect((await store.read(p))?.tokens).toBeUndefined();
    expect(counts.reads).toBe(3); // unusable: not cached
  });

  it('a link another instance marked unusable (refresh rejected, same version) is not revived from the copy after the window', async () => {
    const warm = instance();
    const elsewhere = instance();
    const p = newPrincipal();
    await elsewhere.store.link(p, 'grant', tokens('f'), alice);
    const seen = (await warm.store.read(p))!;
    await expect(
      elsewhere.store.refresh(seen, async () => Promise.reject(new UpstreamRefreshRejected('rally'))),
    ).rejects.toBeInstanceOf(LinkRequiredError);
    advance(CACHE_SECONDS);
    expect(await warm.store.read(p)).toMatchObject({
      status: 'refresh_failed',
      version: seen.version,
      tokens: undefined,
    });
  });

  it('a copy never outlives the record itself (F2), even inside the window', async () => {
    const { store } = instance({ ttlSeconds: 3 });
    const p = newPrincipal();
    await store.link(p, 'grant', tokens('t'), alice);
    advance(1);
    expect((await store.read(p))?.tokens).toBeDefined();
    advance(2.5); // the record expired 0.5 s ago; the copy is 2.5 s old
    expect(await store.read(p)).toBeUndefined();
  });

  it('LINK_CACHE_SECONDS=0 reads Firestore on every call', async () => {
    const { store, counts } = instance({ cacheSeconds: 0 });
    const p = newPrincipal();
    await store.link(p, 'grant', tokens('z'), alice);
    for (let i = 0; i < 3; i++) expect((await store.read(p))?.tokens?.accessToken).toBe('access-z');
    expect(counts).toEqual({ reads: 3, unseals: 1 });
  });

  describe('D10: through the link epoch (one read confirms every copy of the instance; revokeGrant shares endGrantLinks with the reused-refresh-token revocation)', () => {
    it('after the window, one read of the epoch confirms all the copies: 20 principals, 1 read, no token record read, no unseal', async () => {
      const i = instance();
      const { store, counts, settled, warm } = i;
      const principals = Array.from({ length: 20 }, newPrincipal);
      for (const p of principals) await store.link(p, 'grant', tokens(p), alice);
      await warm(...principals);
      expect(counts).toEqual({ reads: 20, unseals: 20 });
      const epochBefore = i.epochReads;
      advance(CACHE_SECONDS + 2);
      const links = await Promise.all(principals.map((p) => store.read(p)));
      expect(links.map((l) => l?.tokens?.accessToken)).toEqual(principals.map((p) => `access-${p}`));
      await settled();
      expect(i.epochReads - epochBefore).toBe(1);
      expect(counts).toEqual({ reads: 20, unseals: 20 });
    });

    it.each([
      ['the grant revoked (the authorization function)', 'revoke'],
      ['a disconnect on another instance', 'disconnect'],
      ['a refresh the provider refused on another instance', 'refresh_refused'],
    ] as const)(
      'a link ended elsewhere (%s) replaces the tag: the copy is read again once its window ends, never later',
      async (_, how) => {
        const warmInstance = instance();
        const elsewhere = instance();
        const p = await activeGrant();
        const bystander = newPrincipal();
        for (const q of [p, bystander]) await elsewhere.store.link(q, 'grant', tokens('e'), alice);
        await warmInstance.warm(p, bystander);
        advance(CACHE_SECONDS + 1);
        expect((await warmInstance.store.read(p))?.tokens).toBeDefined(); // confirmed through the epoch, no record read
        expect(warmInstance.counts.reads).toBe(2);
        if (how === 'revoke') expect(await revokeGrant(db, p.slice('grant:'.length), clock.now())).toBe(true);
        else if (how === 'disconnect') await elsewhere.store.remove(p);
        else {
          const seen = (await elsewhere.store.read(p))!;
          await expect(
            elsewhere.store.refresh(seen, async () => Promise.reject(new UpstreamRefreshRejected('rally'))),
          ).rejects.toBeInstanceOf(LinkRequiredError);
        }
        advance(CACHE_SECONDS - 0.5);
        expect((await warmInstance.store.read(p))?.tokens).toBeDefined(); // the documented window (RFC 7009 §2.2)
        advance(0.5);
        const after = await warmInstance.store.read(p);
        expect(after?.tokens).toBeUndefined();
        if (how === 'refresh_refused') expect(after?.status).toBe('refresh_failed');
        // Every copy of the instance is read again once, including the bystander's, which is still linked.
        expect((await warmInstance.store.read(bystander))?.tokens?.accessToken).toBe('access-e');
        expect(warmInstance.counts.reads).toBe(4);
      },
    );

    it('in the last fifth of the window the epoch is read beside the call: a principal that keeps calling never waits', async () => {
      const i = instance();
      const { store, counts, settled, warm } = i;
      const p = newPrincipal();
      await store.link(p, 'grant', tokens('k'), alice);
      await warm(p);
      const before = i.epochReads;
      advance(CACHE_SECONDS * 0.85);
      expect((await store.read(p))?.tokens).toBeDefined();
      expect((await store.read(p))?.tokens).toBeDefined(); // one read of the epoch at a time
      await settled();
      expect(i.epochReads - before).toBe(1);
      advance(CACHE_SECONDS * 0.5); // 1.35 windows after the record read, 0.5 after the epoch's
      expect((await store.read(p))?.tokens).toBeDefined();
      await settled();
      expect(i.epochReads - before).toBe(1);
      expect(counts.reads).toBe(1);
    });

    it(`a record changed by hand, without the tag (the console), is seen within RECORD_MAX_AGE_SECONDS (${RECORD_MAX_AGE_SECONDS} s), never later`, async () => {
      const { store, counts, warm } = instance();
      const p = newPrincipal();
      await store.link(p, 'grant', tokens('h'), alice);
      await warm(p);
      await db.doc(tokenRecordPath('rally', p)).delete(); // not through the product: the tag stays
      advance(CACHE_SECONDS + 1);
      expect((await store.read(p))?.tokens).toBeDefined();
      advance(RECORD_MAX_AGE_SECONDS - CACHE_SECONDS - 1.5); // 0.5 s before the record age limit
      expect((await store.read(p))?.tokens).toBeDefined();
      advance(0.5);
      expect(await store.read(p)).toBeUndefined();
      expect(counts.reads).toBeGreaterThanOrEqual(2);
    });

    it('a failed read of the epoch confirms nothing: the token record is read instead', async () => {
      let failing = false;
      const i = instance({ failEpoch: () => failing });
      const { store, counts, warm } = i;
      const p = newPrincipal();
      await store.link(p, 'grant', tokens('f'), alice);
      await warm(p);
      failing = true;
      const before = i.epochReads;
      advance(CACHE_SECONDS + 1);
      expect((await store.read(p))?.tokens?.accessToken).toBe('access-f');
      expect(i.epochReads - before).toBe(1);
      expect(counts.reads).toBe(2);
    });

    it('a malformed epoch document confirms nothing (fail closed): the token record is read', async () => {
      // The emulator's project is this file's own: writing the epoch document touches no other test.
      const { store, counts, warm } = instance();
      const p = newPrincipal();
      await store.link(p, 'grant', tokens('m'), alice);
      await warm(p);
      const current = (await db.doc(LINK_EPOCH_PATH).get()).data();
      await db.doc(LINK_EPOCH_PATH).set({ tag: 42 });
      try {
        advance(CACHE_SECONDS + 1);
        expect((await store.read(p))?.tokens).toBeDefined();
        expect(counts.reads).toBe(2);
      } finally {
        if (current) await db.doc(LINK_EPOCH_PATH).set(current);
        else await db.doc(LINK_EPOCH_PATH).delete();
      }
    });

    it("a cold instance's first calls read only their links: the epoch is first read when a copy first needs confirming", async () => {
      const i = instance();
      const p = newPrincipal();
      await i.store.link(p, 'grant', tokens('c'), alice);
      expect((await i.store.read(p))?.tokens).toBeDefined();
      await i.settled();
      expect(i.epochReads).toBe(0);
      advance(CACHE_SECONDS);
      expect((await i.store.read(p))?.tokens).toBeDefined(); // the record again (its copy has no tag), and the epoch beside it
      await i.settled();
      expect(i.epochReads).toBe(1);
      expect(i.counts.reads).toBe(2);
      advance(CACHE_SECONDS);
      expect((await i.store.read(p))?.tokens).toBeDefined(); // the record once more: this read began after the tag was known
      await i.settled();
      expect(i.counts.reads).toBe(3);
      advance(CACHE_SECONDS);
      expect((await i.store.read(p))?.tokens).toBeDefined(); // from now on, confirmed through the epoch
      await i.settled();
      expect(i.epochReads).toBe(2);
      expect(i.counts.reads).toBe(3);
    });

    it('LINK_CACHE_SECONDS=0 never reads the epoch', async () => {
      const i = instance({ cacheSeconds: 0 });
      const { store, counts } = i;
      const p = newPrincipal();
      await store.link(p, 'grant', tokens('0'), alice);
      for (let n = 0; n < 3; n++) expect((await store.read(p))?.tokens).toBeDefined();
      expect(counts.reads).toBe(3);
      expect(i.epochReads).toBe(0);
    });
  });
});
