/**
 * Summarises a V8 .heapsnapshot (from --heapsnapshot-signal, e.g. via bench/tools/mem-compare.ts): self size
 * and count by node type and constructor / function name, largest first, so two snapshots (ours, a baseline)
 * can be compared by what is alive. With a third argument, a constructor name (e.g. `Timeout`): what is
 * reachable only through objects of that name (reachable from the roots, but no longer once those objects
 * are not traversed), i.e. what they keep alive between them. Diagnosis only.
 * With `--after <earlier.heapsnapshot>` (of the same process) only objects created after that snapshot count
 * (V8 numbers objects in the order snapshots first see them): e.g. what the requests in flight keep alive.
 * Usage: node --import tsx bench/tools/heap-top.ts [--after <earlier>] <file.heapsnapshot> [top=40] [constructor]
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

const args = process.argv.slice(2);
const afterAt = args.indexOf('--after');
const earlier = afterAt >= 0 ? args.splice(afterAt, 2)[1] : undefined;
const [file, topArg, through] = args;
if (!file) throw new Error('usage: heap-top.ts <file.heapsnapshot> [top] [constructor]');
const top = Number(topArg ?? 40);
const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const { meta } = snap.snapshot;
const types = meta.node_types[0];
const width = meta.node_fields.length;
const field = (f: string) => meta.node_fields.indexOf(f);
const [iType, iName, iSize, iEdges, iId] = ['type', 'name', 'self_size', 'edge_count', 'id'].map(field) as [
  number,
  number,
  number,
  number,
  number,
];
const nodeCount = snap.nodes.length / width;
const at = (n: number, f: number) => snap.nodes[n * width + f] ?? 0;
const typeOf = (n: number) => types[at(n, iType)] ?? '?';
const keyOf = (n: number) => {
  const type = typeOf(n);
  let name = type.endsWith('string') ? '' : (snap.strings[at(n, iName)] ?? '');
  if (name.length > 60) name = `${name.slice(0, 57)}...`;
  return `${type}:${name}`;
};

function report(title: string, nodes: Iterable<number>): void {
  const groups = new Map<string, { count: number; bytes: number }>();
  let total = 0;
  let count = 0;
  for (const n of nodes) {
    const size = at(n, iSize);
    total += size;
    count++;
    const key = keyOf(n);
    const g = groups.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += size;
    groups.set(key, g);
  }
  process.stdout.write(`${title}: ${(total / 1048576).toFixed(2)} MB self size in ${count} nodes\n`);
  for (const [key, g] of [...groups.entries()].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top))
    process.stdout.write(`${(g.bytes / 1024).toFixed(0).padStart(9)} KB ${String(g.count).padStart(8)}  ${key}\n`);
}

/** The highest object id in an earlier snapshot: objects above it were created after it. */
function maxIdOf(path: string): number {
  const before = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const w = before.snapshot.meta.node_fields.length;
  const id = before.snapshot.meta.node_fields.indexOf('id');
  let max = 0;
  for (let i = id; i < before.nodes.length; i += w) max = Math.max(max, before.nodes[i] ?? 0);
  return max;
}

const allNodes = Array.from({ length: nodeCount }, (_, n) => n);
if (earlier) {
  const since = maxIdOf(earlier);
  report(
    `${file}: objects created after ${earlier}`,
    allNodes.filter((n) => at(n, iId) > since),
  );
} else if (!through) {
  report(file, allNodes);
} else {
  // First edge of each node, then reachability from the root (node 0) over non-weak edges.
  const firstEdge = new Uint32Array(nodeCount + 1);
  for (let n = 0; n < nodeCount; n++) firstEdge[n + 1] = (firstEdge[n] ?? 0) + at(n, iEdges);
  const ew = meta.edge_fields.length;
  const [eType, eTo] = [meta.edge_fields.indexOf('type'), meta.edge_fields.indexOf('to_node')];
  const weak = meta.edge_types[0].indexOf('weak');
  const blocked = (n: number) => typeOf(n) === 'object' && snap.strings[at(n, iName)] === through;
  const reach = (skip: boolean): Uint8Array => {
    const seen = new Uint8Array(nodeCount);
    const stack = [0];
    seen[0] = 1;
    while (stack.length > 0) {
      const n = stack.pop() as number;
      if (skip && blocked(n)) continue;
      for (let e = firstEdge[n] ?? 0; e < (firstEdge[n + 1] ?? 0); e++) {
        if (snap.edges[e * ew + eType] === weak) continue;
        const to = (snap.edges[e * ew + eTo] ?? 0) / width;
        if (!seen[to]) {
          seen[to] = 1;
          stack.push(to);
        }
      }
    }
    return seen;
  };
  const all = reach(false);
  const without = reach(true);
  const only: number[] = [];
  for (let n = 0; n < nodeCount; n++) if (all[n] && !without[n]) only.push(n);
  report(`${file}: reachable only through ${through} objects`, only);
}
