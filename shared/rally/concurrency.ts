/**
 * Instance-wide concurrency cap per Rally principal. Rally slows down a user's
 * 13th concurrent request (KB 95713); we stay well below that and queue,
 * never fail, when the cap is reached.
 * @module
 */

export interface ConcurrencyLimiter {
  /** Runs `task` once fewer than the cap are in flight for `key`; FIFO otherwise. */
  run<T>(key: string, task: () => Promise<T>): Promise<T>;
  /** In-flight count for `key` (tests and metrics). */
  active(key: string): number;
  /** Queued count for `key`. */
  queued(key: string): number;
}

interface Lane {
  active: number;
  readonly waiting: Array<() => void>;
}

/** `maxPerKey` comes from RALLY_MAX_CONCURRENCY_PER_USER (default 4). */
export function createConcurrencyLimiter(maxPerKey: number): ConcurrencyLimiter {
  if (!Number.isInteger(maxPerKey) || maxPerKey < 1) throw new RangeError('maxPerKey must be a positive integer');
  const lanes = new Map<string, Lane>();

  const acquire = (key: string): Promise<void> => {
    let lane = lanes.get(key);
    if (!lane) {
      lane = { active: 0, waiting: [] };
      lanes.set(key, lane);
    }
    if (lane.active < maxPerKey) {
      lane.active++;
      return Promise.resolve();
    }
    const l = lane;
    return new Promise<void>((resolve) => l.waiting.push(resolve));
  };

  const release = (key: string): void => {
    const lane = lanes.get(key);
    if (!lane) return;
    const next = lane.waiting.shift();
    if (next) {
      next(); // the slot passes straight to the next waiter
      return;
    }
    lane.active--;
    if (lane.active === 0) lanes.delete(key); // no per-user state outlives its requests
  };

  return {
    async run<T>(key: string, task: () => Promise<T>): Promise<T> {
      await acquire(key);
      try {
        return await task();
      } finally {
        release(key);
      }
    },
    active: (key) => lanes.get(key)?.active ?? 0,
    queued: (key) => lanes.get(key)?.waiting.length ?? 0,
  };
}
