/**
 * A server clock the test process moves (dev/local-stack.ts `clockControl`): the wall clock
 * shifted by an offset, which the parent sets over the child's IPC channel and each instance
 * acknowledges before the test goes on. Expiry, rate-limit windows and link-cache ages are
 * then decided on the test's time, so no test has to sleep for them.
 * @module
 */
import type { Clock } from '../shared/kernel/clock.js';

/** Child → parent and parent → child messages; `seq` pairs an acknowledgement with its request. */
export interface ClockMessage {
  readonly type: 'rally-mcp:clock';
  readonly seq: number;
  readonly offsetMs: number;
}

export const CLOCK_CONTROL_ENV = 'DEV_CLOCK_CONTROL';
export const CLOCK_OFFSET_ENV = 'DEV_CLOCK_OFFSET_MS';

export const isClockMessage = (m: unknown): m is ClockMessage =>
  typeof m === 'object' &&
  m !== null &&
  (m as ClockMessage).type === 'rally-mcp:clock' &&
  Number.isSafeInteger((m as ClockMessage).seq) &&
  Number.isFinite((m as ClockMessage).offsetMs);

/**
 * In a server process started with clock control: the clock to use, starting at the offset in
 * DEV_CLOCK_OFFSET_MS, and the IPC listener that moves it. Without clock control: undefined.
 */
export function takeClockControl(env: NodeJS.ProcessEnv = process.env): Clock | undefined {
  const send = process.send?.bind(process);
  if (env[CLOCK_CONTROL_ENV] !== 'ipc' || !send) return undefined;
  let offsetMs = Number(env[CLOCK_OFFSET_ENV] ?? 0) || 0;
  process.on('message', (m: unknown) => {
    if (!isClockMessage(m)) return;
    offsetMs = m.offsetMs;
    send(m);
  });
  // The test process is gone (crashed, killed): do not outlive it.
  process.on('disconnect', () => process.exit(0));
  return { now: () => new Date(Date.now() + offsetMs) };
}
