/**
 * The one stack fixture: the real server processes on the jest run's
 * Firestore emulator, with the Rally sandbox in this process (so tests can
 * inject faults and read its request log), every server log line captured,
 * and the servers' clock in the test's hands (`stack.clock`), so no test
 * sleeps for an expiry, a link-cache age or a rate-limit window. Also the
 * test's own in-process view of the stack's stores (`depsFor`).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Firestore } from '@google-cloud/firestore';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../dev/local-stack.js';
import type { RallySandbox } from '../../rally-sandbox/types.js';
import { createDeps } from '../../shared/app/deps.js';
import type { Clock } from '../../shared/kernel/clock.js';
import { loadConfig } from '../../shared/config/config.js';
import { createLogger } from '../../shared/logging/logger.js';
import type { Deps } from '../../shared/services/deps.js';
import { COLLECTIONS } from '../../shared/store/collections.js';
import { FakeClock, nextMinute } from './clock.js';
import { demoProjectId, emulatorHost } from './env.js';

/** The servers' clock: the wall clock until a test moves it, and only ever forwards. */
export interface ServerClock extends Clock {
  /** The servers' time now. */
  now(): Date;
  /** Moves every server instance's clock forward; resolves once each one has it. */
  advanceSeconds(seconds: number): Promise<void>;
  /** Moves the servers to the start of the next whole minute (+1 s): a rate-limit window no request has used. */
  toNextMinute(): Promise<void>;
}

export interface TestStack extends LocalStack {
  /** Every line the server processes printed so far. */
  readonly logs: string[];
  readonly clock: ServerClock;
}

/** Server logs of the whole run land here; global teardown scans them for secrets (K1). */
export const SERVER_LOG_DIR = join(new URL('../..', import.meta.url).pathname, 'test-results', 'server-logs');

/**
 * Test stacks reuse a Rally link for 1 s instead of the default 5 s
 * (LINK_CACHE_SECONDS), so the cache is on in every test; a test that
 * revokes or breaks something behind a warm server moves the clock past it.
 */
export const TEST_LINK_CACHE_SECONDS = 1;

/** Moves the servers' clock past LINK_CACHE_SECONDS: no instance may still serve a link it read before now. */
export async function waitOutLinkCache(stack: Pick<TestStack, 'serverEnv' | 'clock'>): Promise<void> {
  const seconds = Number(stack.serverEnv.LINK_CACHE_SECONDS ?? 5);
  await stack.clock.advanceSeconds(seconds + 0.1);
}

export async function startTestStack(
  options: Omit<LocalStackOptions, 'onServerLog' | 'clockControl'> = {},
): Promise<TestStack> {
  const logs: string[] = [];
  mkdirSync(SERVER_LOG_DIR, { recursive: true });
  const file = join(SERVER_LOG_DIR, `server-${process.pid}.log`);
  const stack = await startLocalStack({
    firestoreHost: emulatorHost(),
    projectId: demoProjectId(),
    ...options,
    env: { LINK_CACHE_SECONDS: String(TEST_LINK_CACHE_SECONDS), ...options.env },
    // A deployable build (bench/servers/serve-dist.mjs) has no clock control; its tests do not move time.
    clockControl: options.buildMain === undefined,
    onServerLog: (line) => {
      logs.push(line);
      appendFileSync(file, `${line}\n`);
    },
  });
  return Object.assign(stack, { logs, clock: serverClock(stack) });
}

/** The clock of a stack started with `clockControl` (startTestStack does; the resilience suites start their own). */
export function serverClock(stack: Pick<LocalStack, 'setClockOffset'>): ServerClock {
  const time = FakeClock.running();
  const moveTo = async (at: Date) => {
    if (at.getTime() < time.nowMs()) throw new Error('the servers’ clock only moves forwards');
    time.set(at);
    await stack.setClockOffset(time.offsetMs);
  };
  return {
    now: time.now,
    advanceSeconds: (seconds) => moveTo(new Date(time.nowMs() + seconds * 1000)),
    toNextMinute: () => moveTo(nextMinute(time.now(), 1000)),
  };
}

/**
 * The test's own view of the stack's stores: Deps in this process on the same emulator
 * project, keys and config as the servers. It reads Firestore every time (no link cache):
 * tests inspect the truth. On the servers' clock unless given another.
 */
export function depsFor(stack: TestStack, overrides: Record<string, string> = {}, clock: Clock = stack.clock): Deps {
  const config = loadConfig({ ...stack.serverEnv, LINK_CACHE_SECONDS: '0', ...overrides });
  return createDeps(config, { log: createLogger({ level: 'error', write: () => {} }), clock });
}

export interface StoredDoc {
  readonly collection: string;
  readonly id: string;
  readonly json: string;
}

/** Every document in every collection the product uses (shared/store/collections.ts), including subcollections. */
export async function dumpFirestore(db: Firestore): Promise<StoredDoc[]> {
  const out: StoredDoc[] = [];
  const seen = new Set<string>(Object.values(COLLECTIONS));
  for (const c of await db.listCollections()) seen.add(c.id);
  for (const name of seen) {
    const snap = await db.collection(name).get();
    for (const d of snap.docs) {
      out.push({ collection: name, id: d.id, json: JSON.stringify(d.data()) });
      for (const sub of await d.ref.listCollections()) {
        for (const s of (await sub.get()).docs)
          out.push({ collection: `${name}/${d.id}/${sub.id}`, id: s.id, json: JSON.stringify(s.data()) });
      }
    }
  }
  return out;
}

export function sandboxOf(stack: Pick<LocalStack, 'sandbox'>): RallySandbox {
  if (!stack.sandbox) throw new Error('stack without sandbox');
  return stack.sandbox;
}

/** WSAPI requests (not OAuth) the stack's sandbox recorded. */
export const wsapi = (stack: Pick<LocalStack, 'sandbox'>) =>
  sandboxOf(stack)
    .requests()
    .filter((r) => r.url.startsWith('/slm/webservice/'));

/** How many refresh_token grants the stack's sandbox has answered. */
export const refreshCount = (stack: Pick<LocalStack, 'sandbox'>): number =>
  sandboxOf(stack).stats().tokenRequests.refresh_token ?? 0;
