/**
 * The Firestore rate limiter against the real emulator: exact counts under
 * concurrency in one process and across two processes, hashed document ids,
 * TTL fields and window roll-over. The clock is injected, so the window
 * never rolls over mid-test.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { Firestore } from '@google-cloud/firestore';
import {
  createRateLimiter,
  shardCapacity,
  windowOf,
  type RateLimitResult,
} from '../../../shared/ratelimit/rate-limiter.js';
import { COLLECTIONS } from '../../../shared/store/collections.js';
import { FakeClock } from '../../helpers/clock.js';
import { sha256Id } from '../../../shared/kernel/hash.js';
import { emulatorFirestore } from '../../helpers/firestore.js';
import { demoProjectId, emulatorHost } from '../../helpers/env.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');

// A fixed instant 5 s into a minute: 55 s left in a 60 s window.
const WINDOW_START = Date.UTC(2030, 0, 2, 3, 4, 0);
const NOW = new Date(WINDOW_START + 5_000);

let projectId: string;
let db: Firestore;

const client = (project: string) => emulatorFirestore(project, emulatorHost());

beforeEach(() => {
  projectId = demoProjectId();
  db = client(projectId);
});
afterEach(async () => {
  await db.terminate();
});

const allowedOf = (rs: readonly RateLimitResult[]) => rs.filter((r) => r.allowed).length;

describe('shard capacities', () => {
  it('sum to the limit for every split', () => {
    for (const limit of [1, 2, 3, 7, 10, 60, 601]) {
      for (const shards of [1, 2, 4, 8]) {
        const n = Math.min(limit, shards);
        const caps = Array.from({ length: n }, (_, i) => shardCapacity(limit, n, i));
        expect(caps.reduce((a, b) => a + b, 0)).toBe(limit);
        expect(Math.min(...caps)).toBeGreaterThanOrEqual(1);
      }
    }
  });
});

describe('Firestore rate limiter (emulator)', () => {
  it.each([
    { limit: 10, shards: 1 },
    { limit: 10, shards: 4 },
    { limit: 3, shards: 8 },
  ])('allows exactly $limit of 3x$limit concurrent consumes with $shards shard(s)', async ({ limit, shards }) => {
    const limiter = createRateLimiter({ db: async () => db, clock: new FakeClock(NOW), shards });
    const results = await Promise.all(
      Array.from({ length: 3 * limit }, () => limiter.consume('agent:concurrent', limit, 60)),
    );
    expect(allowedOf(results)).toBe(limit);
    for (const r of results.filter((x) => !x.allowed)) {
      expect(r).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 55 });
    }
    for (const r of results.filter((x) => x.allowed)) {
      expect(r.retryAfterSeconds).toBe(0);
      expect(r.remaining).toBeGreaterThanOrEqual(0);
      expect(r.remaining).toBeLessThan(limit);
    }
    // Still refused afterwards, and the stored counts add up to the limit.
    expect((await limiter.consume('agent:concurrent', limit, 60)).allowed).toBe(false);
    const docs = await db.collection(COLLECTIONS.rateLimits).get();
    expect(docs.docs.reduce((sum, d) => sum + (d.get('count') as number), 0)).toBe(limit);
  });

  it('counts sequential consumes down to zero, then refuses with the time left in the window', async () => {
    const limiter = createRateLimiter({ db: async () => db, clock: new FakeClock(NOW), shards: 1 });
    const seen = [];
    for (let i = 0; i < 4; i++) seen.push(await limiter.consume('user:alice', 3, 60));
    expect(seen).toEqual([
      { allowed: true, remaining: 2, retryAfterSeconds: 0 },
      { allowed: true, remaining: 1, retryAfterSeconds: 0 },
      { allowed: true, remaining: 0, retryAfterSeconds: 0 },
      { allowed: false, remaining: 0, retryAfterSeconds: 55 },
    ]);
  });

  it('keeps keys apart and starts afresh in the next window', async () => {
    const clock = new FakeClock(NOW);
    const limiter = createRateLimiter({ db: async () => db, clock, shards: 2 });
    expect((await limiter.consume('user:a', 1, 60)).allowed).toBe(true);
    expect((await limiter.consume('user:a', 1, 60)).allowed).toBe(false);
    expect((await limiter.consume('user:b', 1, 60)).allowed).toBe(true);
    clock.set(WINDOW_START + 59_999);
    expect(await limiter.consume('user:a', 1, 60)).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 1 });
    clock.set(WINDOW_START + 60_000);
    expect((await limiter.consume('user:a', 1, 60)).allowed).toBe(true);
  });

  it('stores counters under hashed ids with expiresAt after the window end (TTL)', async () => {
    const key = 'agent:copilot-agent-7f3e@contoso';
    const limiter = createRateLimiter({
      db: async () => db,
      clock: new FakeClock(NOW),
      shards: 4,
      ttlMarginSeconds: 120,
    });
    for (let i = 0; i < 6; i++) await limiter.consume(key, 8, 60);
    const docs = (await db.collection(COLLECTIONS.rateLimits).get()).docs;
    expect(docs.length).toBeGreaterThan(0);
    const { start, end } = windowOf(NOW, 60);
    for (const d of docs) {
      expect(d.id).toMatch(new RegExp(`^${sha256Id(key)}_${start / 1000}_[0-3]$`));
      expect(d.id).not.toContain('copilot');
      expect(JSON.stringify(d.data())).not.toContain('copilot');
      expect((d.get('expiresAt') as { toDate(): Date }).toDate().getTime()).toBe(end + 120_000);
      expect((d.get('windowStart') as { toDate(): Date }).toDate().getTime()).toBe(start);
    }
  });

  it('treats an unreadable counter as full (fails closed)', async () => {
    const limiter = createRateLimiter({ db: async () => db, clock: new FakeClock(NOW), shards: 1 });
    const { start } = windowOf(NOW, 60);
    await db
      .collection(COLLECTIONS.rateLimits)
      .doc(`${sha256Id('user:x')}_${start / 1000}_0`)
      .set({ count: 'lots' });
    expect((await limiter.consume('user:x', 5, 60)).allowed).toBe(false);
  });

  it('holds exactly across two processes sharing the emulator', async () => {
    const limit = 12;
    const perProcess = 18; // 3 x limit in total
    const run = () => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          resolve(here, 'consume-worker.ts'),
          projectId,
          'agent:cross-process',
          String(limit),
          '60',
          String(perProcess),
          String(NOW.getTime()),
          '4',
        ],
        {
          cwd: repoRoot,
          env: { ...process.env, FIRESTORE_EMULATOR_HOST: emulatorHost() },
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      );
      let out = '';
      let err = '';
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
      });
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
      });
      const ready = new Promise<void>((ok, fail) => {
        const check = () => {
          if (out.startsWith('ready\n')) {
            child.stdout.off('data', check);
            ok();
          }
        };
        child.stdout.on('data', check);
        child.once('exit', (code) => fail(new Error(`worker exited early (${code}): ${err}`)));
      });
      const done = new Promise<RateLimitResult[]>((ok, fail) => {
        child.once('exit', (code) => {
          if (code !== 0) return fail(new Error(`worker failed (${code}): ${err}`));
          const line = out.split('\n').filter(Boolean).pop() ?? '';
          ok(JSON.parse(line) as RateLimitResult[]);
        });
      });
      done.catch(() => {});
      return { child, ready, done };
    };
    const a = run();
    const b = run();
    await Promise.all([a.ready, b.ready]);
    a.child.stdin.write('go\n');
    b.child.stdin.write('go\n');
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra).toHaveLength(perProcess);
    expect(rb).toHaveLength(perProcess);
    expect(allowedOf(ra) + allowedOf(rb)).toBe(limit);
    for (const r of [...ra, ...rb].filter((x) => !x.allowed)) expect(r.retryAfterSeconds).toBeGreaterThan(0);
    // The emulator agrees with what the processes saw.
    const docs = await db.collection(COLLECTIONS.rateLimits).get();
    expect(docs.docs.reduce((sum, d) => sum + (d.get('count') as number), 0)).toBe(limit);
  });
});
