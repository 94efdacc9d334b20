/**
 * Planning reads: blocked work, an iteration's status and capacity, releases
 * and milestones (rally-api.md §3.12). Every query is compiled by query.ts.
 * @module
 */
import type { RallyClient } from './client.js';
import { resolveIteration, resolveOwner, resolveProject } from './lookup.api.js';
import { iterationFilter, type ListPage, type Timeframe } from './projects.api.js';
import { andAll, compileQuery, type QueryFilter } from './query.js';
import { userDefaults } from './refs.js';
import { MAX_PAGE_SIZE, type QueryPage, type RallyObject, type WorkItemType } from './types.js';

export interface Scoped {
  readonly project?: string;
  readonly workspace?: string;
}

async function scopeOf(rally: RallyClient, s: Scoped): Promise<{ workspace?: string; project?: string }> {
  const workspace = s.workspace ?? (await userDefaults(rally)).workspace?.oid;
  const project = await resolveProject(rally, s.project, workspace ? { workspace } : {});
  return { ...(workspace ? { workspace } : {}), ...(project ? { project } : {}) };
}

export const BLOCKED_FETCH = [
  'ObjectID',
  'FormattedID',
  'Name',
  'ScheduleState',
  'State',
  'Owner',
  'DisplayName',
  'UserName',
  'Blocked',
  'BlockedReason',
  'Iteration',
  'Project',
];

/** Blocked items of one type, optionally in an iteration ("current", name, ObjectID) and for an owner. */
export async function listBlocked(
  rally: RallyClient,
  type: WorkItemType,
  opts: ListPage & Scoped & { iteration?: string; owner?: string },
): Promise<QueryPage> {
  const scope = await scopeOf(rally, opts);
  const parts: Array<QueryFilter | undefined> = [{ attr: 'Blocked', op: '=', value: true }];
  if (opts.iteration !== undefined) {
    if (opts.iteration.toLowerCase() === 'current')
      parts.push(
        { attr: 'Iteration.StartDate', op: '<=', value: { today: 0 } },
        { attr: 'Iteration.EndDate', op: '>=', value: { today: 0 } },
      );
    else {
      const oid = await resolveIteration(rally, opts.iteration, scope.project, scope);
      parts.push({ attr: 'Iteration', op: '=', value: { ref: `/iteration/${oid}` } });
    }
  }
  if (opts.owner !== undefined)
    parts.push({ attr: 'Owner', op: '=', value: { ref: `/user/${await resolveOwner(rally, opts.owner)}` } });
  const filter = andAll(parts);
  return rally.query(type, {
    ...(filter ? { query: compileQuery(filter) } : {}),
    fetch: BLOCKED_FETCH,
    order: 'FormattedID,ObjectID',
    start: opts.start,
    pageSize: opts.pageSize,
    ...(scope.workspace ? { workspace: scope.workspace } : {}),
    ...(scope.project ? { project: scope.project, projectScopeUp: false, projectScopeDown: true } : {}),
  });
}

export interface IterationStatus {
  readonly iteration: RallyObject;
  readonly workItems: readonly RallyObject[];
  readonly workItemsTotal: number;
  readonly tasks: readonly RallyObject[];
  readonly tasksTotal: number;
  readonly capacities: readonly RallyObject[];
}

