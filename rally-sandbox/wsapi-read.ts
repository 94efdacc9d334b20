/**
 * WSAPI reads: queries with paging/fetch/order/project scoping, reads by
 * ObjectID, collection reads, and `GET /user`.
 * @module
 */
import type { Reply, SandboxRequest } from './http.js';
import { json } from './http.js';
import { TYPES, findField, type TypeDef } from './model.js';
import { QueryError, parseQuery } from './query.js';
import { compileOrder, compileQuery, parseRefOid, type Predicate } from './query-eval.js';
import { FETCH_ALL, FETCH_NONE, parseFetch } from './serialize.js';
import type { StoredObject } from './store.js';
import {
  MAJOR,
  accessTo,
  forbidden,
  openReadableProjects,
  operationResult,
  projectAccess,
  projectOf,
  projectScoped,
  queryError,
  queryResult,
  type WsapiContext,
} from './wsapi-common.js';

const MAX_PAGE = 2000;

function intParam(q: URLSearchParams, name: string, fallback: number): number {
  const raw = q.get(name);
  const n = raw === null ? NaN : Number.parseInt(raw, 10);
  return Number.isFinite(n) && n >= 1 ? n : fallback;
}

const boolParam = (q: URLSearchParams, name: string, fallback: boolean): boolean => {
  const v = q.get(name);
  return v === null ? fallback : v.toLowerCase() === 'true';
};

/** Projects in scope: the `project` param with projectScopeUp/Down, else every open readable project. */
function scopeProjects(ctx: WsapiContext, q: URLSearchParams): Set<number> | Reply {
  const readable = openReadableProjects(ctx.store, ctx.account.login);
  const param = q.get('project');
  if (param === null || param === '' || param.toLowerCase() === 'null') return readable;
  const oid = parseRefOid(param);
  const project = oid === undefined ? undefined : ctx.store.get(oid);
  if (!project || project.type !== 'project')
    return queryError(`Could not read: Could not read referenced object ${param}`);
  const access = projectAccess(ctx.store, ctx.account.login, project.oid);
  if (access === 'none' || access === 'closed') return forbidden(ctx.path);
  const scope = new Set([project.oid]);
  if (boolParam(q, 'projectScopeDown', true)) {
    const queue = [project.oid];
    while (queue.length > 0) {
      const cur = queue.pop() as number;
      for (const child of ctx.store.referrers('Parent', cur)) {
        if (child.type === 'project' && !scope.has(child.oid)) {
          scope.add(child.oid);
          queue.push(child.oid);
        }
      }
    }
  }
  if (boolParam(q, 'projectScopeUp', false)) {
    let cur = ctx.store.get(project.oid);
    while (cur && typeof cur.values.Parent === 'number') {
      scope.add(cur.values.Parent);
      cur = ctx.store.get(cur.values.Parent);
    }
  }
  for (const p of scope) if (!readable.has(p)) scope.delete(p);
  return scope;
}

/** Runs query/order/paging/fetch over `candidates` and builds the QueryResult. */
function runQuery(
  type: TypeDef,
  candidates: Iterable<StoredObject>,
  ctx: WsapiContext,
  q: URLSearchParams,
  visible: Predicate,
): Reply {
  let predicate: Predicate = () => true;
  const text = q.get('query');
  try {
    if (text !== null && text.trim() !== '') predicate = compileQuery(type, parseQuery(text), ctx.store, ctx.now);
  } catch (err) {
    if (err instanceof QueryError) return queryError(`Could not parse: ${err.message}`);
    throw err;
  }
  let order;
  try {
    order = compileOrder(type, q.get('order'), ctx.store);
  } catch (err) {
    if (err instanceof QueryError) return queryError(err.message);
    throw err;
  }
  const fetch = parseFetch(q.get('shallowFetch') ?? q.get('fetch'), FETCH_NONE);
  const start = intParam(q, 'start', 1);
  const pageSize = Math.min(intParam(q, 'pagesize', 20), MAX_PAGE);
  const matched: StoredObject[] = [];
  for (const obj of candidates) if (visible(obj) && predicate(obj)) matched.push(obj);
  matched.sort(order);
  const page = matched.slice(start - 1, start - 1 + pageSize).map((o) => ctx.serializer.object(o, fetch));
  return queryResult(page, matched.length, start, pageSize);
}

