/**
 * Small helpers the local stack and the tests share: free ports, waiting for
 * a server to answer, and child processes started in their own process group
 * so that stopping them also stops their children (gcloud → java).
 * @module
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A port nobody listens on right now, for a server another process will bind.
 *
 * Between our check and that bind the port can be taken. Ports the OS hands
 * out itself (listen(0), outgoing connections, the emulator's extra sockets)
 * come from its ephemeral range, so we pick below that range, where only
 * deliberate choices like this one land; the OS's pick is the fallback.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const below = Math.min(ephemeralRangeStart(), 32_768);
  for (let attempt = 0; attempt < 20 && below > PICK_FLOOR; attempt++) {
    const port = PICK_FLOOR + randomInt(below - PICK_FLOOR);
    if (!(await isPortInUse(port, host))) return port;
  }
  return osAssignedPort(host);
}

const PICK_FLOOR = 20_000;

/** The first port of the kernel's ephemeral range (Linux), or IANA's 49152 elsewhere. */
function ephemeralRangeStart(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > 0 ? first : 49_152;
  } catch {
    return 49_152;
  }
}

function osAssignedPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** True when something already accepts TCP connections on host:port. */
export function isPortInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(true));
    srv.listen(port, host, () => srv.close(() => resolve(false)));
  });
}

export interface WaitForHttpOptions {
  readonly timeoutMs?: number;
  /** Stop waiting (and say so) when this process exits first. */
  readonly child?: ChildProcess;
  /**
   * The body (trimmed) the awaited server answers with. Without it any HTTP answer
   * counts, which another server that grabbed the port would also give.
   */
  readonly body?: string;
}

/** Polls `url` until it answers (any HTTP status, or `body`) or `timeoutMs` passes. */
export async function waitForHttp(url: string, options: WaitForHttpOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (options.child && options.child.exitCode !== null) {
      throw new Error(`process exited with code ${options.child.exitCode} before ${url} answered`);
    }
    let answer: string | undefined;
    try {
      // 'connection: close' so no keep-alive socket holds the caller's event loop open
      const res = await fetch(url, { signal: AbortSignal.timeout(1000), headers: { connection: 'close' } });
      if (options.body === undefined) {
        await res.body?.cancel();
        return;
      }
      answer = await res.text();
      if (answer.trim() === options.body) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      const got =
        answer === undefined ? '' : ` (it answered, but not as expected: ${JSON.stringify(answer.slice(0, 80))})`;
      throw new Error(`${url} did not answer within ${timeoutMs} ms${got}`);
    }
    await sleep(150);
  }
}

/** Resolves when the child's output streams have closed, or after `ms`. */
export function outputClosed(child: ChildProcess, ms = 2000): Promise<void> {
  if (child.stdout === null && child.stderr === null) return Promise.resolve();
  return Promise.race([
    new Promise<void>((resolve) => child.once('close', () => resolve())),
    sleep(ms, undefined, { ref: false }),
  ]);
}

/** Spawns `cmd` as the leader of a new process group. */
export function spawnGroup(cmd: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  return spawn(cmd, args, { ...options, detached: true });
}

/** SIGTERM the whole group, then SIGKILL whatever is left after `graceMs`. */
export async function killGroup(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
    killQuietly(child.pid);
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killQuietly(child.pid, 'SIGTERM');
  // unref'd: a grace timer left running must not keep the caller's process alive
  const timedOut = await Promise.race([
    exited.then(() => false),
    sleep(graceMs, undefined, { ref: false }).then(() => true),
  ]);
  killQuietly(child.pid, 'SIGKILL'); // the group may outlive its leader (java under gcloud)
  if (timedOut) await exited;
}

function killQuietly(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}