/** One iteration with its stories and defects, tasks and per-user capacity (each capped at one page of 2000). */
export async function iterationStatus(
  rally: RallyClient,
  opts: Scoped & { iteration: string },
): Promise<IterationStatus> {
  const scope = await scopeOf(rally, opts);
  const oid = await resolveIteration(rally, opts.iteration, scope.project, scope);
  const inIteration = compileQuery({ attr: 'Iteration', op: '=', value: { ref: `/iteration/${oid}` } });
  const page = { start: 1, pageSize: MAX_PAGE_SIZE, order: 'ObjectID' } as const;
  const ws = scope.workspace ? { workspace: scope.workspace } : {};
  const [iteration, stories, defects, tasks, capacities] = await Promise.all([
    rally.read('iteration', oid, ['ObjectID', 'Name', 'StartDate', 'EndDate', 'State', 'PlannedVelocity', 'Project']),
    rally.query('hierarchicalrequirement', {
      query: inIteration,
      fetch: ['ObjectID', 'ScheduleState', 'PlanEstimate', 'Blocked'],
      ...page,
      ...ws,
    }),
    rally.query('defect', {
      query: inIteration,
      fetch: ['ObjectID', 'ScheduleState', 'PlanEstimate', 'Blocked'],
      ...page,
      ...ws,
    }),
    rally.query('task', {
      query: inIteration,
      fetch: ['ObjectID', 'Estimate', 'ToDo', 'Actuals', 'Owner'],
      ...page,
      ...ws,
    }),
    rally.query('useriterationcapacity', {
      query: inIteration,
      fetch: ['ObjectID', 'User', 'DisplayName', 'UserName', 'Capacity', 'TaskEstimates', 'Load'],
      ...page,
      ...ws,
    }),
  ]);
  return {
    iteration,
    workItems: [...stories.results, ...defects.results],
    workItemsTotal: stories.totalResultCount + defects.totalResultCount,
    tasks: tasks.results,
    tasksTotal: tasks.totalResultCount,
    capacities: capacities.results,
  };
}

export type ReleaseTimeframe = Timeframe;

/** Releases of a project by timeframe (current spans today), newest first. */
export async function listReleases(
  rally: RallyClient,
  opts: ListPage & Scoped & { timeframe: ReleaseTimeframe; state?: string },
): Promise<QueryPage> {
  const scope = await scopeOf(rally, opts);
  const dates = iterationFilter(opts.timeframe); // StartDate/EndDate names differ for releases
  const renamed = dates ? renameDates(dates) : undefined;
  const filter = andAll([
    renamed,
    opts.state !== undefined ? { attr: 'State', op: '=', value: opts.state } : undefined,
  ]);
  return rally.query('release', {
    ...(filter ? { query: compileQuery(filter) } : {}),
    fetch: ['ObjectID', 'Name', 'ReleaseStartDate', 'ReleaseDate', 'State', 'Version', 'Project'],
    order: 'ReleaseDate DESC,ObjectID',
    start: opts.start,
    pageSize: opts.pageSize,
    ...(scope.workspace ? { workspace: scope.workspace } : {}),
    ...(scope.project ? { project: scope.project, projectScopeUp: true, projectScopeDown: false } : {}),
  });
}

function renameDates(f: QueryFilter): QueryFilter {
  if ('and' in f) return { and: f.and.map(renameDates) };
  if ('or' in f) return { or: f.or.map(renameDates) };
  const attr = f.attr === 'StartDate' ? 'ReleaseStartDate' : f.attr === 'EndDate' ? 'ReleaseDate' : f.attr;
  return { ...f, attr };
}

/** Milestones of the workspace by target date: upcoming (today or later), past, or all. */
export async function listMilestones(
  rally: RallyClient,
  opts: ListPage & { workspace?: string; timeframe: 'upcoming' | 'past' | 'all' },
): Promise<QueryPage> {
  const workspace = opts.workspace ?? (await userDefaults(rally)).workspace?.oid;
  const filter: QueryFilter | undefined =
    opts.timeframe === 'upcoming'
      ? { attr: 'TargetDate', op: '>=', value: { today: 0 } }
      : opts.timeframe === 'past'
        ? { attr: 'TargetDate', op: '<', value: { today: 0 } }
        : undefined;
  return rally.query('milestone', {
    ...(filter ? { query: compileQuery(filter) } : {}),
    fetch: ['ObjectID', 'FormattedID', 'Name', 'TargetDate', 'TargetProject'],
    order: `TargetDate${opts.timeframe === 'past' ? ' DESC' : ''},ObjectID`,
    start: opts.start,
    pageSize: opts.pageSize,
    ...(workspace ? { workspace } : {}),
  });
}
