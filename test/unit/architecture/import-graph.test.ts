/**
 * The import graph of shared/, type-only imports included: ESLint's import-x/no-cycle skips
 * `import type`, and a circle of types still ties modules together for every reader. This test
 * reads every relative specifier (static, dynamic and type-only) and checks the layer order of
 * eslint/layers.js and the absence of any circle.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAYERS } from '../../../eslint/layers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(rel);
    return e.name.endsWith('.ts') ? [rel] : [];
  });
}

/** Every relative module a file names: `import … from`, `export … from`, `import(…)`. */
export function importsOf(file: string, text: string): string[] {
  const specs = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)'(\.{1,2}\/[^']+)'/gm)].map(
    (m) => m[1]!,
  );
  return specs.map((s) => normalize(join(dirname(file), s)).replace(/\.js$/, '.ts'));
}

const layerOf = (file: string): number => LAYERS.indexOf(file.split('/')[1] ?? '');

/** Strongly connected components with more than one file (Tarjan). */
function circles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('the import graph of shared/ (type-only imports included)', () => {
  const files = sourceFiles('shared');
  const graph = new Map(files.map((f) => [f, importsOf(f, readFileSync(join(ROOT, f), 'utf8'))]));

  it('every file sits in a layer of eslint/layers.js', () => {
    expect(files.filter((f) => layerOf(f) < 0)).toEqual([]);
  });

  it('no import runs up the layers, not even a type-only one', () => {
    const upward = [...graph].flatMap(([f, deps]) =>
      deps.filter((d) => layerOf(d) > layerOf(f)).map((d) => `${f} → ${relative('.', d)}`),
    );
    expect(upward).toEqual([]);
  });

  it('no import circle, not even through type-only imports', () => {
    expect(circles(graph)).toEqual([]);
  });

  it('finds a circle and an upward import when there is one (the check can fail)', () => {
    const a = 'shared/http/a.ts';
    const b = 'shared/http/b.ts';
    const probe = new Map([
      [a, importsOf(a, "import type { B } from './b.js';")],
      [b, importsOf(b, "import { A } from './a.js';\nimport type { X } from '../mcp/x.js';")],
    ]);
    expect(circles(probe)).toEqual([[a, b]]);
    expect(probe.get(b)!.filter((d) => layerOf(d) > layerOf(b))).toEqual(['shared/mcp/x.ts']);
  });
});
