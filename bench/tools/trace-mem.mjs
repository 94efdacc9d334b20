/**
 * A tracer to load into a bench server with `--import` (bench/run.ts: BENCH_NODE_ARGS_<kind>), the same on
 * both sides. Writes bench/results/trace/<pid>.json every second: the peak of each process.memoryUsage()
 * part (MB), the V8 space sizes when RSS peaked, the garbage collections (count and ms, minor and major),
 * CPU ms, and the packages the process loaded (ESM and CommonJS) with ms since start. The same count of
 * minor collections on both sides means the same bytes allocated; more minor-collection time means more
 * survivors copied (and promoted to the old space). A module-resolution hook runs on its own thread, so
 * a traced run is for tracing only, not for the targets.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Module, register } from 'node:module';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';

const dir = new URL('../results/trace/', import.meta.url);
mkdirSync(dir, { recursive: true });
const out = new URL(`${process.pid}.json`, dir);
const t0 = performance.now();
const packages = {};
const packageOf = (url) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
const seen = (kind, url) => {
  const name = packageOf(url);
  if (name) packages[`${kind}:${name}`] ??= Math.round(performance.now() - t0);
};

const { port1, port2 } = new MessageChannel();
port1.on('message', (url) => seen('esm', url));
port1.unref();
register(new URL('./trace-mem-hooks.mjs', import.meta.url), { data: { port: port2 }, transferList: [port2] });
const load = Module._load;
Module._load = function (request, parent, isMain) {
  const loaded = load.call(this, request, parent, isMain);
  try {
    seen('cjs', Module._resolveFilename(request, parent, isMain));
  } catch {
    // a built-in or an unresolvable request: not a package
  }
  return loaded;
};

const MB = 1048576;
const peak = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
let spacesAtPeak = {};
const gcs = { minor: 0, major: 0, other: 0, minorMs: 0, majorMs: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = e.detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) {
      gcs.minor++;
      gcs.minorMs += e.duration;
    } else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
      gcs.major++;
      gcs.majorMs += e.duration;
    } else gcs.other++;
  }
}).observe({ entryTypes: ['gc'] });
setInterval(() => {
  const m = process.memoryUsage();
  if (m.rss > peak.rss)
    spacesAtPeak = Object.fromEntries(
      getHeapSpaceStatistics().map((s) => [s.space_name, Math.round(s.space_size / MB)]),
    );
  for (const k of Object.keys(peak)) peak[k] = Math.max(peak[k], m[k]);
}, 20).unref();
setInterval(() => {
  const { user, system } = process.cpuUsage();
  const mb = Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, Math.round(v / MB)]));
  const round = Object.fromEntries(Object.entries(gcs).map(([k, v]) => [k, Math.round(v)]));
  const trace = {
    argv: process.argv.slice(1),
    peakMb: mb,
    spacesAtPeakMb: spacesAtPeak,
    gcs: round,
    cpuMs: Math.round((user + system) / 1000),
    packages,
  };
  writeFileSync(out, `${JSON.stringify(trace)}\n`);
}, 1000).unref();
