/**
 * Compiles a parsed query (and an `order` clause) against a type into
 * predicates and comparators. Dotted paths follow refs one object at a time.
 * @module
 */
import { TYPES, type FieldDef, type TypeDef, type TypeKey } from './model.js';
import { QueryError, type QueryNode, type QueryOp, type QueryValue } from './query.js';
import { computeRollup } from './rollups.js';
import type { Store, StoredObject } from './store.js';

type Getter = (obj: StoredObject) => unknown[];
interface Resolved {
  readonly get: Getter;
  readonly field: FieldDef;
  readonly name: string;
}
export type Predicate = (obj: StoredObject) => boolean;

type Operand =
  | { readonly k: 'null' }
  | { readonly k: 'str'; readonly s: string }
  | { readonly k: 'num'; readonly n: number }
  | { readonly k: 'day'; readonly day: string }
  | { readonly k: 'instant'; readonly ms: number }
  | { readonly k: 'ref'; readonly oid: number }
  | { readonly k: 'user'; readonly userName: string };

const DAY = 86_400_000;

/** Resolves `Owner.UserName`-style paths; unknown segments are errors. */
function resolvePath(type: TypeDef, path: readonly string[], store: Store): Resolved {
  const [head, ...rest] = path;
  const field = head === undefined ? undefined : type.fields[head === 'Rank' ? 'DragAndDropRank' : head];
  if (head === undefined || !field || field.kind === 'collection') {
    throw new QueryError(
      `Could not find attribute "${head ?? ''}" on type ${type.name} in the query segment "${path.join('.')}"`,
    );
  }
  const name = head === 'Rank' ? 'DragAndDropRank' : head;
  if (rest.length === 0) {
    const computed = field.computed;
    if (computed) return { get: (o) => [computeRollup(store, o, computed)], field, name };
    return { get: (o) => [o.values[name]], field, name };
  }
  const targets: readonly TypeKey[] =
    field.kind === 'tags' ? ['tag'] : field.kind === 'ref' || field.kind === 'refset' ? (field.refTypes ?? []) : [];
  const target = targets.map((t) => TYPES[t]).find((t) => rest[0] !== undefined && rest[0] in t.fields);
  if (!target)
    throw new QueryError(
      `Could not find attribute "${rest[0] ?? ''}" on type ${TYPES[targets[0] ?? type.key].name} in the query segment "${path.join('.')}"`,
    );
  const inner = resolvePath(target, rest, store);
  const get: Getter = (o) => {
    const v = o.values[name];
    const ids = Array.isArray(v) ? (v as number[]) : typeof v === 'number' ? [v] : [];
    const out: unknown[] = [];
    for (const id of ids) {
      const child = store.get(id);
      if (child) out.push(...inner.get(child));
    }
    return ids.length === 0 ? [null] : out;
  };
  return { get, field: inner.field, name: inner.name };
}

/** ISO date (`YYYY-MM-DD` → whole-day comparison), ISO instant, or `today[+-n]` in UTC days. */
function dateOperand(text: string, now: Date): Operand {
  const t = /^today(?:([+-])(\d+))?$/i.exec(text);
  if (t) {
    const offset = t[2] ? Number(t[2]) * (t[1] === '-' ? -1 : 1) : 0;
    return { k: 'day', day: new Date(now.getTime() + offset * DAY).toISOString().slice(0, 10) };
  }
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return { k: 'day', day: text };
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new QueryError(`Could not convert "${text}" to a date`);
  return { k: 'instant', ms };
}

/** `/iteration/123`, an absolute ref URL, or a bare ObjectID. */
export function parseRefOid(text: string): number | undefined {
  const m = /(?:^|\/)(?:[A-Za-z]+\/)?(\d{1,15})(?:\.js)?$/.exec(text.trim());
  return m?.[1] ? Number(m[1]) : undefined;
}

function operand(field: FieldDef, v: QueryValue, now: Date): Operand {
  if (!v.quoted && v.text.toLowerCase() === 'null') return { k: 'null' };
  switch (field.kind) {
    case 'integer':
    case 'decimal': {
      const n = Number(v.text);
      if (v.text.trim() === '' || Number.isNaN(n)) throw new QueryError(`Could not convert "${v.text}" to a number`);
      return { k: 'num', n };
    }
    case 'boolean': {
      const b = v.text.toLowerCase();
      if (b !== 'true' && b !== 'false') throw new QueryError(`Could not convert "${v.text}" to a boolean`);
      return { k: 'num', n: b === 'true' ? 1 : 0 };
    }
    case 'date':
      return dateOperand(v.text, now);
    case 'ref':
    case 'refset':
    case 'tags': {
      const oid = parseRefOid(v.text);
      if (oid !== undefined) return { k: 'ref', oid };
      if (field.refTypes?.[0] === 'user') return { k: 'user', userName: v.text };
      throw new QueryError(`Could not parse ref "${v.text}"`);
    }
    default:
      return { k: 'str', s: v.text };
  }
}

