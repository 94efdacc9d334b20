/**
 * A V8 .cpuprofile (from --cpu-prof) as a timeline: per window of `ms` milliseconds from the process's
 * start, the time idle, in GC and in the top areas (our files, each package, node internals), each sample
 * attributed to the nearest frame of ours or of a package on its stack. Shows where a cold start waits
 * and where it computes. Diagnosis only.
 * Usage: node --import tsx bench/tools/profile-timeline.ts <file.cpuprofile> [windowMs=25] [untilMs=3000]
 */
import { readProfile } from '../lib/cpuprofile.js';

const [file, windowArg, untilArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-timeline.ts <file.cpuprofile> [windowMs] [untilMs]');
const windowMs = Number(windowArg ?? 25);
const untilMs = Number(untilArg ?? 3000);
const { prof, nodeOf, parentOf } = readProfile(file);

const areaOf = (url: string): string | undefined => {
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (nm !== undefined) return nm;
  const ours = /\/(dist\/bundle|dist\/shared|dist\/functions|bench\/servers)\/([^/]+?)(?:-[A-Z0-9]{8})?\.m?js$/.exec(
    url,
  );
  return ours ? `${ours[1]}/${ours[2]}` : undefined;
};
const labelOf = (id: number): string => {
  const leaf = nodeOf(id);
  const name = leaf.callFrame.functionName;
  if (name === '(idle)' || name === '(garbage collector)' || name === '(program)') return name;
  for (let cur: number | undefined = id; cur !== undefined; cur = parentOf(cur)) {
    const area = areaOf(nodeOf(cur).callFrame.url);
    if (area) return area;
  }
  return leaf.callFrame.url.startsWith('node:') ? 'node internals' : `(other) ${name}`;
};

// Time since the profile started; the process started a little earlier (node's own start-up).
const windows = new Map<number, Map<string, number>>();
let t = 0;
prof.samples.forEach((id, i) => {
  t += (prof.timeDeltas[i] ?? 0) / 1000;
  if (t > untilMs) return;
  const w = Math.floor(t / windowMs);
  const m = windows.get(w) ?? new Map<string, number>();
  const label = labelOf(id);
  m.set(label, (m.get(label) ?? 0) + (prof.timeDeltas[i + 1] ?? prof.timeDeltas[i] ?? 0) / 1000);
  windows.set(w, m);
});
for (const [w, m] of [...windows].sort((a, b) => a[0] - b[0])) {
  const idle = m.get('(idle)') ?? 0;
  const gc = m.get('(garbage collector)') ?? 0;
  const busy = [...m].filter(([k]) => k !== '(idle)' && k !== '(garbage collector)').sort((a, b) => b[1] - a[1]);
  const top = busy
    .slice(0, 4)
    .map(([k, v]) => `${k} ${v.toFixed(0)}`)
    .join(', ');
  process.stdout.write(
    `${String(w * windowMs).padStart(5)} ms  idle ${idle.toFixed(0).padStart(3)}  gc ${gc.toFixed(0).padStart(2)}  ${top}\n`,
  );
}
