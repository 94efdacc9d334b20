/**
 * Turns what a user says ("Acme Online", "Sprint 42", "me", "US12",
 * "738120455921") into Rally refs. Names are resolved by query, never by
 * building a URL from input; FormattedIDs are resolved by querying each
 * candidate type, never by trusting the prefix (rally-api.md §3.9).
 * @module
 */
import type { RallyClient } from './client.js';
import { RallyApiError, RallyLookupError } from './errors.js';
import { compileQuery, type QueryFilter } from './query.js';
import { oidOf, userDefaults } from './refs.js';
import { OBJECT_ID, WORK_ITEM_TYPES, type RallyObject, type WorkItemType } from './types.js';

export const FORMATTED_ID = /^[A-Z]{1,4}\d{1,9}$/;

export interface Scope {
  /** Workspace ObjectID; defaults to the user's default workspace. */
  readonly workspace?: string;
}

async function workspaceFor(rally: RallyClient, scope: Scope): Promise<string | undefined> {
  return scope.workspace ?? (await userDefaults(rally)).workspace?.oid;
}

async function single(
  rally: RallyClient,
  type: 'project' | 'iteration' | 'release' | 'user',
  filter: QueryFilter,
  what: string,
  extra: { workspace?: string; project?: string } = {},
): Promise<string> {
  const page = await rally.query(type, {
    query: compileQuery(filter),
    fetch: ['ObjectID', 'Name'],
    pageSize: 2,
    order: 'ObjectID',
    lookup: true,
    ...(extra.workspace ? { workspace: extra.workspace } : {}),
    ...(extra.project ? { project: extra.project, projectScopeUp: false, projectScopeDown: true } : {}),
  });
  if (page.results.length === 0) throw new RallyLookupError('not_found', what);
  if (page.results.length > 1) throw new RallyLookupError('ambiguous', what);
  const oid = oidOf(page.results[0] as RallyObject);
  if (!oid) throw new RallyLookupError('not_found', what);
  return oid;
}

/** Project ObjectID from an ObjectID or an exact name; the user's default project when absent. */
export async function resolveProject(
  rally: RallyClient,
  nameOrOid: string | undefined,
  scope: Scope = {},
): Promise<string | undefined> {
  if (nameOrOid === undefined) return (await userDefaults(rally)).project?.oid;
  if (OBJECT_ID.test(nameOrOid)) return nameOrOid;
  const workspace = await workspaceFor(rally, scope);
  return single(
    rally,
    'project',
    { attr: 'Name', op: '=', value: nameOrOid },
    'project',
    workspace ? { workspace } : {},
  );
}

/** Iteration ObjectID from an ObjectID, "current" (the one spanning today) or an exact name within `project`. */
export async function resolveIteration(
  rally: RallyClient,
  nameOrOid: string,
  project: string | undefined,
  scope: Scope = {},
): Promise<string> {
  if (OBJECT_ID.test(nameOrOid)) return nameOrOid;
  const filter: QueryFilter =
    nameOrOid.toLowerCase() === 'current'
      ? {
          and: [
            { attr: 'StartDate', op: '<=', value: { today: 0 } },
            { attr: 'EndDate', op: '>=', value: { today: 0 } },
          ],
        }
      : { attr: 'Name', op: '=', value: nameOrOid };
  const workspace = await workspaceFor(rally, scope);
  return single(rally, 'iteration', filter, 'iteration', {
    ...(workspace ? { workspace } : {}),
    ...(project ? { project } : {}),
  });
}

/** Release ObjectID from an ObjectID or an exact name within `project`. */
export async function resolveRelease(
  rally: RallyClient,
  nameOrOid: string,
  project: string | undefined,
  scope: Scope = {},
): Promise<string> {
  if (OBJECT_ID.test(nameOrOid)) return nameOrOid;
  const workspace = await workspaceFor(rally, scope);
  return single(rally, 'release', { attr: 'Name', op: '=', value: nameOrOid }, 'release', {
    ...(workspace ? { workspace } : {}),
    ...(project ? { project } : {}),
  });
}

/** User ObjectID from "me", an ObjectID, a UserName (e-mail style) or an exact display name. */
export async function resolveOwner(rally: RallyClient, who: string): Promise<string> {
  if (who.toLowerCase() === 'me') return (await userDefaults(rally)).userOid;
  if (OBJECT_ID.test(who)) return who;
  const byUserName = await rally.query('user', {
    query: compileQuery({ attr: 'UserName', op: '=', value: who }),
    fetch: ['ObjectID'],
    pageSize: 2,
  });
  if (byUserName.results.length === 1) {
    const oid = oidOf(byUserName.results[0] as RallyObject);
    if (oid) return oid;
  }
  return single(rally, 'user', { attr: 'DisplayName', op: '=', value: who }, 'user');
}

export interface ResolvedItem {
  readonly type: WorkItemType;
  readonly oid: string;
  readonly object: RallyObject;
}

/**
 * Finds a work item by FormattedID (US12, DE7, TA3; prefixes vary per workspace)
 * or ObjectID, across stories, defects and tasks.
 */
export async function resolveWorkItem(
  rally: RallyClient,
  id: string,
  fetch: readonly string[],
  scope: Scope = {},
  types: readonly WorkItemType[] = WORK_ITEM_TYPES,
): Promise<ResolvedItem> {
  const workspace = await workspaceFor(rally, scope);
  if (OBJECT_ID.test(id)) {
    const attempts = await Promise.allSettled(types.map((type) => rally.read(type, id, fetch)));
    for (const [i, a] of attempts.entries()) {
      if (a.status === 'fulfilled') return { type: types[i] as WorkItemType, oid: id, object: a.value };
    }
    const other = attempts.find(
      (a) => a.status === 'rejected' && !(a.reason instanceof RallyApiError && a.reason.code === 'rally_not_found'),
    );
    if (other && other.status === 'rejected') throw other.reason;
    throw new RallyLookupError('not_found', 'work item');
  }
  if (!FORMATTED_ID.test(id)) throw new RallyLookupError('not_found', 'work item');
  const query = compileQuery({ attr: 'FormattedID', op: '=', value: id });
  const pages = await Promise.all(
    types.map((type) =>
      rally.query(type, { query, fetch, pageSize: 1, lookup: true, ...(workspace ? { workspace } : {}) }),
    ),
  );
  for (const [i, page] of pages.entries()) {
    const obj = page.results[0];
    const oid = obj ? oidOf(obj) : undefined;
    if (obj && oid) return { type: types[i] as WorkItemType, oid, object: obj };
  }
  throw new RallyLookupError('not_found', 'work item');
}