/** -1/0/1, or undefined when the leaf and operand cannot be ordered. */
function compare(field: FieldDef, leaf: unknown, o: Operand, store: Store): number | undefined {
  switch (o.k) {
    case 'num':
      if (typeof leaf === 'boolean') return Math.sign((leaf ? 1 : 0) - o.n);
      return typeof leaf === 'number' ? Math.sign(leaf - o.n) : undefined;
    case 'day':
      return typeof leaf === 'string' ? cmp(leaf.slice(0, 10), o.day) : undefined;
    case 'instant':
      return typeof leaf === 'string' ? Math.sign(Date.parse(leaf) - o.ms) : undefined;
    case 'ref':
      return typeof leaf === 'number' ? (leaf === o.oid ? 0 : 1) : undefined;
    case 'user': {
      const u = typeof leaf === 'number' ? store.get(leaf) : undefined;
      return u ? (u.values.UserName === o.userName ? 0 : 1) : undefined;
    }
    case 'str': {
      if (typeof leaf !== 'string') return undefined;
      if (field.ordered && field.values) {
        const a = field.values.indexOf(leaf);
        const b = field.values.indexOf(o.s);
        if (b < 0) return leaf === o.s ? 0 : 1;
        return Math.sign(a - b);
      }
      return cmp(leaf, o.s);
    }
    case 'null':
      return isNullish(leaf) ? 0 : undefined;
  }
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const isNullish = (v: unknown): boolean =>
  v === null || v === undefined || v === '' || v === 'None' || (Array.isArray(v) && v.length === 0);

function leafMatches(field: FieldDef, op: QueryOp, leaf: unknown, o: Operand, store: Store): boolean {
  if (op === 'contains' || op === '!contains') {
    const hit = typeof leaf === 'string' && o.k === 'str' && leaf.toLowerCase().includes(o.s.toLowerCase());
    return op === 'contains' ? hit : !hit;
  }
  if (o.k === 'null') {
    const isNull = isNullish(leaf);
    if (op === '=') return isNull;
    if (op === '!=') return !isNull;
    return false;
  }
  const c = compare(field, leaf, o, store);
  switch (op) {
    case '=':
      return c === 0;
    case '!=':
      return c !== 0;
    case '<':
      return c !== undefined && c < 0;
    case '<=':
      return c !== undefined && c <= 0;
    case '>':
      return c !== undefined && c > 0;
    case '>=':
      return c !== undefined && c >= 0;
    default:
      return false;
  }
}

function compileCond(type: TypeDef, node: Extract<QueryNode, { kind: 'cond' }>, store: Store, now: Date): Predicate {
  const { get, field } = resolvePath(type, node.path, store);
  if ((node.op === 'contains' || node.op === '!contains') && !['string', 'text', 'enum'].includes(field.kind)) {
    throw new QueryError(`Operator ${node.op} is not supported for attribute "${node.path.join('.')}"`);
  }
  if (node.op === 'in') {
    const items = node.value.text
      .split(',')
      .map((s) => operand(field, { text: s.trim(), quoted: node.value.quoted }, now));
    return (obj) => get(obj).some((leaf) => items.some((o) => leafMatches(field, '=', leaf, o, store)));
  }
  const o = operand(field, node.value, now);
  const negative = node.op === '!=' || node.op === '!contains';
  if (negative) {
    const positive: QueryOp = node.op === '!=' ? '=' : 'contains';
    return (obj) => !get(obj).some((leaf) => leafMatches(field, positive, leaf, o, store));
  }
  return (obj) => get(obj).some((leaf) => leafMatches(field, node.op, leaf, o, store));
}

/** Compiles a query tree into a predicate; throws QueryError for unknown attributes or bad values. */
export function compileQuery(type: TypeDef, node: QueryNode, store: Store, now: Date): Predicate {
  if (node.kind === 'cond') return compileCond(type, node, store, now);
  const l = compileQuery(type, node.left, store, now);
  const r = compileQuery(type, node.right, store, now);
  return node.op === 'AND' ? (o) => l(o) && r(o) : (o) => l(o) || r(o);
}

export type Comparator = (a: StoredObject, b: StoredObject) => number;

/** `FormattedID`, `CreationDate Desc`, `Rank`, comma lists; unknown attributes throw. */
export function compileOrder(type: TypeDef, order: string | null, store: Store): Comparator {
  const keys = (order ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((part) => {
      const [attr = '', dir = 'asc'] = part.split(/\s+/);
      let resolved: Resolved;
      try {
        resolved = resolvePath(type, attr.split('.'), store);
      } catch {
        throw new QueryError(`Cannot sort using unknown attribute ${attr}`);
      }
      return { ...resolved, desc: dir.toLowerCase() === 'desc' };
    });
  return (a, b) => {
    for (const k of keys) {
      const c = sortValue(k.field, k.name, k.get(a)[0], k.get(b)[0]);
      if (c !== 0) return k.desc ? -c : c;
    }
    return a.oid - b.oid;
  };
}

function sortValue(field: FieldDef, name: string, a: unknown, b: unknown): number {
  if (isNullish(a) || isNullish(b)) return isNullish(a) === isNullish(b) ? 0 : isNullish(a) ? -1 : 1;
  if (field.ordered && field.values) return field.values.indexOf(String(a)) - field.values.indexOf(String(b));
  if (name === 'FormattedID' || name === 'DragAndDropRank') {
    const na = Number(String(a).replace(/^\D+/, ''));
    const nb = Number(String(b).replace(/^\D+/, ''));
    return na - nb || cmp(String(a), String(b));
  }
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return cmp(String(a), String(b));
}
