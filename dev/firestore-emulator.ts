/**
 * Starts the official Firestore emulator (`gcloud emulators firestore start`)
 * on a free port. Used by `npm start` and by the tests, which never skip it.
 * @module
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { freePort, killGroup, spawnGroup, waitForHttp } from './process-utils.js';

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
}

/** One-line reason the emulator cannot run here, or undefined if it can. */
export function emulatorPrerequisiteProblem(): string | undefined {
  const has = (cmd: string, args: string[]) => {
    try {
      execFileSync(cmd, args, { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (!has('gcloud', ['--version'])) {
    return 'gcloud not found: install the Google Cloud CLI and its Firestore emulator (Debian: apt-get install google-cloud-cli google-cloud-cli-firestore-emulator), or set FIRESTORE_EMULATOR_HOST to a running emulator.';
  }
  if (!has('java', ['-version'])) {
    return 'java not found: the Firestore emulator needs a Java runtime (Debian: apt-get install openjdk-17-jre-headless), or set FIRESTORE_EMULATOR_HOST to a running emulator.';
  }
  return undefined;
}

export async function startFirestoreEmulator(options: StartEmulatorOptions = {}): Promise<FirestoreEmulator> {
  const problem = emulatorPrerequisiteProblem();
  if (problem) throw new Error(problem);
  const port = options.port ?? (await freePort());
  const host = `127.0.0.1:${port}`;
  const args = ['emulators', 'firestore', 'start', `--host-port=${host}`, '--quiet'];
  if (options.rules) args.push(`--rules=${options.rules}`);
  const child: ChildProcess = spawnGroup('gcloud', args, { stdio: ['ignore', options.onLog ? 'pipe' : 'ignore', options.onLog ? 'pipe' : 'ignore'] });
  const forward = (buf: Buffer) => {
    for (const line of buf.toString().split('\n')) if (line.trim()) options.onLog?.(line);
  };
  child.stdout?.on('data', forward);
  child.stderr?.on('data', forward);
  try {
    await waitForHttp(`http://${host}/`, { timeoutMs: options.timeoutMs ?? 60_000, child });
  } catch (err) {
    await killGroup(child);
    throw err;
  }
  return { host, port, stop: () => killGroup(child) };
}

/** Deletes every document of `projectId` in the emulator (fast reset between tests). */
export async function clearFirestore(host: string, projectId: string): Promise<void> {
  const res = await fetch(`http://${host}/emulator/v1/projects/${projectId}/databases/(default)/documents`, { method: 'DELETE' });
  if (!res.ok) throw new Error(`emulator reset failed: HTTP ${res.status}`);
}
