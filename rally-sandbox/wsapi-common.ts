/**
 * Shared WSAPI pieces: envelopes (rally-api.md §3.3), the per-request context,
 * and project-based visibility and write permission.
 * @module
 */
import { html, json, type Reply } from './http.js';
import { jettyPage } from './pages.js';
import type { Serializer } from './serialize.js';
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
export function projectOf(store: Store, obj: StoredObject): number | null {
  if (obj.type === 'conversationpost') {
    const artifact = typeof obj.values.Artifact === 'number' ? store.get(obj.values.Artifact) : undefined;
    return artifact ? projectOf(store, artifact) : null;
  }
  const p = obj.values.Project;
  return typeof p === 'number' ? p : null;
}

/** What `login` may do with `obj`: project membership decides, a closed project denies everything. */
export function accessTo(store: Store, login: string, obj: StoredObject): Access {
  if (obj.type === 'project') return store.role(obj.oid, login) ? 'read' : 'none';
  const p = projectOf(store, obj);
  if (p === null) return 'read';
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
