/**
 * Fixed-window rate limits that hold exactly across instances, backed by
 * Firestore (`rate_limits`, TTL field `expiresAt`).
 *
 * Design: "capacity shards". The `limit` of one (key, window) is split over S
 * shard documents with fixed capacities that sum to `limit` (e.g. 10 over 4
 * shards = 3,3,2,2). A consume reads the shards (one batched get, outside any
 * transaction), picks a random shard that is not yet full, and increments it
 * with a single-document precondition write: `create()` if it does not exist,
 * else `update()` guarded by the `lastUpdateTime` it read. A lost race
 * (ALREADY_EXISTS / FAILED_PRECONDITION) re-reads that one shard and tries again.
 *
 * Why this is exact: a shard never grows past its capacity (every increment is
 * a compare-and-set on that document), so at most `limit` consumes succeed per
 * window; and counts only grow within a window, so a shard seen full is full
 * for good. A consume is refused only after it has seen every shard full, i.e.
 * only once `limit` consumes have really succeeded.
 *
 * Trade-offs considered:
 * - One document per window in a transaction: exact and simplest, but every
 *   consume of a key serialises on one document, and Firestore sustains only
 *   about one write per second per document (a soft limit: bursts work, but
 *   contention makes transactions abort and retry, adding latency).
 * - N counter shards, each consume reading ALL shards in a transaction and
 *   incrementing one: exact, but every transaction then has every shard in its
 *   read set, so any two concurrent consumes conflict. It spreads writes, not
 *   contention.
 * - Capacity shards (chosen): a consume touches one document, so S shards give
 *   roughly S times the write headroom per key, no transactions, no locks. Cost:
 *   one batched read of S small documents per consume, and when a window is
 *   nearly full a consume may probe several shards. `remaining` is a lower-bound
 *   estimate from that read; `allowed` is exact.
 * If the limit changes mid-window (new policy deployed), that one window splits
 * the new limit over the old counts and may be off by a few; the next is exact.
 *
 * Document id: `<sha256Id(key)>_<window start, epoch seconds>_<shard>`, so agent
 * and user ids never appear in clear. Fields: count, capacity, windowStart,
 * expiresAt (window end + margin, for the TTL policy).
 * @module
 */
import type { DocumentReference, DocumentSnapshot, Firestore } from '@google-cloud/firestore';
import type { Clock } from '../kernel/clock.js';
import { sha256Id } from '../kernel/hash.js';
import { COLLECTIONS } from '../store/collections.js';
import { withStoreRetry } from '../store/firestore-utils.js';

export interface RateLimitResult {
  readonly allowed: boolean;
  /** Consumes left in this window after this one (a lower-bound estimate; 0 when refused). */
  readonly remaining: number;
  /** Seconds until the window resets when refused (≥ 1); 0 when allowed. */
  readonly retryAfterSeconds: number;
}

export interface RateLimiter {
  /** Counts one event for `key` against `limit` per `windowSeconds`. Throws StoreUnavailableError if Firestore is down. */
  consume(key: string, limit: number, windowSeconds: number): Promise<RateLimitResult>;
}

export interface RateLimiterOptions {
  /** Loaded on the first consume: policies without limits never pay for the client library. */
  readonly db: () => Promise<Firestore>;
  readonly clock: Clock;
  /** Shards per (key, window); capped at `limit`. Default 4 (config RATE_LIMIT_SHARDS). */
  readonly shards?: number;
  /** Extra life after the window ends before TTL may delete a counter. Default 120 s. */
  readonly ttlMarginSeconds?: number;
  /** Test seam for shard choice. */
  readonly random?: () => number;
}

// gRPC codes a lost compare-and-set surfaces as.
const ALREADY_EXISTS = 6;
const FAILED_PRECONDITION = 9;
const lostRace = (err: unknown): boolean => {
  const code = (err as { code?: unknown } | null)?.code;
  return code === ALREADY_EXISTS || code === FAILED_PRECONDITION;
};

/** Capacity of shard `i` when `limit` is split over `shards` (the sum is exactly `limit`). */
export const shardCapacity = (limit: number, shards: number, i: number): number =>
  Math.floor(limit / shards) + (i < limit % shards ? 1 : 0);

/** Window containing `now`: start and end in epoch milliseconds. */
export function windowOf(now: Date, windowSeconds: number): { start: number; end: number } {
  const size = windowSeconds * 1000;
  const start = Math.floor(now.getTime() / size) * size;
  return { start, end: start + size };
}

