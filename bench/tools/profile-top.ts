/**
 * Summarises a V8 .cpuprofile (from --cpu-prof): self time by function and
 * by package / source area, so a missed target can be traced to a cause.
 * Usage: node --import tsx bench/tools/profile-top.ts <file.cpuprofile> [top=30]
 */
import { readProfile, type ProfileNode as Node } from '../lib/cpuprofile.js';

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-top.ts <file.cpuprofile> [top]');
const top = Number(topArg ?? 30);
const { prof, nodeOf, parentOf } = readProfile(file);
const self = new Map<number, number>();
prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);

const area = (url: string): string => {
  if (!url) return '(native/idle/gc)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (nm !== undefined) return nm;
  if (url.startsWith('node:')) return url;
  const m = /\/(dist|shared|functions|dev|bench)\/(.*?)(\/[^/]+)?$/.exec(url);
  return m ? `${m[1]}/${m[2]}` : url;
};
const fnKey = (n: Node) =>
  `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*node_modules\//, 'nm:').replace(/^.*\/(dist|shared|functions)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;

const sumBy = (key: (n: Node) => string) => {
  const m = new Map<string, number>();
  for (const [id, t] of self) {
    const k = key(nodeOf(id));
    m.set(k, (m.get(k) ?? 0) + t);
  }
  return [...m].sort((a, b) => b[1] - a[1]);
};
// inclusive time per function (each sample counted once per distinct function on its stack)
const inclusive = new Map<string, number>();
for (const [id, t] of self) {
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parentOf(cur)) {
    const k = fnKey(nodeOf(cur));
    if (!seen.has(k)) {
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + t);
    }
  }
}
const pct = (t: number) => `${((100 * t) / total).toFixed(1).padStart(5)}%`;
console.log(`profile ${file}: ${(total / 1000).toFixed(0)} ms sampled`);
console.log('\nSelf time by area:');
for (const [k, t] of sumBy((n) => area(n.callFrame.url)).slice(0, top)) console.log(`${pct(t)} ${k}`);
console.log('\nSelf time by function:');
for (const [k, t] of sumBy(fnKey).slice(0, top)) console.log(`${pct(t)} ${k}`);
console.log('\nInclusive time by function (project code only):');
for (const [k, t] of [...inclusive]
  .filter(([k]) => /(dist|shared|functions)\//.test(k) && !k.includes('nm:'))
  .sort((a, b) => b[1] - a[1])
  .slice(0, top))
  console.log(`${pct(t)} ${k}`);
// inclusive time per area (a sample counts once for every area on its stack)
const inclArea = new Map<string, number>();
for (const [id, t] of self) {
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parentOf(cur)) {
    const k = area(nodeOf(cur).callFrame.url);
    if (!seen.has(k)) {
      seen.add(k);
      inclArea.set(k, (inclArea.get(k) ?? 0) + t);
    }
  }
}
console.log('\nInclusive time by area:');
for (const [k, t] of [...inclArea].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)} ${k}`);
