/**
 * Rally query language (rally-api.md §3.6): a builder that compiles structured
 * filters with strictly binary AND/OR nesting and safe quoting, and a validator
 * for raw power-user query strings. Queries travel only as the URL-encoded
 * `query` parameter, never in the path.
 * @module
 */
import { RallyQueryError } from './errors.js';

export type QueryOperator = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'contains' | '!contains' | 'in';

const OPERATORS: ReadonlySet<string> = new Set(['=', '!=', '<', '<=', '>', '>=', 'contains', '!contains', 'in']);

/** A value in a condition. Strings are always quoted; the other shapes are emitted bare. */
export type QueryValue =
  | string
  | number
  | boolean
  | null
  | { readonly ref: string }
  | { readonly oid: string }
  | { readonly today: number }
  | readonly string[];

export interface QueryCondition {
  readonly attr: string;
  readonly op: QueryOperator;
  readonly value: QueryValue;
}

export type QueryFilter =
  QueryCondition | { readonly and: readonly QueryFilter[] } | { readonly or: readonly QueryFilter[] };

/** Maximum length of any query we send or accept (raw or compiled). */
export const MAX_QUERY_LENGTH = 2000;
/** Maximum length of a single quoted value. */
export const MAX_QUERY_VALUE_LENGTH = 256;

const ATTR = /^[A-Za-z][A-Za-z0-9_]{0,79}(\.[A-Za-z][A-Za-z0-9_]{0,79}){0,3}$/;
const REF = /^\/[a-z]+(\/[a-z]+)?\/\d{1,19}$/;
/** An ObjectID emitted bare: digits only, kept as text (a 19-digit id is beyond a JavaScript number). */
const OID = /^[1-9]\d{0,18}$/;
// Characters that cannot be expressed inside a double-quoted Rally value: Rally documents no escape
// sequence, so `"` and `\` are refused rather than escaped (an escape the server does not honour
// would turn `x") OR (Owner.UserName = "bob` into a second condition). Control characters too.
// eslint-disable-next-line no-control-regex -- control characters are refused on purpose
const UNQUOTABLE = /["\\\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** True when `value` can be placed between double quotes in a Rally query. */
export function isQuotableValue(value: string): boolean {
  return value.length <= MAX_QUERY_VALUE_LENGTH && !UNQUOTABLE.test(value);
}

/** Quotes a string value; throws RallyQueryError when it cannot be quoted safely. */
export function quoteValue(value: string): string {
  if (value.length > MAX_QUERY_VALUE_LENGTH) throw new RallyQueryError('query value too long');
  if (UNQUOTABLE.test(value)) throw new RallyQueryError('query value contains a character that cannot be quoted');
  return `"${value}"`;
}

const isList = (v: QueryValue): v is readonly string[] => Array.isArray(v);

function formatValue(op: QueryOperator, value: QueryValue): string {
  if (isList(value)) {
    if (op !== 'in') throw new RallyQueryError('a list value needs the "in" operator');
    if (value.length === 0) throw new RallyQueryError('"in" needs at least one value');
    for (const v of value)
      if (v.includes(',') || v.length === 0)
        throw new RallyQueryError('"in" values must be non-empty and contain no comma');
    return quoteValue(value.join(','));
  }
  if (op === 'in') throw new RallyQueryError('"in" needs a list value');
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RallyQueryError('numbers must be finite');
    return String(value);
  }
  if (typeof value === 'string') return quoteValue(value);
  if ('ref' in value) {
    if (!REF.test(value.ref)) throw new RallyQueryError('refs must look like /type/123');
    return value.ref;
  }
  if ('oid' in value) {
    if (!OID.test(value.oid)) throw new RallyQueryError('an ObjectID is digits only');
    return value.oid;
  }
  if (!Number.isInteger(value.today) || Math.abs(value.today) > 3650)
    throw new RallyQueryError('today offset must be an integer within ±3650');
  return value.today === 0 ? 'today' : value.today > 0 ? `today+${value.today}` : `today${value.today}`;
}

