/**
 * Renders stored objects as WSAPI v2.0 JSON (rally-api.md §3.3–3.5): absolute
 * `_ref` with a lowercase type, refs as objects or null, collections as
 * `{_ref, _type, Count}`, `fetch` lists and `Field[Sub;Sub]` nested fetches.
 * @module
 */
import { TYPES, type FieldDef, type TypeDef } from './model.js';
import { computeRollup } from './rollups.js';
import type { Store, StoredObject } from './store.js';

export interface Fetch {
  readonly all: boolean;
  readonly names: ReadonlySet<string>;
  /** `Owner[UserName;DisplayName]`: fields to include inside a ref. */
  readonly nested: ReadonlyMap<string, Fetch>;
}

export const FETCH_ALL: Fetch = { all: true, names: new Set(), nested: new Map() };
export const FETCH_NONE: Fetch = { all: false, names: new Set(), nested: new Map() };

/** Parses `fetch`/`shallowFetch`: `true`, `false`, or a comma list with optional `[a;b]` groups. */
export function parseFetch(text: string | null | undefined, fallback: Fetch): Fetch {
  if (text === null || text === undefined || text.trim() === '') return fallback;
  const t = text.trim();
  if (t.toLowerCase() === 'true') return FETCH_ALL;
  if (t.toLowerCase() === 'false') return FETCH_NONE;
  const names = new Set<string>();
  const nested = new Map<string, Fetch>();
  for (const part of splitTop(t, ',')) {
    const m = /^([^[\]]+)\[(.*)\]$/.exec(part);
    if (m?.[1]) {
      names.add(m[1].trim());
      nested.set(m[1].trim(), parseFetch(splitTop(m[2] ?? '', ';').join(','), FETCH_NONE));
    } else if (part) names.add(part);
  }
  return { all: false, names, nested };
}

