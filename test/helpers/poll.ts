/**
 * Bounded polling for a state another process or the event loop reaches on its own (a log line
 * arriving, a held request completing). Not for time itself: a test that needs time to pass
 * moves a clock (helpers/clock.ts, stack.clock).
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Resolves once `cond()` holds; fails with `what` after `timeoutMs`. */
export async function until(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