function compileCondition(c: QueryCondition): string {
  if (!ATTR.test(c.attr)) throw new RallyQueryError('invalid attribute name');
  if (!OPERATORS.has(c.op)) throw new RallyQueryError('invalid operator');
  return `(${c.attr} ${c.op} ${formatValue(c.op, c.value)})`;
}

function compileNode(f: QueryFilter, depth: number): string {
  if (depth > 16) throw new RallyQueryError('filter nested too deeply');
  if ('attr' in f) return compileCondition(f);
  const [bool, parts] = 'and' in f ? (['AND', f.and] as const) : (['OR', f.or] as const);
  if (parts.length === 0) throw new RallyQueryError(`${bool} needs at least one operand`);
  const compiled = parts.map((p) => compileNode(p, depth + 1));
  // Rally joins exactly two operands per AND/OR: fold left, ((A AND B) AND C).
  return compiled.slice(1).reduce((acc, next) => `(${acc} ${bool} ${next})`, compiled[0] as string);
}

/** Compiles a structured filter into Rally's grammar. Throws RallyQueryError on anything unsafe. */
export function compileQuery(filter: QueryFilter): string {
  const out = compileNode(filter, 0);
  if (out.length > MAX_QUERY_LENGTH) throw new RallyQueryError('query too long');
  return out;
}

/** AND of the given filters, skipping undefined ones; undefined when nothing is left. */
export function andAll(filters: ReadonlyArray<QueryFilter | undefined>): QueryFilter | undefined {
  const present = filters.filter((f): f is QueryFilter => f !== undefined);
  if (present.length === 0) return undefined;
  return present.length === 1 ? present[0] : { and: present };
}

export type RawQueryRejection =
  'empty' | 'too_long' | 'control_characters' | 'unbalanced_quotes' | 'unbalanced_parentheses' | 'not_parenthesised';
export type RawQueryResult = { ok: true; value: string } | { ok: false; error: RawQueryRejection };

/**
 * Checks a raw power-user query: bounded length, no control characters, balanced
 * quotes and parentheses (outside quotes), and wrapped in one outer pair of
 * parentheses so it can be ANDed with our own filters. Rally parses the rest.
 */
export function validateRawQuery(raw: string): RawQueryResult {
  const q = raw.trim();
  if (q.length === 0) return { ok: false, error: 'empty' };
  if (q.length > MAX_QUERY_LENGTH) return { ok: false, error: 'too_long' };
  // eslint-disable-next-line no-control-regex -- control characters are refused on purpose
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(q)) return { ok: false, error: 'control_characters' };
  let depth = 0;
  let inQuote = false;
  let closedBeforeEnd = false;
  for (let i = 0; i < q.length; i++) {
    const ch = q[i];
    if (ch === '"') inQuote = !inQuote;
    else if (!inQuote && ch === '(') depth++;
    else if (!inQuote && ch === ')') {
      depth--;
      if (depth < 0) return { ok: false, error: 'unbalanced_parentheses' };
      if (depth === 0 && i !== q.length - 1) closedBeforeEnd = true;
    }
  }
  if (inQuote) return { ok: false, error: 'unbalanced_quotes' };
  if (depth !== 0) return { ok: false, error: 'unbalanced_parentheses' };
  // The outermost group must span the whole string, so it can be ANDed safely.
  if (closedBeforeEnd || !q.startsWith('(') || !q.endsWith(')')) return { ok: false, error: 'not_parenthesised' };
  return { ok: true, value: q };
}

/** Combines an already valid (parenthesised) raw query with a compiled one: `(A AND B)`. */
export function andRaw(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const out = `(${a} AND ${b})`;
  if (out.length > MAX_QUERY_LENGTH) throw new RallyQueryError('query too long');
  return out;
}