function splitTop(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (ch === sep && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  out.push(cur.trim());
  return out.filter(Boolean);
}

const META_MAJOR = { _rallyAPIMajor: '2', _rallyAPIMinor: '0' } as const;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export class Serializer {
  constructor(
    private readonly store: Store,
    /** `http://127.0.0.1:port/slm/webservice/v2.0` */
    readonly base: string,
    private readonly now: () => Date,
  ) {}

  /** Absolute `_ref` with the lowercase type segment. */
  refUrl(obj: StoredObject): string {
    return `${this.base}/${obj.type}/${obj.oid}`;
  }

  refObjectName(obj: StoredObject): string {
    const t = TYPES[obj.type];
    const v = obj.values[t.nameField];
    return v === null || v === undefined ? '' : String(v);
  }

  /** A ref object, optionally carrying fetched fields of the target (one level). */
  ref(oid: unknown, fetch: Fetch = FETCH_NONE): Record<string, unknown> | null {
    if (typeof oid !== 'number') return null;
    const obj = this.store.get(oid);
    if (!obj) return null;
    const out: Record<string, unknown> = {
      ...META_MAJOR,
      _ref: this.refUrl(obj),
      _refObjectUUID: obj.uuid,
      _refObjectName: this.refObjectName(obj),
    };
    if (fetch.names.size > 0 || fetch.all) {
      out._objectVersion = String(obj.version);
      const t = TYPES[obj.type];
      for (const [name, field] of Object.entries(t.fields)) {
        if (fetch.all || fetch.names.has(name)) out[name] = this.value(obj, name, field, FETCH_NONE);
      }
    }
    out._type = TYPES[obj.type].name;
    return out;
  }

  createdAt(obj: StoredObject): string {
    const iso = String(obj.values.CreationDate);
    const created = new Date(iso);
    const now = this.now();
    if (now.getTime() - created.getTime() < 60_000) return 'just now';
    const md = `${MONTHS[created.getUTCMonth()] ?? ''} ${created.getUTCDate()}`;
    return created.getUTCFullYear() === now.getUTCFullYear() ? md : `${md}, ${created.getUTCFullYear()}`;
  }

  /**
   * Full object (`fetch` absent or true), or metadata plus the fetched fields.
   * `trimmed` is the create response shape: metadata only unless fetched.
   */
  object(
    obj: StoredObject,
    fetch: Fetch,
    opts: { readonly trimmed?: boolean; readonly justCreated?: boolean } = {},
  ): Record<string, unknown> {
    const t = TYPES[obj.type];
    const out: Record<string, unknown> = {
      ...META_MAJOR,
      _ref: this.refUrl(obj),
      _refObjectUUID: obj.uuid,
      _objectVersion: String(obj.version),
      _refObjectName: this.refObjectName(obj),
    };
    const createdAt = opts.justCreated ? 'just now' : this.createdAt(obj);
    if (fetch.all) {
      out.CreationDate = obj.values.CreationDate;
      out._CreatedAt = createdAt;
      this.fields(obj, t, out, (name) => name !== 'CreationDate', fetch);
    } else if (opts.trimmed) {
      out._CreatedAt = createdAt;
      out.ObjectID = obj.oid;
      out.VersionId = String(obj.version);
      this.fields(obj, t, out, (name) => fetch.names.has(name), fetch);
    } else {
      this.fields(obj, t, out, (name) => fetch.names.has(name), fetch);
    }
    out._type = t.name;
    return out;
  }

  private fields(
    obj: StoredObject,
    t: TypeDef,
    out: Record<string, unknown>,
    include: (name: string) => boolean,
    fetch: Fetch,
  ): void {
    for (const [name, field] of Object.entries(t.fields)) {
      if (include(name)) out[name] = this.value(obj, name, field, fetch);
    }
  }

  private value(obj: StoredObject, name: string, field: FieldDef, fetch: Fetch): unknown {
    if (field.computed) return computeRollup(this.store, obj, field.computed);
    const v = obj.values[name];
    switch (field.kind) {
      case 'ref': {
        const nested = fetch.nested.get(name) ?? (fetch.all ? FETCH_NONE : fetch);
        return this.ref(v, nested === fetch ? onlyKnown(fetch) : nested);
      }
      case 'collection': {
        const c = field.collection;
        if (!c) return null;
        return {
          ...META_MAJOR,
          _ref: `${this.base}/${TYPES[obj.type].name}/${obj.oid}/${name}`,
          _type: TYPES[c.type].name,
          Count: this.store.referrers(c.via, obj.oid).filter((o) => o.type === c.type).length,
        };
      }
      case 'refset': {
        const ids = Array.isArray(v) ? (v as number[]) : [];
        return {
          ...META_MAJOR,
          _ref: `${this.base}/${TYPES[obj.type].name}/${obj.oid}/${name}`,
          _type: TYPES[field.refTypes?.[0] ?? 'tag'].name,
          Count: ids.filter((id) => this.store.get(id) !== undefined).length,
        };
      }
      case 'tags': {
        const ids = Array.isArray(v) ? (v as number[]) : [];
        const tags = ids.map((id) => this.store.get(id)).filter((x): x is StoredObject => x !== undefined);
        return {
          ...META_MAJOR,
          _ref: `${this.base}/${TYPES[obj.type].name}/${obj.oid}/Tags`,
          _type: 'Tag',
          _tagsNameArray: tags.map((tag) => ({ Name: tag.values.Name, _ref: `/tag/${tag.oid}` })),
          Count: tags.length,
        };
      }
      default:
        return v === undefined ? null : v;
    }
  }
}

/**
 * In a fetch list, names apply one level into refs (`fetch=Iteration,StartDate`
 * gives `Iteration.StartDate`), which is how WSAPI v2.0 clients read nested values.
 */
function onlyKnown(fetch: Fetch): Fetch {
  return { all: false, names: fetch.names, nested: new Map() };
}
