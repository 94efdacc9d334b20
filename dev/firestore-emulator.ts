/**
 * Starts the official Firestore emulator (`gcloud emulators firestore start`)
 * on a free port. Used by `npm start` and by the tests, which never skip it.
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import { emulatorProblems } from '../scripts/preflight.mjs';
import { freePort, killGroup, outputClosed, spawnGroup, waitForHttp } from './process-utils.js';

export interface FirestoreEmulator {
  /** host:port, the value for FIRESTORE_EMULATOR_HOST */
  readonly host: string;
  readonly port: number;
  stop(): Promise<void>;
}

export interface StartEmulatorOptions {
  readonly port?: number;
  /** Path to a rules file (rules tests). */
  readonly rules?: string;
  readonly timeoutMs?: number;
  readonly onLog?: (line: string) => void;
  /** Where free ports come from when `port` is not fixed (tests inject a busy one). */
  readonly pickPort?: () => Promise<number>;
}

/** One-line reason the emulator cannot run here (the preflight's check), or undefined if it can. */
export function emulatorPrerequisiteProblem(): string | undefined {
  return emulatorProblems()[0];
}

/**
 * The emulator opens its API port plus a few random ones (WebSocket, admin),
 * and so do the other test files' servers: a port that was free a moment ago
 * can be taken before the emulator binds it. The emulator then exits with
 * code 0 ("Address already in use"), so a chosen-for-us port is retried with
 * a fresh one; a port the caller fixed is not.
 */
const START_ATTEMPTS = 3;

export async function startFirestoreEmulator(options: StartEmulatorOptions = {}): Promise<FirestoreEmulator> {
  const problem = emulatorPrerequisiteProblem();
  if (problem) throw new Error(problem);
  const attempts = options.port === undefined ? START_ATTEMPTS : 1;
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await (options.pickPort ?? freePort)());
    const outcome = await startOnPort(port, options);
    if ('emulator' in outcome) return outcome.emulator;
    if (!outcome.exitedEarly || attempt >= attempts) throw outcome.error;
  }
}

type StartOutcome = { emulator: FirestoreEmulator } | { error: Error; exitedEarly: boolean };

async function startOnPort(port: number, options: StartEmulatorOptions): Promise<StartOutcome> {
  const host = `127.0.0.1:${port}`;
  const args = ['emulators', 'firestore', 'start', `--host-port=${host}`, '--quiet'];
  if (options.rules) args.push(`--rules=${options.rules}`);
  const child: ChildProcess = spawnGroup('gcloud', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let cause: string | undefined; // the first line that says why a start failed
  const forward = (buf: Buffer) => {
    for (const line of buf.toString().split('\n')) {
      if (!line.trim()) continue;
      if (!cause && /already in use|Exception:|ERROR/i.test(line)) cause = line.replace(/^\[firestore\]\s*/, '').trim();
      options.onLog?.(line);
    }
  };
  child.stdout?.on('data', forward);
  child.stderr?.on('data', forward);
  try {
    // The emulator answers its root with "Ok": anything else is another server on the port.
    await waitForHttp(`http://${host}/`, { timeoutMs: options.timeoutMs ?? 60_000, child, body: 'Ok' });
  } catch (err) {
    const exitedEarly = child.exitCode !== null;
    await killGroup(child);
    await outputClosed(child); // its last words (the reason) may still be in the pipe
    const message = `Firestore emulator on ${host} did not start: ${(err as Error).message}${cause ? ` (${cause})` : ''}`;
    return { error: new Error(message), exitedEarly };
  }
  // `forward` stays attached, draining the pipes so a chatty emulator never blocks.
  return { emulator: { host, port, stop: () => killGroup(child) } };
}

/** Deletes every document of `projectId` in the emulator (fast reset between tests). */
export async function clearFirestore(host: string, projectId: string): Promise<void> {
  const res = await fetch(`http://${host}/emulator/v1/projects/${projectId}/databases/(default)/documents`, {
    method: 'DELETE',
  });
  if (!res.ok) throw new Error(`emulator reset failed: HTTP ${res.status}`);
}
