/**
 * The prose a newcomer reads must point at things that exist: every repository path that
 * README.md, CONTRIBUTING.md, docs/*.md and the other guides name (`shared/store/…`,
 * `test/unit/…`, …), every Markdown file they name, every relative Markdown link, and every tool
 * name they use in examples; docs/architecture.md's layers table matches shared/, and the
 * functions and types it and CONTRIBUTING.md name exist. A folder move, a rename or a renamed
 * tool then fails here instead of leaving the docs behind.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fromMarkdown } from 'mdast-util-from-markdown';
import { gfmFromMarkdown } from 'mdast-util-gfm';
import { gfm } from 'micromark-extension-gfm';
import { ALL_TOOLS } from '../../../shared/mcp/tools/register.js';
import { CONFIRM_TOOL } from '../../../shared/mcp/tools/session.tools.js';
import { CONNECTION_TOOL } from '../../../shared/mcp/tools/connection.tools.js';

const ROOT = new URL('../../..', import.meta.url).pathname;
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

/** The guides checked. CHANGELOG.md is left out on purpose: it records paths as they were. */
const GUIDES = [
  'README.md',
  'CONTRIBUTING.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  'rally-sandbox/README.md',
  'github-sandbox/README.md',
  'ops/audit-queries.md',
];

/** Paths that look like ours but name another project's files (a citation, not a pointer). */
const NOT_OURS: Record<string, readonly string[]> = {
  'docs/security-cases.md': ['test/pkce'], // panva/node-oidc-provider's test folder, cited as a reference
};

/** Markdown files other projects have, cited by name as references. */
const OTHER_PROJECTS_DOCS = new Set(['storage-schema.md']); // cloudflare/workers-oauth-provider

/** A repository path: starts at one of our top-level folders, not inside a URL or a longer path. */
const REPO_PATH =
  /(?<![\w./@-])((?:shared|functions|test|docs|dev|scripts|ops|rally-sandbox|github-sandbox)\/[\w.\-/*<>{},]*[\w*>}/])/g;

/** `a/{b,c}/d` → `a/b/d`, `a/c/d`. */
function expandBraces(path: string): string[] {
  const m = /\{([^{}]*)\}/.exec(path);
  if (!m) return [path];
  return m[1]!
    .split(',')
    .flatMap((alt) => expandBraces(path.slice(0, m.index) + alt + path.slice(m.index + m[0].length)));
}

/** Whether `path` exists; `*` and `<placeholder>` segments match any entry, `x.js` may be the source `x.ts`. */
function exists(path: string): boolean {
  const walk = (dir: string, segments: readonly string[]): boolean => {
    if (segments.length === 0) return true;
    const [head, ...rest] = segments;
    if (head === '' || head === '.') return walk(dir, rest);
    const full = join(ROOT, dir);
    if (!/[*<]/.test(head!)) {
      const next = join(dir, head!);
      if (existsSync(join(ROOT, next))) return walk(next, rest);
      return rest.length === 0 && head!.endsWith('.js') && existsSync(join(ROOT, next.replace(/\.js$/, '.ts')));
    }
    if (!existsSync(full) || !statSync(full).isDirectory()) return false;
    const pattern = new RegExp(
      `^${head!
        .replace(/[.+?^$()[\]\\|]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/<[^>]*>/g, '[^/]+')}$`,
    );
    return readdirSync(full).some((entry) => pattern.test(entry) && walk(join(dir, entry), rest));
  };
  return expandBraces(path).every((p) => walk('', p.split('/')));
}

/** TypeScript and JavaScript sources under `dir`. */
function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) return sourceFiles(rel);
    return /\.(ts|mjs)$/.test(e.name) ? [rel] : [];
  });
}

/** Our Markdown files, outside node_modules and generated folders. */
function markdownFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = dir === '.' ? e.name : `${dir}/${e.name}`;
    if (e.isDirectory())
      return /^(node_modules|\.git|dist|test-results|coverage)$/.test(e.name) ? [] : markdownFiles(rel);
    return e.name.endsWith('.md') ? [rel] : [];
  });
}

interface MdNode {
  readonly type: string;
  readonly url?: string;
  readonly value?: string;
  readonly depth?: number;
  readonly children?: readonly MdNode[];
}

const parse = (markdown: string): MdNode =>
  fromMarkdown(markdown, { extensions: [gfm()], mdastExtensions: [gfmFromMarkdown()] }) as MdNode;

const textOf = (node: MdNode): string => node.value ?? (node.children ?? []).map(textOf).join('');

/** Body rows (cells) of the first table under the `## <heading>` heading. */
function tableUnder(markdown: string, heading: string): MdNode[][] {
  const nodes = parse(markdown).children ?? [];
  const start = nodes.findIndex((n) => n.type === 'heading' && n.depth === 2 && textOf(n) === heading);
  const table = nodes.slice(start + 1).find((n) => n.type === 'table' || n.type === 'heading');
  if (start < 0 || table?.type !== 'table') throw new Error(`no table under "## ${heading}"`);
  return (table.children ?? []).slice(1).map((row) => [...(row.children ?? [])]);
}

/** The code spans of a table cell. */
const codesIn = (cell: MdNode | undefined): string[] =>
  cell?.type === 'inlineCode' ? [cell.value ?? ''] : (cell?.children ?? []).flatMap(codesIn);

