/**
 * The security checklist and the Rally API reference that code and tests cite
 * live in docs/; these tests keep the citations honest in both directions:
 * every case has a test named after it, every id a test names exists, and
 * every `rally-api.md §N` a source file cites is a section of the reference.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = new URL('../../..', import.meta.url).pathname;
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...sourceFiles(rel));
    else if (/\.(ts|mjs|md)$/.test(name)) out.push(rel);
  }
  return out;
}

/** `- **A1.** …` lines of docs/security-cases.md. */
const CASE_IDS = [...read('docs/security-cases.md').matchAll(/^- \*\*([A-Z]\d+)\.\*\*/gm)].map((m) => m[1]!);

/** Ids a test title starts with: `it('B3/C2/C6: …')`, `describe('L20: …')`, `it.each(…)('H2: …')`. */
function idsNamedByTests(): Map<string, string[]> {
  const named = new Map<string, string[]>();
  for (const file of sourceFiles('test').filter((f) => f.endsWith('.test.ts'))) {
    const text = read(file);
    for (const m of text.matchAll(
      /\b(?:it|test|describe)(?:\.each\([\s\S]*?\))?\(\s*['"`]((?:[A-Z]\d+[/, ]*(?:and )?)+)[:—\s-]/g,
    )) {
      for (const id of m[1]!.match(/[A-Z]\d+/g) ?? [])
        named.set(id, [...(named.get(id) ?? []), relative(ROOT, join(ROOT, file))]);
    }
  }
  return named;
}

describe('docs/security-cases.md and the tests that cite it', () => {
  const named = idsNamedByTests();

  it('lists its cases once each, with unique ids', () => {
    expect(CASE_IDS.length).toBeGreaterThan(100);
    expect(new Set(CASE_IDS).size).toBe(CASE_IDS.length);
  });

  it('every case has at least one test named after its id', () => {
    expect(CASE_IDS.filter((id) => !named.has(id))).toEqual([]);
  });

  it('every id a test title names is a case of the checklist', () => {
    const known = new Set(CASE_IDS);
    expect([...named.keys()].filter((id) => !known.has(id)).sort()).toEqual([]);
  });
});

describe('docs/rally-api.md and the code that cites it', () => {
  const reference = read('docs/rally-api.md');
  const headings = new Set([...reference.matchAll(/^#{2,3} (\d+(?:\.\d+)?)[. ]/gm)].map((m) => m[1]!));
  /** `§5.3` may also name item 3 of a section whose body is a numbered list. */
  const exists = (section: string): boolean => {
    if (headings.has(section)) return true;
    const [major, item] = section.split('.');
    if (!item) return false;
    const body = reference.split(/^## /m).find((s) => s.startsWith(`${major}. `));
    return body !== undefined && new RegExp(`^${item}\\. `, 'm').test(body);
  };

  it('every `rally-api.md §…` cited in code, tests and docs is a section of the reference', () => {
    const missing: string[] = [];
    for (const file of [
      ...sourceFiles('shared'),
      ...sourceFiles('rally-sandbox'),
      ...sourceFiles('test'),
      ...sourceFiles('dev'),
      ...sourceFiles('docs'),
    ]) {
      for (const m of read(file).matchAll(/rally-api\.md((?:,? ?§\d+(?:\.\d+)?(?:[–-]\d+(?:\.\d+)?)?)+)/g)) {
        for (const range of m[1]!.matchAll(/§(\d+(?:\.\d+)?)(?:[–-](\d+(?:\.\d+)?))?/g)) {
          const [from, to] = [range[1]!, range[2]];
          const ends = [from, ...(to ? [to.includes('.') ? to : `${from.split('.')[0]}.${to}`] : [])];
          for (const s of ends) if (!exists(s)) missing.push(`${file}: §${s}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});
