/**
 * In-memory object store: objects by ObjectID and type, reverse ref index,
 * project permissions, per-workspace FormattedID counters, sign-in accounts.
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { TYPES, defaultValues, type TypeKey } from './model.js';

export interface StoredObject {
  readonly type: TypeKey;
  readonly oid: number;
  readonly uuid: string;
  version: number;
  /** Field values: refs are ObjectIDs (or null), Tags an ObjectID array, dates ISO strings. */
  readonly values: Record<string, unknown>;
}

export type Role = 'editor' | 'viewer';

export interface Account {
  /** Sign-in name (`alice`); the User record's UserName is `alice@example.com`. */
  readonly login: string;
  readonly password: string;
  readonly userOid: number;
  readonly apiKey: string;
}

/** FormattedID prefixes per type (Rally's defaults; configurable per workspace). */
export interface FormattedIdPrefixes {
  readonly hierarchicalrequirement: string;
  readonly defect: string;
  readonly task: string;
}

export const DEFAULT_PREFIXES: FormattedIdPrefixes = { hierarchicalrequirement: 'US', defect: 'DE', task: 'TA' };

/** Prefixes of the other FormattedID types (rally-api.md §3.9), not configurable in the sandbox. */
const OTHER_PREFIXES: Partial<Record<TypeKey, string>> = {
  testcase: 'TC',
  testset: 'TS',
  'portfolioitem/feature': 'F',
  'portfolioitem/initiative': 'I',
  milestone: 'MI',
};

const API_KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `_` plus 41 alphanumerics: 42 characters like a real key (KB 57528). */
export function newApiKey(): string {
  const bytes = randomBytes(41);
  let out = '_';
  for (const b of bytes) out += API_KEY_ALPHABET[b % API_KEY_ALPHABET.length];
  return out;
}

/** A stable UUID derived from the ObjectID, so the seed is identical across resets. */
function uuidFor(oid: number): string {
  const h = createHash('sha1').update(`rally-sandbox:${oid}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export class Store {
  private readonly byOid = new Map<number, StoredObject>();
  private readonly byType = new Map<TypeKey, Map<number, StoredObject>>();
  /** field name → target ObjectID → referrer ObjectIDs. */
  private readonly refIndex = new Map<string, Map<number, Set<number>>>();
  private readonly roles = new Map<number, Map<string, Role>>();
  private readonly counters = new Map<string, number>();
  readonly accounts = new Map<string, Account>();
  private nextOid = 738_120_400_000;

  constructor(readonly prefixes: FormattedIdPrefixes = DEFAULT_PREFIXES) {}

  get(oid: number): StoredObject | undefined {
    return this.byOid.get(oid);
  }

  all(type: TypeKey): IterableIterator<StoredObject> {
    return (this.byType.get(type) ?? new Map<number, StoredObject>()).values();
  }

  count(type: TypeKey): number {
    return this.byType.get(type)?.size ?? 0;
  }

  /** Objects whose `field` refs `target` (collections: Tasks via WorkProduct, …). */
  referrers(field: string, target: number): readonly StoredObject[] {
    const ids = this.refIndex.get(field)?.get(target);
    if (!ids) return [];
    const out: StoredObject[] = [];
    for (const id of ids) {
      const o = this.byOid.get(id);
      if (o) out.push(o);
    }
    return out;
  }

  /** Inserts with defaults, fresh ObjectID, and a FormattedID for artifacts. */
  insert(type: TypeKey, values: Record<string, unknown>, created: Date): StoredObject {
    this.nextOid += 37 + (this.nextOid % 11);
    const oid = this.nextOid;
    const obj: StoredObject = {
      type,
      oid,
      uuid: uuidFor(oid),
      version: 1,
      values: { ...defaultValues(TYPES[type]), ...values, ObjectID: oid, CreationDate: created.toISOString() },
    };
    obj.values.ObjectUUID = obj.uuid;
    obj.values.VersionId = '1';
    const prefix = (this.prefixes as unknown as Record<string, string | undefined>)[type] ?? OTHER_PREFIXES[type];
    if (prefix !== undefined && obj.values.FormattedID == null) {
      const key = `${String(obj.values.Workspace)}:${type}`;
      const n = (this.counters.get(key) ?? 0) + 1;
      this.counters.set(key, n);
      obj.values.FormattedID = `${prefix}${n}`;
    }
    if ('DragAndDropRank' in TYPES[type].fields) obj.values.DragAndDropRank = String(oid);
    if ('LastUpdateDate' in TYPES[type].fields) obj.values.LastUpdateDate = obj.values.CreationDate;
    this.byOid.set(oid, obj);
    let m = this.byType.get(type);
    if (!m) this.byType.set(type, (m = new Map()));
    m.set(oid, obj);
    this.indexAll(obj, true);
    return obj;
  }

  /** Applies already-validated values and bumps the version. */
  update(obj: StoredObject, values: Record<string, unknown>, now: Date): void {
    this.indexAll(obj, false);
    Object.assign(obj.values, values);
    obj.version += 1;
    obj.values.VersionId = String(obj.version);
    if ('LastUpdateDate' in TYPES[obj.type].fields) obj.values.LastUpdateDate = now.toISOString();
    this.indexAll(obj, true);
  }

  /** Sets a ref that is bookkeeping, not a user change (no new version, no LastUpdateDate). */
  link(obj: StoredObject, field: string, target: number): void {
    this.indexAll(obj, false);
    obj.values[field] = target;
    this.indexAll(obj, true);
  }

  delete(obj: StoredObject): void {
    this.indexAll(obj, false);
    this.byOid.delete(obj.oid);
    this.byType.get(obj.type)?.delete(obj.oid);
  }

  private indexAll(obj: StoredObject, add: boolean): void {
    for (const [name, field] of Object.entries(TYPES[obj.type].fields)) {
      if (field.kind !== 'ref') continue;
      const target = obj.values[name];
      if (typeof target !== 'number') continue;
      let byTarget = this.refIndex.get(name);
      if (!byTarget) this.refIndex.set(name, (byTarget = new Map()));
      let set = byTarget.get(target);
      if (!set) byTarget.set(target, (set = new Set()));
      if (add) set.add(obj.oid);
      else set.delete(obj.oid);
    }
  }

  grant(projectOid: number, login: string, role: Role): void {
    let m = this.roles.get(projectOid);
    if (!m) this.roles.set(projectOid, (m = new Map()));
    m.set(login, role);
  }

  role(projectOid: number, login: string): Role | undefined {
    return this.roles.get(projectOid)?.get(login);
  }

  /** Project ObjectIDs the user may read. */
  readableProjects(login: string): Set<number> {
    const out = new Set<number>();
    for (const [oid, m] of this.roles) if (m.has(login)) out.add(oid);
    return out;
  }

  accountByUserOid(oid: number): Account | undefined {
    for (const a of this.accounts.values()) if (a.userOid === oid) return a;
    return undefined;
  }
}
