/**
 * Portfolio items at the levels the workspace defines (rally-api.md §3.11,
 * §3.12): list by level, release, parent and state; read one with its
 * children. Levels come from workspaceSchema, never from a fixed list.
 * @module
 */
import type { RallyClient } from './client.js';
import { RallyApiError, RallyLookupError } from './errors.js';
import { FORMATTED_ID, resolveProject, resolveRelease } from './lookup.api.js';
import { andAll, compileQuery, type QueryFilter } from './query.js';
import { oidOf, userDefaults } from './refs.js';
import { workspaceSchema, type PortfolioLevel } from './schema.api.js';
import { OBJECT_ID, type PortfolioType, type QueryPage, type RallyObject } from './types.js';

export const PORTFOLIO_FETCH = [
  'ObjectID',
  'FormattedID',
  'Name',
  'State',
  'Owner',
  'DisplayName',
  'UserName',
  'Parent',
  'Release',
  'Project',
  'PlannedStartDate',
  'PlannedEndDate',
  'PercentDoneByStoryCount',
  'PercentDoneByStoryPlanEstimate',
  'LeafStoryCount',
  'AcceptedLeafStoryCount',
  'LeafStoryPlanEstimateTotal',
  'AcceptedLeafStoryPlanEstimateTotal',
];

/** The level named `name` (its display name, element name or type path, any case); default the lowest. */
export async function portfolioLevel(
  rally: RallyClient,
  name: string | undefined,
  workspace?: string,
): Promise<{ level: PortfolioLevel; levels: readonly PortfolioLevel[] }> {
  const { portfolioLevels: levels } = await workspaceSchema(rally, workspace);
  const wanted = name?.toLowerCase();
  const level =
    wanted === undefined
      ? levels[0]
      : levels.find(
          (l) => l.name.toLowerCase() === wanted || l.type === wanted || l.type === `portfolioitem/${wanted}`,
        );
  if (!level) throw new RallyLookupError('not_found', 'portfolio level');
  return { level, levels };
}

export interface PortfolioListOptions {
  readonly level?: string;
  readonly release?: string;
  readonly parent?: string;
  readonly state?: string;
  readonly project?: string;
  readonly workspace?: string;
  readonly start: number;
  readonly pageSize: number;
}

export async function listPortfolioItems(
  rally: RallyClient,
  opts: PortfolioListOptions,
): Promise<{ page: QueryPage; level: PortfolioLevel }> {
  const workspace = opts.workspace ?? (await userDefaults(rally)).workspace?.oid;
  const scope = workspace ? { workspace } : {};
  const { level, levels } = await portfolioLevel(rally, opts.level, workspace);
  const parts: Array<QueryFilter | undefined> = [];
  if (opts.release !== undefined) {
    if (opts.release.toLowerCase() === 'current')
      parts.push(
        { attr: 'Release.ReleaseStartDate', op: '<=', value: { today: 0 } },
        { attr: 'Release.ReleaseDate', op: '>=', value: { today: 0 } },
      );
    else
      parts.push({
        attr: 'Release',
        op: '=',
        value: { ref: `/release/${await resolveRelease(rally, opts.release, undefined, scope)}` },
      });
  }
  if (opts.parent !== undefined) {
    const parentLevel = levels.find((l) => l.ordinal === level.ordinal + 1);
    if (!parentLevel) throw new RallyLookupError('not_found', 'parent portfolio item');
    const parent = await resolvePortfolioItem(rally, opts.parent, [parentLevel], workspace);
    parts.push({ attr: 'Parent', op: '=', value: { ref: `/${parent.type}/${parent.oid}` } });
  }
  if (opts.state !== undefined) parts.push({ attr: 'State.Name', op: '=', value: opts.state });
  const project = opts.project !== undefined ? await resolveProject(rally, opts.project, scope) : undefined;
  const filter = andAll(parts);
  const page = await rally.query(level.type, {
    ...(filter ? { query: compileQuery(filter) } : {}),
    fetch: PORTFOLIO_FETCH,
    order: 'FormattedID,ObjectID',
    start: opts.start,
    pageSize: opts.pageSize,
    ...scope,
    ...(project ? { project, projectScopeUp: false, projectScopeDown: true } : {}),
  });
  return { page, level };
}

export interface ResolvedPortfolioItem {
  readonly type: PortfolioType;
  readonly oid: string;
  readonly object: RallyObject;
}

/** A portfolio item by FormattedID (F12, I3; prefixes vary) or ObjectID, across `levels`. */
export async function resolvePortfolioItem(
  rally: RallyClient,
  id: string,
  levels: readonly PortfolioLevel[],
  workspace?: string,
): Promise<ResolvedPortfolioItem> {
  if (OBJECT_ID.test(id)) {
    const attempts = await Promise.allSettled(levels.map((l) => rally.read(l.type, id, PORTFOLIO_FETCH)));
    for (const [i, a] of attempts.entries()) {
      const level = levels[i];
      if (a.status === 'fulfilled' && level) return { type: level.type, oid: id, object: a.value };
    }
    // As for work items: "not found" at every level is a lookup miss; any other refusal is the answer.
    const other = attempts.find(
      (a) => a.status === 'rejected' && !(a.reason instanceof RallyApiError && a.reason.code === 'rally_not_found'),
    );
    if (other && other.status === 'rejected') throw other.reason;
    throw new RallyLookupError('not_found', 'portfolio item');
  }
  if (!FORMATTED_ID.test(id)) throw new RallyLookupError('not_found', 'portfolio item');
  const query = compileQuery({ attr: 'FormattedID', op: '=', value: id });
  const pages = await Promise.all(
    levels.map((l) =>
      rally.query(l.type, {
        query,
        fetch: PORTFOLIO_FETCH,
        pageSize: 1,
        lookup: true,
        ...(workspace ? { workspace } : {}),
      }),
    ),
  );
  for (const [i, page] of pages.entries()) {
    const obj = page.results[0];
    const oid = obj ? oidOf(obj) : undefined;
    const level = levels[i];
    if (obj && oid && level) return { type: level.type, oid, object: obj };
  }
  throw new RallyLookupError('not_found', 'portfolio item');
}

export const MAX_CHILDREN_LISTED = 50;

/** One portfolio item and its first children: user stories of the lowest level, child items above it. */
export async function getPortfolioItem(
  rally: RallyClient,
  id: string,
  workspace?: string,
): Promise<{ item: ResolvedPortfolioItem; level: PortfolioLevel; children: QueryPage; childLevel?: PortfolioLevel }> {
  const { portfolioLevels: levels } = await workspaceSchema(rally, workspace);
  const item = await resolvePortfolioItem(rally, id, levels, workspace);
  const level = levels.find((l) => l.type === item.type) as PortfolioLevel;
  const childLevel = levels.find((l) => l.ordinal === level.ordinal - 1);
  const children = childLevel
    ? await rally.collection(item.type, item.oid, 'Children', {
        fetch: PORTFOLIO_FETCH,
        pageSize: MAX_CHILDREN_LISTED,
        order: 'FormattedID,ObjectID',
      })
    : await rally.collection(item.type, item.oid, 'UserStories', {
        fetch: ['ObjectID', 'FormattedID', 'Name', 'ScheduleState', 'Owner', 'DisplayName', 'UserName', 'PlanEstimate'],
        pageSize: MAX_CHILDREN_LISTED,
        order: 'FormattedID,ObjectID',
      });
  return { item, level, children, ...(childLevel ? { childLevel } : {}) };
}
