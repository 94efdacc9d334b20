/**
 * Diagnosis only (not the targets): ours against one baseline on one protocol path, under the bench's c32
 * load, with the SAME extra node flags on both sides (MEM_NODE_ARGS), reporting per side the peak RSS
 * (VmHWM), latency, throughput and CPU per call; with `--heapsnapshot-signal=SIGUSR2` in MEM_NODE_ARGS and
 * MEM_SNAPSHOT it asks every side for heap snapshots (written to the cwd, or --diagnostic-dir): a comma-separated
 * list of `warm` (after the warm-up, idle), `mid` (3 s into the last c32 run) and `end` (idle after the load). Objects
 * in a later snapshot with ids above every id of an earlier one were created in between (heap-top.ts --after).
 * Needs `npm run build` first. Usage:
 *   MEM_NODE_ARGS="--trace-gc" node --import tsx bench/tools/mem-compare.ts
 * MEM_COLD=<n>: first n cold starts of every side, in turns, and their median.
 * MEM_LATENCY_FILE=<file>: every c32 call's side, latency, X-Request-Id and start (epoch ms) (match ours with its audit lines).
 * MEM_STDOUT_DIR=<dir>: each side's stdout goes to <dir>/<side>.log (e.g. for --trace-gc-nvp).
 * MEM_IDLE_MS=<ms>: every side idles that long before each c32 run, as in the bench (V8's memory reducer starts 8 s into an idle spell).
 * Env: MEM_PATH (2026-07-28, default, or 2025-11-25), MEM_ROUNDS (c32 runs per side, default 2),
 * MEM_REQUESTS (per run, default 1200), MEM_OTHER_MAIN (another build's main, inside this checkout, as a third side
 * `ours-other`; MEM_OTHER_ENV, JSON: extra environment for that side, with or without MEM_OTHER_MAIN), MEM_WARM=0 (no warm-up: with MEM_ROUNDS=0 each side serves only its first call), MEM_ONLY (comma-separated sides to run: ours, baseline, ours-other).
 */
import { mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startLocalStack } from '../../dev/local-stack.js';
import { agent, isToolSuccess, MCP_HEADERS, post, toolCall, type HttpResult } from '../lib/http.js';
import { isModernToolSuccess, MODERN_VERSION, modernToolCall, recordModernToolCall } from '../lib/modern.js';
import { runLoad } from '../lib/load.js';
import { summarize } from '../lib/stats.js';
import { cpuMsOf, memoryOf, spawnServer, waitUntil, type BenchServer, type ServerKind } from '../lib/procs.js';
import { toPlan } from '../lib/wsapi-plan.js';
import { signInClient, type Client } from '../lib/clients.js';

const PATH = process.env.MEM_PATH === '2025-11-25' ? '2025-11-25' : MODERN_VERSION;
const ROUNDS = Number(process.env.MEM_ROUNDS ?? 2);
const REQUESTS = Number(process.env.MEM_REQUESTS ?? 1200);
const NODE_ARGS = (process.env.MEM_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
/** An idle spell before every c32 run (the bench's ABBA order idles each server ~9 s between its runs). */
const IDLE_MS = Number(process.env.MEM_IDLE_MS ?? 0);
const snapshots = (process.env.MEM_SNAPSHOT ?? '').split(',');
/** Every side writes a heap snapshot (--heapsnapshot-signal=SIGUSR2); a snapshot of a ~40 MB heap takes seconds. */
async function snapshotAll(servers: ReadonlyArray<{ server: BenchServer }>): Promise<void> {
  for (const s of servers) process.kill(s.server.child.pid ?? 0, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 15_000));
}
const log = (m: string) => process.stdout.write(`[mem +${(performance.now() / 1000).toFixed(1)}s] ${m}\n`);

