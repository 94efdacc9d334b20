/**
 * `GET /search/issues` query language, the subset the product uses and a little
 * more (docs/github-api.md §3.5): free-text words and quoted phrases matched as
 * whole words in title and body, and the qualifiers is:, type:, state:, repo:,
 * user:/org:/owner:, author:, head:, base:, draft:, in:, each negatable with `-`.
 * @module
 */
import type { ItemRec, RepoRec } from './seed.js';

export interface Term {
  readonly text: string;
  readonly phrase: boolean;
  readonly negated: boolean;
}

export interface Qualifier {
  readonly key: string;
  readonly value: string;
  readonly negated: boolean;
}

export interface ParsedQuery {
  readonly terms: readonly Term[];
  readonly qualifiers: readonly Qualifier[];
  readonly operators: readonly string[];
}

const QUALIFIERS = new Set([
  'is',
  'type',
  'state',
  'repo',
  'user',
  'org',
  'owner',
  'author',
  'head',
  'base',
  'draft',
  'in',
]);

export function parseQuery(q: string): ParsedQuery {
  const terms: Term[] = [];
  const qualifiers: Qualifier[] = [];
  const operators: string[] = [];
  for (const m of q.matchAll(/(-?)(?:([A-Za-z_-]+):("[^"]*"|\S+)|"([^"]*)"|(\S+))/g)) {
    const negated = m[1] === '-';
    const key = m[2]?.toLowerCase();
    if (key !== undefined && QUALIFIERS.has(key)) {
      qualifiers.push({ key, value: (m[3] ?? '').replace(/^"|"$/g, ''), negated });
      continue;
    }
    if (m[4] !== undefined) {
      terms.push({ text: m[4], phrase: true, negated });
      continue;
    }
    const word = key !== undefined ? `${m[2]}:${m[3] ?? ''}` : (m[5] ?? '');
    if (!negated && ['AND', 'OR', 'NOT'].includes(word)) {
      operators.push(word);
      continue;
    }
    terms.push({ text: word, phrase: false, negated });
  }
  return { terms, qualifiers, operators };
}

/** Lower-case words: letters and digits, split at everything else ("feature/US1-x" → feature, us1, x). */
export const words = (s: string): string[] =>
  s
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);

/** The query's text, without qualifiers and operators: what GitHub's 256-character limit counts. */
export const textLength = (p: ParsedQuery): number => p.terms.map((t) => t.text).join(' ').length;

export type ItemKind = 'pull' | 'issue';

/** The result type the query asks for: GitHub refuses /search/issues without one (docs/github-api.md §3.5). */
export function kindOf(p: ParsedQuery): ItemKind | undefined {
  let kind: ItemKind | undefined;
  for (const q of p.qualifiers) {
    if (q.negated || (q.key !== 'is' && q.key !== 'type')) continue;
    const v = q.value.toLowerCase();
    if (v === 'pr' || v === 'pull-request') kind = 'pull';
    if (v === 'issue') kind = 'issue';
  }
  return kind;
}

function qualifierHolds(q: Qualifier, r: RepoRec, item: ItemRec): boolean {
  const v = q.value.toLowerCase();
  const pull = item.kind === 'pull' ? item : undefined;
  switch (q.key) {
    case 'is':
    case 'type':
      if (v === 'pr' || v === 'pull-request') return item.kind === 'pull';
      if (v === 'issue') return item.kind === 'issue';
      if (v === 'open' || v === 'closed') return item.state === v;
      if (v === 'merged') return pull?.mergedAt != null;
      if (v === 'unmerged') return pull !== undefined && pull.state === 'closed' && pull.mergedAt === null;
      if (v === 'draft') return pull?.draft === true;
      if (v === 'public') return !r.private;
      if (v === 'private') return r.private;
      return false;
    case 'state':
      return item.state === v;
    case 'repo':
      return r.fullName.toLowerCase() === v;
    case 'user':
    case 'org':
    case 'owner':
      return r.owner.toLowerCase() === v;
    case 'author':
      return item.author.toLowerCase() === v;
    case 'head':
      // "head:change matches pull requests opened from branch names beginning with the word change"
      return pull !== undefined && pull.headRef.toLowerCase().startsWith(v);
    case 'base':
      return pull !== undefined && pull.baseRef.toLowerCase() === v;
    case 'draft':
      return pull !== undefined && pull.draft === (v === 'true');
    default:
      return true; // `in:` chooses fields; it filters nothing itself
  }
}

function textOf(p: ParsedQuery, item: ItemRec): string {
  const fields = p.qualifiers
    .filter((q) => q.key === 'in' && !q.negated)
    .flatMap((q) => q.value.toLowerCase().split(','));
  const want = fields.length ? new Set(fields) : new Set(['title', 'body', 'comments']);
  return [want.has('title') ? item.title : '', want.has('body') ? (item.body ?? '') : ''].join('\n');
}

function termHolds(t: Term, text: string, textWords: ReadonlySet<string>): boolean {
  if (t.phrase) return words(text).join(' ').includes(words(t.text).join(' '));
  const w = words(t.text);
  return w.length > 0 && w.every((x) => textWords.has(x));
}

const SCOPE_KEYS = new Set(['repo', 'user', 'org', 'owner']);

/** Whether the item matches; the repositories named by repo:/user:/org:/owner: (OR-ed) are the caller's to pick. */
export function matches(p: ParsedQuery, r: RepoRec, item: ItemRec): boolean {
  for (const q of p.qualifiers) {
    if (!q.negated && SCOPE_KEYS.has(q.key)) continue;
    if (qualifierHolds(q, r, item) === q.negated) return false;
  }
  const text = textOf(p, item);
  const textWords = new Set(words(text));
  for (const t of p.terms) if (termHolds(t, text, textWords) === t.negated) return false;
  return true;
}

/** Owners and repositories the query names with repo:, user:, org:, owner: (not negated). */
export function namedScopes(p: ParsedQuery): { repos: string[]; owners: string[] } {
  const repos: string[] = [];
  const owners: string[] = [];
  for (const q of p.qualifiers) {
    if (q.negated) continue;
    if (q.key === 'repo') repos.push(q.value.toLowerCase());
    if (q.key === 'user' || q.key === 'org' || q.key === 'owner') owners.push(q.value.toLowerCase());
  }
  return { repos, owners };
}
