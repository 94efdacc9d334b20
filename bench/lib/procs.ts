/**
 * Server processes the benchmarks start themselves (so they own the pid): ours, from dist or tsx, the v1-SDK
 * baseline (the 2025-11-25 path) and the v2-SDK baseline (the 2026-07-28 path).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, killGroup } from '../../dev/process-utils.js';

export const REPO_ROOT = new URL('../..', import.meta.url).pathname;

export type ServerKind = 'ours-dist' | 'ours-tsx' | 'baseline' | 'baseline-tsx' | 'baseline-v2';

export interface BenchServer {
  readonly kind: ServerKind;
  readonly url: string;
  readonly child: ChildProcess;
  readonly startedAt: number;
  stderrTail(): string;
  stop(): Promise<void>;
}

export function argsFor(kind: ServerKind, extraNodeArgs: readonly string[] = []): string[] {
  switch (kind) {
    case 'ours-dist':
      return [...extraNodeArgs, join(REPO_ROOT, 'bench/servers/serve-dist.mjs')];
    case 'ours-tsx':
      return [...extraNodeArgs, '--import', 'tsx', join(REPO_ROOT, 'dev/serve.ts')];
    case 'baseline':
      return [...extraNodeArgs, join(REPO_ROOT, 'bench/servers/baseline.mjs')];
    case 'baseline-tsx':
      return [...extraNodeArgs, '--import', 'tsx', join(REPO_ROOT, 'bench/servers/baseline.mjs')];
    case 'baseline-v2':
      return [...extraNodeArgs, join(REPO_ROOT, 'bench/servers/baseline-v2.mjs')];
  }
}

/**
 * Spawns a server (own process group; stdout discarded unless `stdoutFd` names an open file for it, stderr kept
 * for diagnostics). Does not wait.
 */
export async function spawnServer(
  kind: ServerKind,
  env: Record<string, string>,
  o: { port?: number; nodeArgs?: string[]; stdoutFd?: number } = {},
): Promise<BenchServer> {
  const port = o.port ?? (await freePort());
  const startedAt = performance.now();
  const child = spawn(process.execPath, argsFor(kind, o.nodeArgs), {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, PORT: String(port) },
    stdio: ['ignore', o.stdoutFd ?? 'ignore', 'pipe'],
    detached: true,
  });
  let tail = '';
  child.stderr?.on('data', (b: Buffer) => {
    tail = (tail + b.toString()).slice(-4000);
  });
  return {
    kind,
    url: `http://127.0.0.1:${port}`,
    child,
    startedAt,
    stderrTail: () => tail,
    stop: () => killGroup(child),
  };
}

/** Polls `probe` until it returns true; throws with the server's stderr if it exits or times out. */
export async function waitUntil(
  server: BenchServer,
  probe: () => Promise<boolean>,
  timeoutMs = 60_000,
  intervalMs = 10,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (server.child.exitCode !== null)
      throw new Error(`${server.kind} exited (${server.child.exitCode}): ${server.stderrTail()}`);
    if (await probe().catch(() => false)) return performance.now() - server.startedAt;
    if (performance.now() > deadline)
      throw new Error(`${server.kind} not ready within ${timeoutMs} ms: ${server.stderrTail()}`);
    await sleep(intervalMs);
  }
}

/** Peak (VmHWM) and current (VmRSS) resident set of a process, in MB. */
export function memoryOf(pid: number): { hwmMb: number; rssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { hwmMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
}

/** Samples VmRSS every `everyMs` until stopped; returns the peak seen. */
export function sampleRss(pid: number, everyMs = 50): { stop(): number } {
  let peak = 0;
  const t = setInterval(() => {
    try {
      peak = Math.max(peak, memoryOf(pid).rssMb);
    } catch {
      /* exited */
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(t);
      try {
        peak = Math.max(peak, memoryOf(pid).rssMb);
      } catch {
        /* exited */
      }
      return peak;
    },
  };
}

/** The Java process of the Firestore emulator listening on `port`, if one runs here. */
export function emulatorPid(port: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmd.some((a) => a.endsWith('firestore.CloudFirestore')) && cmd.includes(`--port=${port}`))
        return Number(entry);
    } catch {
      /* gone meanwhile */
    }
  }
  return undefined;
}

/** CPU time (user + system) a process has used so far, in ms (from /proc/<pid>/stat, clock ticks at 100 Hz). */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime = field 14, stime = field 15
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
