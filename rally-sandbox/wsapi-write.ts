/**
 * WSAPI writes: create, update, delete with Rally-style validation and
 * permission errors (HTTP 200 with Errors; 403 for closed projects).
 * @module
 */
import { json, type Reply, type SandboxRequest } from './http.js';
import { TYPES, findField, type FieldDef, type TypeDef } from './model.js';
import { parseRefOid } from './query-eval.js';
import { FETCH_ALL, FETCH_NONE, parseFetch } from './serialize.js';
import { recordChange, startHistory } from './revisions.js';
import type { StoredObject } from './store.js';
import { accessTo, forbidden, operationResult, projectAccess, type WsapiContext } from './wsapi-common.js';

interface Parsed {
  readonly values: Record<string, unknown>;
  readonly errors: string[];
  readonly warnings: string[];
}

/** Unwraps `{"HierarchicalRequirement": {...}}`, matching the wrapper key case-insensitively (§3.1). */
function unwrap(type: TypeDef, body: string): Record<string, unknown> | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    return `Cannot parse input stream due to I/O error as JSON document: ${(err as Error).message}`;
  }
  if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
    for (const [k, v] of Object.entries(parsed)) {
      const key = k.toLowerCase();
      const names = [type.key, type.name.toLowerCase(), type.key.slice(type.key.indexOf('/') + 1)];
      if (names.includes(key) && v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    }
  }
  return `Cannot parse object: the request body must be {"${type.name}": {...}}`;
}

/** Resolves a ref given as "/type/oid", an absolute URL, or {"_ref": ...}. */
function resolveRef(ctx: WsapiContext, field: FieldDef, raw: unknown): StoredObject | undefined {
  const text =
    typeof raw === 'string'
      ? raw
      : raw && typeof raw === 'object' && typeof (raw as { _ref?: unknown })._ref === 'string'
        ? (raw as { _ref: string })._ref
        : typeof raw === 'number'
          ? String(raw)
          : undefined;
  if (text === undefined) return undefined;
  const oid = parseRefOid(text);
  const target = oid === undefined ? undefined : ctx.store.get(oid);
  if (!target || !(field.refTypes ?? []).includes(target.type)) return undefined;
  const seg = /([A-Za-z]+)\/\d+(?:\.js)?\s*$/.exec(text)?.[1]?.toLowerCase();
  const typeTail = target.type.slice(target.type.indexOf('/') + 1);
  if (seg !== undefined && seg !== typeTail && !/^v\d/.test(seg)) return undefined;
  if (target.type === 'project') return target; // write permission is checked separately
  const access = accessTo(ctx.store, ctx.account.login, target);
  return access === 'read' || access === 'write' ? target : undefined;
}

