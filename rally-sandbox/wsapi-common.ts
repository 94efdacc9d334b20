/**
 * Shared WSAPI pieces: envelopes (rally-api.md §3.3), the per-request context,
 * and project-based visibility and write permission.
 * @module
 */
import { html, json, type Reply } from './http.js';
import { jettyPage } from './pages.js';
import type { Serializer } from './serialize.js';
import { PARENT_LINK, TYPES, type TypeKey } from './model.js';
import type { Account, Store, StoredObject } from './store.js';

export interface WsapiContext {
  readonly store: Store;
  readonly serializer: Serializer;
  readonly now: Date;
  readonly account: Account;
  /** Request path, for Jetty error pages. */
  readonly path: string;
}

export const MAJOR = { _rallyAPIMajor: '2', _rallyAPIMinor: '0' } as const;

export function operationResult(errors: readonly string[], warnings: readonly string[] = [], object?: unknown): Reply {
  const body: Record<string, unknown> = { ...MAJOR, Errors: errors, Warnings: warnings };
  if (object !== undefined) body.Object = object;
  return json(200, { OperationResult: body });
}

export function queryResult(
  results: readonly unknown[],
  total: number,
  start: number,
  pageSize: number,
  warnings: readonly string[] = [],
): Reply {
  return json(200, {
    QueryResult: {
      ...MAJOR,
      Errors: [],
      Warnings: warnings,
      TotalResultCount: total,
      StartIndex: start,
      PageSize: pageSize,
      Results: results,
    },
  });
}

/** Query-level errors: HTTP 200, zero counts (toolkit fixtures). */
export function queryError(message: string): Reply {
  return json(200, {
    QueryResult: {
      ...MAJOR,
      Errors: [message],
      Warnings: [],
      TotalResultCount: 0,
      StartIndex: 0,
      PageSize: 0,
      Results: [],
    },
  });
}

/** 403 for closed or ungranted projects (KB 144480); Rally's body is unknown, so we send Jetty's page like the 401. */
export function forbidden(path: string): Reply {
  return html(403, jettyPage(403, 'Forbidden', path));
}

export type Access = 'none' | 'closed' | 'read' | 'write';

/** The project that governs access to `obj`, or null for workspace-wide types. */
export function projectOf(store: Store, obj: StoredObject, depth = 0): number | null {
  if (depth > 8) return null;
  const link = PARENT_LINK[obj.type];
  if (link !== undefined) {
    const parent = typeof obj.values[link] === 'number' ? store.get(obj.values[link]) : undefined;
    return parent ? projectOf(store, parent, depth + 1) : null;
  }
  if (obj.type === 'attachmentcontent' || obj.type === 'revisionhistory') {
    const owner = store
      .referrers(obj.type === 'attachmentcontent' ? 'Content' : 'RevisionHistory', obj.oid)
      .find((o) => o.type !== 'revision');
    return owner ? projectOf(store, owner, depth + 1) : null;
  }
  if (obj.type === 'revision') {
    const history = typeof obj.values.RevisionHistory === 'number' ? store.get(obj.values.RevisionHistory) : undefined;
    return history ? projectOf(store, history, depth + 1) : null;
  }
  const p = obj.values.Project;
  return typeof p === 'number' ? p : null;
}

/** Whether objects of this type are governed by a project (their own or their parent's). */
export function projectScoped(type: TypeKey): boolean {
  return (
    'Project' in TYPES[type].fields ||
    PARENT_LINK[type] !== undefined ||
    type === 'attachmentcontent' ||
    type === 'revisionhistory' ||
    type === 'revision'
  );
}

/** What `login` may do with `obj`: project membership decides, a closed project denies everything. */
export function accessTo(store: Store, login: string, obj: StoredObject): Access {
  if (obj.type === 'project') return store.role(obj.oid, login) ? 'read' : 'none';
  const p = projectOf(store, obj);
  if (p === null) return 'Project' in TYPES[obj.type].fields || !projectScoped(obj.type) ? 'read' : 'none';
  return projectAccess(store, login, p);
}

export function projectAccess(store: Store, login: string, projectOid: number): Access {
  const role = store.role(projectOid, login);
  if (!role) return 'none';
  if (store.get(projectOid)?.values.State === 'Closed') return 'closed';
  return role === 'editor' ? 'write' : 'read';
}

/** Open projects the user can read: the default query scope. */
export function openReadableProjects(store: Store, login: string): Set<number> {
  const out = new Set<number>();
  for (const p of store.readableProjects(login)) if (store.get(p)?.values.State !== 'Closed') out.add(p);
  return out;
}
