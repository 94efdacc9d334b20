/**
 * The shared test stack: the real server processes on the jest run's
 * Firestore emulator, with the Rally sandbox in this process (so tests can
 * inject faults and read its request log) and every server log line captured.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../dev/local-stack.js';
import { demoProjectId, emulatorHost } from './env.js';

export interface TestStack extends LocalStack {
  /** Every line the server processes printed so far. */
  readonly logs: string[];
}

/** Server logs of the whole run land here; global teardown scans them for secrets (K1). */
export const SERVER_LOG_DIR = join(new URL('../..', import.meta.url).pathname, 'test-results', 'server-logs');

/**
 * Test stacks reuse a Rally link for 1 s instead of the default 5 s
 * (LINK_CACHE_SECONDS), so the cache is on in every test but a test that
 * revokes or breaks something behind a warm server waits only briefly.
 */
export const TEST_LINK_CACHE_SECONDS = 1;

/** Waits until no server instance may still serve a link it read before now (its LINK_CACHE_SECONDS). */
export async function waitOutLinkCache(stack: Pick<LocalStack, 'serverEnv'>): Promise<void> {
  const seconds = Number(stack.serverEnv.LINK_CACHE_SECONDS ?? 5);
  await new Promise((r) => setTimeout(r, seconds * 1000 + 100));
}

export async function startTestStack(
  options: Omit<LocalStackOptions, 'firestoreHost' | 'onServerLog'> = {},
): Promise<TestStack> {
  const logs: string[] = [];
  mkdirSync(SERVER_LOG_DIR, { recursive: true });
  const file = join(SERVER_LOG_DIR, `server-${process.pid}.log`);
  const stack = await startLocalStack({
    firestoreHost: emulatorHost(),
    projectId: demoProjectId(),
    ...options,
    env: { LINK_CACHE_SECONDS: String(TEST_LINK_CACHE_SECONDS), ...options.env },
    onServerLog: (line) => {
      logs.push(line);
      appendFileSync(file, `${line}\n`);
    },
  });
  return Object.assign(stack, { logs });
}