function convert(ctx: WsapiContext, type: TypeDef, name: string, field: FieldDef, raw: unknown, out: Parsed): void {
  const where = `${type.name}.${name}`;
  const bad = (msg: string): void => {
    out.errors.push(`Validation error: ${where} ${msg}`);
  };
  switch (field.kind) {
    case 'string':
    case 'text': {
      if (raw === null) return void (out.values[name] = '');
      if (typeof raw !== 'string' && typeof raw !== 'number') return bad('must be a string');
      const s = String(raw);
      if (field.maxLength !== undefined && s.length > field.maxLength)
        return bad(`exceeds the maximum length of ${field.maxLength} characters`);
      out.values[name] = s;
      return;
    }
    case 'enum': {
      const s = raw === null ? 'None' : String(raw);
      if (!field.values?.includes(s))
        return bad(`has an invalid value "${s}"; allowed values are: ${(field.values ?? []).join(', ')}`);
      out.values[name] = s;
      return;
    }
    case 'integer':
    case 'decimal': {
      if (raw === null || raw === '') return void (out.values[name] = null);
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : NaN;
      if (!Number.isFinite(n)) return bad(`must be a number, not "${String(raw)}"`);
      if (n < 0) return bad('should not be negative');
      out.values[name] = n;
      return;
    }
    case 'boolean': {
      if (raw === true || raw === 'true') out.values[name] = true;
      else if (raw === false || raw === 'false') out.values[name] = false;
      else bad(`must be true or false, not "${String(raw)}"`);
      return;
    }
    case 'date': {
      if (raw === null) return void (out.values[name] = null);
      const ms = typeof raw === 'string' ? Date.parse(raw) : NaN;
      if (Number.isNaN(ms)) return bad(`must be an ISO 8601 date, not "${String(raw)}"`);
      out.values[name] = new Date(ms).toISOString();
      return;
    }
    case 'ref': {
      if (raw === null || raw === '') {
        if (field.required) return bad('should not be null');
        return void (out.values[name] = null);
      }
      const target = resolveRef(ctx, field, raw);
      if (!target)
        return void out.errors.push(
          `Could not read: Could not read referenced object ${typeof raw === 'string' ? raw : JSON.stringify(raw)}`,
        );
      out.values[name] = target.oid;
      return;
    }
    case 'tags':
    case 'refset': {
      const list = Array.isArray(raw) ? raw : raw === null ? [] : undefined;
      if (!list) return bad('must be an array of refs');
      const ids: number[] = [];
      const refTypes = field.kind === 'tags' ? (['tag'] as const) : (field.refTypes ?? []);
      for (const item of list) {
        const tag = resolveRef(ctx, { kind: 'ref', refTypes: [...refTypes] }, item);
        if (!tag)
          return void out.errors.push(`Could not read: Could not read referenced object ${JSON.stringify(item)}`);
        ids.push(tag.oid);
      }
      out.values[name] = ids;
      return;
    }
    case 'collection':
      out.warnings.push(`Ignored JSON element ${type.name}.${name} during processing of this request.`);
  }
}

function parseFields(ctx: WsapiContext, type: TypeDef, raw: Record<string, unknown>): Parsed {
  const out: Parsed = { values: {}, errors: [], warnings: [] };
  for (const [key, value] of Object.entries(raw)) {
    if (key.startsWith('_')) continue;
    const found = findField(type, key);
    if (!found || found[1].readOnly) {
      out.warnings.push(`Ignored JSON element ${type.name}.${key} during processing of this request.`);
      continue;
    }
    convert(ctx, type, found[0], found[1], value, out);
  }
  return out;
}

/** Rules that span fields: required values, derived Project, Parent cycles. */
function completeCreate(ctx: WsapiContext, type: TypeDef, p: Parsed): void {
  const v = p.values;
  const profile = ctx.store.get(Number(ctx.store.get(ctx.account.userOid)?.values.UserProfile));
  const ws = profile?.values.DefaultWorkspace;
  v.Workspace = ws;
  v.Subscription = typeof ws === 'number' ? ctx.store.get(ws)?.values.Subscription : null;
  if (type.key === 'task' || type.key === 'conversationpost') {
    const parentRef = type.key === 'task' ? v.WorkProduct : v.Artifact;
    const parent = typeof parentRef === 'number' ? ctx.store.get(parentRef) : undefined;
    if (type.key === 'task' && parent) {
      v.Project ??= parent.values.Project;
      v.Iteration ??= parent.values.Iteration;
      v.Release ??= parent.values.Release;
    }
    if (type.key === 'conversationpost' && parent) {
      v.User = ctx.account.userOid;
      v.PostNumber = ctx.store.referrers('Artifact', parent.oid).length + 1;
    }
  } else if ('Project' in type.fields && v.Project === undefined) {
    v.Project = profile?.values.DefaultProject ?? null;
  }
  for (const [name, field] of Object.entries(type.fields)) {
    if (!field.required) continue;
    const value = v[name];
    if (value === undefined || value === null || value === '')
      p.errors.push(`Validation error: ${type.name}.${name} should not be null`);
  }
}

function checkParent(ctx: WsapiContext, obj: StoredObject | undefined, p: Parsed): void {
  let cur = typeof p.values.Parent === 'number' ? ctx.store.get(p.values.Parent) : undefined;
  for (let guard = 0; cur && obj && guard < 1000; guard++) {
    if (cur.oid === obj.oid)
      return void p.errors.push(
        'Validation error: HierarchicalRequirement.Parent cannot be the story itself or one of its children',
      );
    cur = typeof cur.values.Parent === 'number' ? ctx.store.get(cur.values.Parent) : undefined;
  }
}