/** Relative link targets (no scheme, no pure anchor) of a Markdown document. */
function relativeLinks(markdown: string): string[] {
  const tree = parse(markdown);
  const out: string[] = [];
  const visit = (node: MdNode): void => {
    if ((node.type === 'link' || node.type === 'definition') && node.url && !/^([a-z][a-z0-9+.-]*:|#)/i.test(node.url))
      out.push(node.url);
    node.children?.forEach(visit);
  };
  visit(tree);
  return out;
}

describe('paths, links and tool names in the guides', () => {
  it('every guide exists', () => {
    expect(GUIDES.filter((g) => !existsSync(join(ROOT, g)))).toEqual([]);
  });

  it('every shared/, functions/, test/, docs/, dev/, scripts/, ops/, rally-sandbox/ and github-sandbox/ path a guide names exists', () => {
    const missing: string[] = [];
    let checked = 0;
    for (const guide of GUIDES) {
      for (const m of read(guide).matchAll(REPO_PATH)) {
        const path = m[1]!;
        if (NOT_OURS[guide]?.includes(path)) continue;
        checked++;
        if (!exists(path)) missing.push(`${guide}: ${path}`);
      }
    }
    expect(checked).toBeGreaterThan(50); // the pattern still finds the paths
    expect(missing).toEqual([]);
  });

  it('every Markdown file a guide names by its bare file name is one of ours', () => {
    const ours = new Set(markdownFiles('.').map((f) => f.split('/').pop()!));
    const unknown: string[] = [];
    for (const guide of GUIDES) {
      for (const m of read(guide).matchAll(/(?<![\w./-])([\w-]+\.md)\b/g)) {
        if (!ours.has(m[1]!) && !OTHER_PROJECTS_DOCS.has(m[1]!)) unknown.push(`${guide}: ${m[1]!}`);
      }
    }
    expect(unknown).toEqual([]);
  });

  it('every relative Markdown link resolves to a file or folder of the repository', () => {
    const broken: string[] = [];
    for (const guide of GUIDES) {
      for (const url of relativeLinks(read(guide))) {
        const target = normalize(join(dirname(guide), decodeURIComponent(url.split('#')[0]!)));
        if (!existsSync(join(ROOT, target))) broken.push(`${guide}: ${url}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('every tool name a guide uses is a real tool', () => {
    const tools = new Set([...ALL_TOOLS.map((t) => t.name), CONFIRM_TOOL, CONNECTION_TOOL]);
    const unknown: string[] = [];
    for (const guide of GUIDES) {
      // Tool names are verb_noun snake case; anything spelled like one must be one.
      for (const m of read(guide).matchAll(
        /\b(?:get|list|search|create|update|add|delete|disconnect|confirm)_[a-z_]+\b/g,
      )) {
        if (!tools.has(m[0])) unknown.push(`${guide}: ${m[0]}`);
      }
    }
    expect(unknown).toEqual([]);
  });
});

describe('docs/architecture.md and shared/', () => {
  const rows = tableUnder(read('docs/architecture.md'), 'Layers');
  const folderOf = (cells: MdNode[]) => codesIn(cells[1])[0] ?? '';

  it('its layers table lists every folder of shared/ once, and no other', () => {
    const folders = readdirSync(join(ROOT, 'shared'), { withFileTypes: true })
      // a folder emptied by a move lingers in a working copy (git tracks files, not folders)
      .filter((e) => e.isDirectory() && readdirSync(join(ROOT, 'shared', e.name)).length > 0)
      .map((e) => `${e.name}/`);
    expect(rows.map(folderOf).sort()).toEqual(folders.sort());
  });

  it('every file its layers table names is in that folder', () => {
    const missing = rows.flatMap((cells) =>
      codesIn(cells[2])
        .filter((code) => /^[\w.*/-]+\.ts$/.test(code))
        .map((file) => `shared/${folderOf(cells)}${file}`)
        .filter((path) => !exists(path)),
    );
    expect(missing).toEqual([]);
  });
});

describe('the code names in docs/architecture.md and CONTRIBUTING.md', () => {
  const sources = ['shared', 'functions', 'dev', 'scripts', 'test/setup', 'test/helpers']
    .flatMap((dir) => sourceFiles(dir))
    .map(read)
    .join('\n');
  /** `createCallContext`, `UpstreamTokenStore.refresh`, `ALL_TOOLS`: names a rename would leave behind. */
  const isCodeName = (s: string) =>
    /^[A-Za-z_]\w*(\.[A-Za-z_]\w*)?$/.test(s) &&
    ((/[A-Z]/.test(s) && /[a-z]/.test(s)) || /^[A-Z0-9]+_[A-Z0-9_]+$/.test(s));

  it.each(['docs/architecture.md', 'CONTRIBUTING.md'])(
    '%s: every function, type and constant it names exists',
    (guide) => {
      const names = [...read(guide).matchAll(/`([^`\s]+)`/g)].map((m) => m[1]!).filter(isCodeName);
      expect(names.length).toBeGreaterThan(0);
      // `Type.member`: the type as a word, the member as a method or property (`member(`, `member:`).
      const found = (name: string) => {
        const [type, member] = name.split('.');
        return (
          new RegExp(`\\b${type}\\b`).test(sources) &&
          (member === undefined || new RegExp(`\\b${member}\\s*[(:]`).test(sources))
        );
      };
      const missing = names.filter((name) => !found(name));
      expect([...new Set(missing)]).toEqual([]);
    },
  );
});
