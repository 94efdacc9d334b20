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

export async function startTestStack(options: Omit<LocalStackOptions, 'firestoreHost' | 'onServerLog'> = {}): Promise<TestStack> {
  const logs: string[] = [];
  mkdirSync(SERVER_LOG_DIR, { recursive: true });
  const file = join(SERVER_LOG_DIR, `server-${process.pid}.log`);
  const stack = await startLocalStack({
    firestoreHost: emulatorHost(),
    projectId: demoProjectId(),
    ...options,
    onServerLog: (line) => {
      logs.push(line);
      appendFileSync(file, `${line}\n`);
    },
  });
  return Object.assign(stack, { logs });
}