/** Checks the Project a write lands in: 403 when closed, Errors when not an editor. */
function projectGate(ctx: WsapiContext, projectOid: unknown, denied: string): Reply | undefined {
  if (typeof projectOid !== 'number') return undefined;
  const access = projectAccess(ctx.store, ctx.account.login, projectOid);
  if (access === 'closed') return forbidden(ctx.path);
  if (access !== 'write') return operationResult([denied]);
  return undefined;
}

/** POST|PUT /{type}/create */
export function create(type: TypeDef, req: SandboxRequest, ctx: WsapiContext): Reply {
  if (!type.writable)
    return json(200, {
      CreateResult: {
        _rallyAPIMajor: '2',
        _rallyAPIMinor: '0',
        Errors: [`Not authorized to create: ${type.name}`],
        Warnings: [],
      },
    });
  const result = (errors: string[], warnings: string[], object?: unknown) =>
    json(200, {
      CreateResult: {
        _rallyAPIMajor: '2',
        _rallyAPIMinor: '0',
        Errors: errors,
        Warnings: warnings,
        ...(object === undefined ? {} : { Object: object }),
      },
    });
  const raw = unwrap(type, req.body);
  if (typeof raw === 'string') return result([raw], []);
  const parsed = parseFields(ctx, type, raw);
  completeCreate(ctx, type, parsed);
  if (parsed.errors.length > 0) return result(parsed.errors, parsed.warnings);
  const gate = projectGate(
    ctx,
    parsed.values.Project ?? projectOfNew(ctx, parsed),
    `Not authorized to create: ${type.name}`,
  );
  if (gate) return gate.status === 403 ? gate : result([`Not authorized to create: ${type.name}`], parsed.warnings);
  const obj = ctx.store.insert(type.key, parsed.values, ctx.now);
  startHistory(ctx.store, obj, ctx.account.userOid, ctx.now);
  const fetch = parseFetch(req.query.get('fetch'), FETCH_NONE);
  return result([], parsed.warnings, ctx.serializer.object(obj, fetch, { trimmed: true, justCreated: true }));
}

function projectOfNew(ctx: WsapiContext, p: Parsed): unknown {
  const artifact = typeof p.values.Artifact === 'number' ? ctx.store.get(p.values.Artifact) : undefined;
  return artifact?.values.Project;
}

/** POST|PUT /{type}/{oid}: `fetch` picks the returned fields, otherwise the full object. */
export function update(type: TypeDef, oid: number, req: SandboxRequest, ctx: WsapiContext): Reply {
  const obj = ctx.store.get(oid);
  const access = obj && obj.type === type.key ? accessTo(ctx.store, ctx.account.login, obj) : 'none';
  if (!obj || access === 'none')
    return operationResult([`Could not read: Could not read ${type.name} ${oid} to update.`]);
  if (access === 'closed') return forbidden(ctx.path);
  if (access !== 'write' || !type.writable) return operationResult([`Not authorized to update: ${type.name} ${oid}`]);
  const raw = unwrap(type, req.body);
  if (typeof raw === 'string') return operationResult([raw]);
  const parsed = parseFields(ctx, type, raw);
  if (type.key === 'hierarchicalrequirement') checkParent(ctx, obj, parsed);
  if (parsed.errors.length > 0) return operationResult(parsed.errors, parsed.warnings);
  if (parsed.values.Project !== undefined && parsed.values.Project !== obj.values.Project) {
    const gate = projectGate(ctx, parsed.values.Project, `Not authorized to update: ${type.name} ${oid}`);
    if (gate) return gate;
  }
  const before = { ...obj.values };
  ctx.store.update(obj, parsed.values, ctx.now);
  recordChange(ctx.store, obj, before, ctx.account.userOid, ctx.now);
  const fetch = parseFetch(req.query.get('fetch'), FETCH_ALL);
  return operationResult([], parsed.warnings, ctx.serializer.object(obj, fetch));
}