function visibility(type: TypeDef, ctx: WsapiContext, scope: Set<number>): Predicate {
  if (type.key === 'project') return (o) => scope.has(o.oid) || ctx.store.role(o.oid, ctx.account.login) !== undefined;
  if (!projectScoped(type.key)) return () => true;
  return (o) => {
    const p = projectOf(ctx.store, o);
    return p !== null && scope.has(p);
  };
}

/** GET /{type} */
export function query(type: TypeDef, req: SandboxRequest, ctx: WsapiContext): Reply {
  const scope = scopeProjects(ctx, req.query);
  if (!(scope instanceof Set)) return scope;
  return runQuery(type, ctx.store.all(type.key), ctx, req.query, visibility(type, ctx, scope));
}

/** GET /{type}/{oid}: Errors/Warnings sit inside the typed object. */
export function read(type: TypeDef, oid: number, req: SandboxRequest, ctx: WsapiContext): Reply {
  const obj = ctx.store.get(oid);
  if (!obj || obj.type !== type.key) return operationResult(['Cannot find object to read']);
  const access = accessTo(ctx.store, ctx.account.login, obj);
  if (access === 'none') return operationResult(['Cannot find object to read']);
  if (access === 'closed') return forbidden(ctx.path);
  return single(obj, req, ctx);
}

export function single(obj: StoredObject, req: SandboxRequest, ctx: WsapiContext): Reply {
  const fetch = parseFetch(req.query.get('fetch'), FETCH_ALL);
  const body = ctx.serializer.object(obj, fetch);
  body.Errors = [];
  body.Warnings = [];
  return json(200, { [TYPES[obj.type].name]: body });
}

/** GET /user: the user the token acts for. */
export function currentUser(req: SandboxRequest, ctx: WsapiContext): Reply {
  const user = ctx.store.get(ctx.account.userOid);
  if (!user) return operationResult(['Cannot find object to read']);
  return single(user, req, ctx);
}

/** GET /{type}/{oid}/{Collection}: a QueryResult of the visible members. */
export function collection(type: TypeDef, oid: number, name: string, req: SandboxRequest, ctx: WsapiContext): Reply {
  const owner = ctx.store.get(oid);
  const found = findField(type, name);
  if (!found || (found[1].kind !== 'collection' && found[1].kind !== 'tags' && found[1].kind !== 'refset')) {
    return queryError(`Cannot find collection attribute "${name}" on type ${type.name}`);
  }
  if (!owner || owner.type !== type.key) return queryError('Cannot find object to read');
  const access = accessTo(ctx.store, ctx.account.login, owner);
  if (access === 'none') return queryError('Cannot find object to read');
  if (access === 'closed') return forbidden(ctx.path);
  const [, field] = found;
  let members: StoredObject[];
  let memberType: TypeDef;
  if (field.kind === 'tags' || field.kind === 'refset') {
    const raw = owner.values[found[0]];
    const ids = Array.isArray(raw) ? (raw as number[]) : [];
    members = ids.map((id) => ctx.store.get(id)).filter((x): x is StoredObject => x !== undefined);
    memberType = TYPES[field.kind === 'tags' ? 'tag' : (field.refTypes?.[0] ?? 'tag')];
  } else {
    const c = field.collection ?? { type: type.key, via: 'Parent' };
    members = ctx.store.referrers(c.via, owner.oid).filter((o) => o.type === c.type);
    memberType = TYPES[c.type];
  }
  const login = ctx.account.login;
  return runQuery(memberType, members, ctx, req.query, (o) => {
    const a = accessTo(ctx.store, login, o);
    return a === 'read' || a === 'write';
  });
}

/** `GET /subscription` */
export function subscription(req: SandboxRequest, ctx: WsapiContext): Reply {
  const sub = ctx.store.all('subscription').next();
  return sub.done
    ? json(200, { OperationResult: { ...MAJOR, Errors: ['Cannot find object to read'], Warnings: [] } })
    : single(sub.value, req, ctx);
}