interface Shard {
  readonly ref: DocumentReference;
  readonly capacity: number;
  count: number;
  snap: DocumentSnapshot | undefined;
}

/** Stored count; an unreadable document counts as full (fail closed). */
function countOf(snap: DocumentSnapshot, capacity: number): number {
  if (!snap.exists) return 0;
  const c: unknown = snap.get('count');
  return typeof c === 'number' && Number.isInteger(c) && c >= 0 ? c : capacity;
}

export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { clock } = options;
  const maxShards = options.shards ?? 4;
  const margin = options.ttlMarginSeconds ?? 120;
  const random = options.random ?? Math.random;
  if (!Number.isInteger(maxShards) || maxShards < 1) throw new RangeError('shards must be a positive integer');

  return {
    async consume(key, limit, windowSeconds) {
      if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
      if (!Number.isInteger(windowSeconds) || windowSeconds < 1)
        throw new RangeError('windowSeconds must be a positive integer');
      const now = clock.now();
      const win = windowOf(now, windowSeconds);
      const retryAfterSeconds = Math.max(1, Math.ceil((win.end - now.getTime()) / 1000));
      const db = await options.db();
      const col = db.collection(COLLECTIONS.rateLimits);
      const n = Math.min(maxShards, limit);
      const prefix = `${sha256Id(key)}_${win.start / 1000}`;
      const shards: Shard[] = Array.from({ length: n }, (_, i) => ({
        ref: col.doc(`${prefix}_${i}`),
        capacity: shardCapacity(limit, n, i),
        count: 0,
        snap: undefined,
      }));
      const snaps = await withStoreRetry(() => db.getAll(...shards.map((s) => s.ref)));
      shards.forEach((s, i) => {
        s.snap = snaps[i];
        s.count = s.snap === undefined ? s.capacity : countOf(s.snap, s.capacity); // none: full (fail closed)
      });
      const windowStart = new Date(win.start);
      const expiresAt = new Date(win.end + margin * 1000);

      // Each lost race means another consume succeeded on that shard, so this loop ends
      // within `limit` + `n` rounds; the bound is a guard against a misbehaving backend.
      for (let round = 0; round < limit + n + 8; round++) {
        const open = shards.filter((s) => s.count < s.capacity);
        const s = open.length === 0 ? undefined : open[Math.floor(random() * open.length) % open.length];
        if (s === undefined) return { allowed: false, remaining: 0, retryAfterSeconds };
        try {
          if (!s.snap?.exists) {
            await withStoreRetry(() => s.ref.create({ count: 1, capacity: s.capacity, windowStart, expiresAt }));
          } else {
            const updateTime = s.snap.updateTime;
            await withStoreRetry(() =>
              s.ref.update({ count: s.count + 1 }, updateTime ? { lastUpdateTime: updateTime } : { exists: true }),
            );
          }
          s.count += 1;
          const remaining = shards.reduce((sum, x) => sum + Math.max(0, x.capacity - x.count), 0);
          return { allowed: true, remaining, retryAfterSeconds: 0 };
        } catch (err) {
          // (A create retried after a lost response also lands here: the slot it took is then
          // wasted, which errs on the side of refusing.)
          if (!lostRace(err)) throw err;
          s.snap = await withStoreRetry(() => s.ref.get());
          s.count = countOf(s.snap, s.capacity);
        }
      }
      throw new Error('rate limiter: too many lost races');
    },
  };
}

/** In-process cap on concurrent work per instance (answer 503 with Retry-After when `tryAcquire` fails). */
export interface InstanceLimits {
  /** A release function, or undefined when `maxConcurrent` are already in flight. Call release exactly once. */
  tryAcquire(): (() => void) | undefined;
  inFlight(): number;
}

export function createInstanceLimits(options: { readonly maxConcurrent: number }): InstanceLimits {
  const max = options.maxConcurrent;
  if (!Number.isInteger(max) || max < 1) throw new RangeError('maxConcurrent must be a positive integer');
  let active = 0;
  return {
    tryAcquire() {
      if (active >= max) return undefined;
      active++;
      let released = false;
      return () => {
        if (!released) {
          released = true;
          active--;
        }
      };
    },
    inFlight: () => active,
  };
}