/** DELETE /{type}/{oid}: also removes the item's tasks and discussion, and clears refs to it. */
export function remove(type: TypeDef, oid: number, ctx: WsapiContext): Reply {
  const obj = ctx.store.get(oid);
  const access = obj && obj.type === type.key ? accessTo(ctx.store, ctx.account.login, obj) : 'none';
  if (!obj || access === 'none') return operationResult(['Object to delete cannot be null']);
  if (access === 'closed') return forbidden(ctx.path);
  if (access !== 'write' || !type.writable) return operationResult([`Not authorized to delete: ${type.name} ${oid}`]);
  for (const via of ['WorkProduct', 'Artifact'])
    for (const child of ctx.store.referrers(via, oid))
      if (child.type === 'task' || child.type === 'conversationpost' || child.type === 'attachment')
        ctx.store.delete(child);
  for (const via of ['Parent', 'Requirement', 'PortfolioItem', 'WorkProduct']) {
    for (const ref of ctx.store.referrers(via, oid))
      if (TYPES[ref.type].writable) ctx.store.update(ref, { [via]: null }, ctx.now);
  }
  ctx.store.delete(obj);
  return operationResult([]);
}

/**
 * POST /{type}/{oid}/{Collection}/add|remove with `{"CollectionItems": [{"_ref": …}]}` (rally-api.md §3.2):
 * `Results` lists the items added (nothing for remove; unverified). Needs write access to the owner.
 */
export function editCollection(
  type: TypeDef,
  oid: number,
  name: string,
  add: boolean,
  req: SandboxRequest,
  ctx: WsapiContext,
): Reply {
  const obj = ctx.store.get(oid);
  const access = obj && obj.type === type.key ? accessTo(ctx.store, ctx.account.login, obj) : 'none';
  if (!obj || access === 'none') return operationResult([`Could not read: Could not read ${type.name} ${oid}`]);
  if (access === 'closed') return forbidden(ctx.path);
  const found = findField(type, name);
  if (!found || (found[1].kind !== 'tags' && found[1].kind !== 'refset'))
    return operationResult([`Cannot add or remove items of collection "${name}" on type ${type.name}`]);
  if (access !== 'write' || !type.writable) return operationResult([`Not authorized to update: ${type.name} ${oid}`]);
  let items: unknown;
  try {
    items = (JSON.parse(req.body) as { CollectionItems?: unknown }).CollectionItems;
  } catch (err) {
    return operationResult([`Cannot parse input stream due to I/O error as JSON document: ${(err as Error).message}`]);
  }
  if (!Array.isArray(items)) return operationResult(['Cannot parse object: CollectionItems must be an array']);
  const [field, def] = found;
  const targetDef: FieldDef = { kind: 'ref', refTypes: def.kind === 'tags' ? ['tag'] : (def.refTypes ?? []) };
  const current = Array.isArray(obj.values[field]) ? [...(obj.values[field] as number[])] : [];
  const touched: StoredObject[] = [];
  for (const item of items) {
    const target = resolveRef(ctx, targetDef, item);
    if (!target) return operationResult([`Could not read: Could not read referenced object ${JSON.stringify(item)}`]);
    touched.push(target);
  }
  const ids = touched.map((t) => t.oid);
  const next = add
    ? [...current, ...ids.filter((id, i) => !current.includes(id) && ids.indexOf(id) === i)]
    : current.filter((id) => !ids.includes(id));
  const before = { ...obj.values };
  ctx.store.update(obj, { [field]: next }, ctx.now);
  recordChange(ctx.store, obj, before, ctx.account.userOid, ctx.now);
  const fetch = parseFetch(req.query.get('fetch'), FETCH_NONE);
  const results = add ? touched.map((t) => ctx.serializer.object(t, fetch)) : [];
  return json(200, {
    OperationResult: { _rallyAPIMajor: '2', _rallyAPIMinor: '0', Errors: [], Warnings: [], Results: results },
  });
}
