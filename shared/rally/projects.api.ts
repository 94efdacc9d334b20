/**
 * Projects and iterations the caller can see.
 * @module
 */
import type { RallyClient } from './client.js';
import { resolveProject } from './lookup.api.js';
import { andAll, compileQuery, type QueryFilter } from './query.js';
import { oidOf, userDefaults } from './refs.js';
import type { QueryPage } from './types.js';

export interface ListPage {
  readonly start: number;
  readonly pageSize: number;
}

export async function listProjects(
  rally: RallyClient,
  opts: ListPage & { nameContains?: string; includeClosed?: boolean; workspace?: string },
): Promise<QueryPage> {
  const workspace = opts.workspace ?? (await userDefaults(rally)).workspace?.oid;
  const filter = andAll([
    opts.nameContains !== undefined ? { attr: 'Name', op: 'contains', value: opts.nameContains } : undefined,
    opts.includeClosed ? undefined : { attr: 'State', op: '=', value: 'Open' },
  ]);
  return rally.query('project', {
    ...(filter ? { query: compileQuery(filter) } : {}),
    fetch: ['ObjectID', 'Name', 'State', 'Parent', 'Workspace'],
    order: 'Name,ObjectID',
    start: opts.start,
    pageSize: opts.pageSize,
    ...(workspace ? { workspace } : {}),
  });
}

/**
 * Which of `oids` are open projects the caller can see in their default workspace (the ones
 * `listProjects` offers): one query, `((ObjectID = a) OR …)`. What a connection token's project
 * allowlist is checked against when it is made (issue 18, O23).
 */
export async function visibleProjects(
  rally: RallyClient,
  oids: readonly string[],
): Promise<Array<{ readonly oid: string; readonly name: string }>> {
  if (oids.length === 0) return [];
  const workspace = (await userDefaults(rally)).workspace?.oid;
  const ids: QueryFilter[] = oids.map((oid) => ({ attr: 'ObjectID', op: '=', value: { oid } }));
  const filter = andAll([ids.length === 1 ? ids[0] : { or: ids }, { attr: 'State', op: '=', value: 'Open' }]);
  const page = await rally.query('project', {
    ...(filter ? { query: compileQuery(filter) } : {}),
    fetch: ['ObjectID', 'Name'],
    order: 'Name,ObjectID',
    pageSize: oids.length,
    ...(workspace ? { workspace } : {}),
  });
  return page.results.flatMap((p) => {
    const oid = oidOf(p);
    return oid && oids.includes(oid) ? [{ oid, name: typeof p.Name === 'string' ? p.Name : '' }] : [];
  });
}

export type Timeframe = 'current' | 'past' | 'future' | 'all';

export function iterationFilter(timeframe: Timeframe, state?: string): QueryFilter | undefined {
  const time: QueryFilter | undefined =
    timeframe === 'current'
      ? {
          and: [
            { attr: 'StartDate', op: '<=', value: { today: 0 } },
            { attr: 'EndDate', op: '>=', value: { today: 0 } },
          ],
        }
      : timeframe === 'past'
        ? { attr: 'EndDate', op: '<', value: { today: 0 } }
        : timeframe === 'future'
          ? { attr: 'StartDate', op: '>', value: { today: 0 } }
          : undefined;
  return andAll([time, state !== undefined ? { attr: 'State', op: '=', value: state } : undefined]);
}

export async function listIterations(
  rally: RallyClient,
  opts: ListPage & { project?: string; timeframe: Timeframe; state?: string; workspace?: string },
): Promise<{ page: QueryPage; project?: string }> {
  const workspace = opts.workspace ?? (await userDefaults(rally)).workspace?.oid;
  const project = await resolveProject(rally, opts.project, workspace ? { workspace } : {});
  const filter = iterationFilter(opts.timeframe, opts.state);
  const page = await rally.query('iteration', {
    ...(filter ? { query: compileQuery(filter) } : {}),
    fetch: ['ObjectID', 'Name', 'StartDate', 'EndDate', 'State', 'Project', 'PlannedVelocity'],
    order: 'StartDate DESC,ObjectID',
    start: opts.start,
    pageSize: opts.pageSize,
    ...(workspace ? { workspace } : {}),
    ...(project ? { project, projectScopeUp: false, projectScopeDown: false } : {}),
  });
  return { page, ...(project ? { project } : {}) };
}
