/**
 * The one fake clock of the tests (shared/kernel/clock.ts `Clock`): time moves
 * only when the test moves it. `FakeClock.running()` keeps the wall clock's
 * pace, shifted by however far the test moved it, for code that shares data
 * with a process on the real clock (the stack's servers, the Firestore emulator).
 * @module
 */
import type { Clock } from '../../shared/kernel/clock.js';

/** Where a standing clock starts unless told otherwise: a fixed instant, so runs repeat. */
export const FAKE_CLOCK_START = new Date('2030-01-01T00:00:00Z');

const toMs = (at: Date | string | number): number => {
  const ms = new Date(at).getTime();
  if (Number.isNaN(ms)) throw new Error(`FakeClock: not a date: ${String(at)}`);
  return ms;
};

export class FakeClock implements Clock {
  /** A standing clock: the instant. A running clock: how far it is ahead of the wall clock. */
  #ms: number;
  readonly running: boolean;

  /** A clock standing at `start` until the test moves it. */
  constructor(start: Date | string | number = FAKE_CLOCK_START) {
    this.#ms = toMs(start);
    this.running = false;
  }

  /** A clock at the wall clock's time and pace, until the test moves it (then shifted by as much). */
  static running(): FakeClock {
    const c = new FakeClock();
    c.#ms = 0;
    (c as { running: boolean }).running = true;
    return c;
  }

  /** Bound, so `clock.now` can be handed on alone (e.g. as the sandbox's `now` option). */
  readonly now = (): Date => new Date(this.nowMs());

  nowMs(): number {
    return this.running ? Date.now() + this.#ms : this.#ms;
  }

  /** Jumps to `at` (a running clock runs on from there). */
  set(at: Date | string | number): void {
    this.#ms = this.running ? toMs(at) - Date.now() : toMs(at);
  }

  advanceMs(ms: number): void {
    this.#ms += ms;
  }

  advanceSeconds(seconds: number): void {
    this.advanceMs(seconds * 1000);
  }

  /** A running clock: how far it is ahead of the wall clock (ms). */
  get offsetMs(): number {
    if (!this.running) throw new Error('FakeClock: a standing clock has no offset');
    return this.#ms;
  }
}

/** The start of the next whole minute after `at` (UTC), plus `plusMs`: a fresh per-minute window. */
export function nextMinute(at: Date, plusMs = 0): Date {
  return new Date((Math.floor(at.getTime() / 60_000) + 1) * 60_000 + plusMs);
}