const stack = await startLocalStack({ sandboxOptions: { extraUsers: 32 } });
const stops: Array<() => Promise<void>> = [];
try {
  const sandbox = stack.sandbox;
  if (!sandbox || stack.serverEnv.SECRETS_DIR === undefined) throw new Error('needs the sandbox and local keys');
  const stories = sandbox.items('hierarchicalrequirement');
  const users = Array.from({ length: 32 }, (_, i) => `user${String(i + 1).padStart(3, '0')}`);
  const clients: Client[] = [];
  for (const user of users) {
    const story = stories.find((i) => String(i.Name).startsWith(`${user} story 1`));
    clients.push(await signInClient(stack.url, sandbox, user, String(story?.FormattedID)));
  }
  const serverEnv = {
    ...stack.serverEnv,
    SECRET_SOURCE: 'mounted',
    SECRETS_DIR: resolve(stack.serverEnv.SECRETS_DIR),
    FUNCTION_TARGET: 'mcp',
  };
  const legacyHeaders = { ...MCP_HEADERS, 'mcp-protocol-version': '2025-11-25' };
  const legacy = (server: BenchServer, c: Client, cred: Record<string, string>) =>
    post(`${server.url}/mcp`, toolCall('get_rally_issue', { id: c.itemId }), { ...legacyHeaders, ...cred });
  // Plans, from a first server of ours (as the bench does).
  const first = await spawnServer('ours-dist', serverEnv);
  stops.push(() => first.stop());
  const c0 = clients[0];
  if (!c0) throw new Error('no clients');
  await waitUntil(first, async () =>
    isToolSuccess(await legacy(first, c0, { authorization: `Bearer ${c0.accessToken}` })),
  );
  for (const c of clients) {
    await legacy(first, c, { authorization: `Bearer ${c.accessToken}` });
    sandbox.clearRequests();
    await legacy(first, c, { authorization: `Bearer ${c.accessToken}` });
    c.plan = toPlan(sandbox.requests());
  }
  const recorded = await recordModernToolCall(
    `${first.url}/mcp`,
    { authorization: `Bearer ${c0.accessToken}` },
    'get_rally_issue',
    { id: c0.itemId },
  );
  await first.stop();
  const plansFile = join(mkdtempSync(join(tmpdir(), 'rally-mem-')), 'plans.json');
  writeFileSync(plansFile, JSON.stringify(Object.fromEntries(clients.map((c) => [c.rallyToken, c.plan]))));
  const baselineEnv = { RALLY_BASE_URL: sandbox.url, BASELINE_PLANS_FILE: plansFile, NODE_ENV: 'production' };

  type Who = 'ours' | 'baseline';
  const credOf = (who: Who, c: Client): Record<string, string> =>
    who === 'ours' ? { authorization: `Bearer ${c.accessToken}` } : { 'x-bench-rally-token': c.rallyToken };
  const call = (who: Who, server: BenchServer, c: Client): Promise<HttpResult> => {
    if (PATH === '2025-11-25') return legacy(server, c, credOf(who, c));
    const { body, headers } = modernToolCall(recorded.toolCall, { id: c.itemId });
    return post(`${server.url}/mcp`, body, { ...headers, ...credOf(who, c) });
  };
  const ok = PATH === '2025-11-25' ? isToolSuccess : isModernToolSuccess;
  // MEM_OTHER_MAIN: another build of ours (its dist/bundle/index.js, inside this checkout) as a third side.
  const other = process.env.MEM_OTHER_MAIN;
  const otherEnv = JSON.parse(process.env.MEM_OTHER_ENV ?? '{}') as Record<string, string>;
  const wanted: Array<{ label: string; who: Who; kind: ServerKind; env: Record<string, string> }> = [
    { label: 'ours', who: 'ours', kind: 'ours-dist', env: serverEnv },
    {
      label: 'baseline',
      who: 'baseline',
      kind: PATH === '2025-11-25' ? 'baseline' : 'baseline-v2',
      env: baselineEnv,
    },
    ...(other || process.env.MEM_OTHER_ENV
      ? [
          {
            label: 'ours-other',
            who: 'ours' as const,
            kind: 'ours-dist' as const,
            env: { ...serverEnv, ...(other ? { OURS_MAIN: resolve(other) } : {}), ...otherEnv },
          },
        ]
      : []),
  ];
  const chosen = wanted.filter((w) => !process.env.MEM_ONLY || process.env.MEM_ONLY.split(',').includes(w.label));
  // MEM_COLD=<n>: n cold starts of each side first, in turns (process start to its first answered call).
  const cold = new Map<string, number[]>();
  const coldCpu = new Map<string, number[]>(); // the process's CPU ms when its first call was answered
  for (let i = 0; i < Number(process.env.MEM_COLD ?? 0); i++) {
    for (const w of i % 2 === 0 ? chosen : [...chosen].reverse()) {
      const server = await spawnServer(w.kind, w.env, { nodeArgs: NODE_ARGS });
      const readyMs = await waitUntil(server, async () => ok(await call(w.who, server, c0)));
      const cpu = cpuMsOf(server.child.pid ?? 0);
      await server.stop();
      cold.set(w.label, [...(cold.get(w.label) ?? []), readyMs]);
      coldCpu.set(w.label, [...(coldCpu.get(w.label) ?? []), cpu]);
    }
  }
  const medianOf = (values: readonly number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
  for (const [label, ms] of cold) {
    const sorted = [...ms].sort((a, b) => a - b);
    log(
      `${PATH} ${label}: cold start median ${medianOf(ms).toFixed(0)} ms (CPU ${medianOf(coldCpu.get(label) ?? []).toFixed(0)} ms) of ${sorted.map((v) => v.toFixed(0)).join(' ')}`,
    );
  }
  const sides: Array<{ label: string; who: Who; server: BenchServer; readyMs: number }> = [];
  for (const w of chosen) {
    const stdout = process.env.MEM_STDOUT_DIR
      ? openSync(join(process.env.MEM_STDOUT_DIR, `${w.label}.log`), 'w')
      : undefined;
    const server = await spawnServer(w.kind, w.env, {
      nodeArgs: NODE_ARGS,
      ...(stdout === undefined ? {} : { stdoutFd: stdout }),
    });
    stops.push(() => server.stop());
    const readyMs = await waitUntil(server, async () => ok(await call(w.who, server, c0)));
    sides.push({ label: w.label, who: w.who, server, readyMs });
  }
  for (const s of process.env.MEM_WARM === '0' ? [] : sides) {
    await runLoad({ concurrency: 8, requests: 300, maxMs: 20_000 }, async (w) =>
      ok(await call(s.who, s.server, clients[w % clients.length] as Client)) ? undefined : 'failed',
    );
  }
  if (snapshots.includes('warm')) await snapshotAll(sides);
  const results: Record<string, { lat: number[]; ms: number; cpu: number; errors: number }> = {};
  const timings: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? sides : [...sides].reverse();
    for (const s of order) {
      if (IDLE_MS > 0) await new Promise((r) => setTimeout(r, IDLE_MS)); // the bench's ABBA idle spells
      const pid = s.server.child.pid ?? 0;
      const cpu0 = cpuMsOf(pid);
      const snap =
        snapshots.includes('mid') && round === ROUNDS - 1
          ? setTimeout(() => process.kill(pid, 'SIGUSR2'), 3000)
          : undefined;
      const r = await runLoad({ concurrency: 32, requests: REQUESTS, maxMs: 30_000 }, async (w) => {
        const [t0, started] = [performance.now(), Date.now()];
        const answer = await call(s.who, s.server, clients[w % clients.length] as Client);
        timings.push(
          `${s.label}\t${(performance.now() - t0).toFixed(1)}\t${String(answer.headers['x-request-id'] ?? '')}\t${started}`,
        );
        return ok(answer) ? undefined : 'failed';
      });
      clearTimeout(snap);
      const acc = (results[s.label] ??= { lat: [], ms: 0, cpu: 0, errors: 0 });
      acc.lat.push(...r.latencies);
      acc.ms += r.elapsedMs;
      acc.cpu += cpuMsOf(pid) - cpu0;
      acc.errors += r.errors;
    }
  }
  // MEM_LATENCY_FILE: every c32 call's side, latency (ms), X-Request-Id (ours answers with one) and start, one per line.
  if (process.env.MEM_LATENCY_FILE) writeFileSync(process.env.MEM_LATENCY_FILE, `${timings.join('\n')}\n`);
  if (snapshots.includes('end')) await snapshotAll(sides); // idle: what each side keeps for good
  for (const s of sides) {
    const r = results[s.label];
    if (!r) {
      log(`${PATH} ${s.label}: ready ${s.readyMs.toFixed(0)} ms`);
      continue;
    }
    const sum = summarize(r.lat);
    const mem = memoryOf(s.server.child.pid ?? 0);
    log(
      `${PATH} ${s.label}: ready ${s.readyMs.toFixed(0)} ms | c32 p50 ${sum.p50.toFixed(1)} p90 ${sum.p90.toFixed(1)} p99 ${sum.p99.toFixed(1)} max ${sum.max.toFixed(0)} ` +
        `${((r.lat.length / r.ms) * 1000).toFixed(0)}/s, CPU ${(r.cpu / r.lat.length).toFixed(2)} ms/call, errors ${r.errors} | ` +
        `VmHWM ${mem.hwmMb.toFixed(1)} MB, VmRSS ${mem.rssMb.toFixed(1)} MB | stderr tail: ${s.server.stderrTail().split('\n').slice(-3).join(' / ').slice(0, 300)}`,
    );
  }
} finally {
  for (const s of stops) await s().catch(() => {});
  agent.destroy();
  await stack.stop();
}
process.exit(0);
