/**
 * Work-item search: structured filters compiled to Rally's grammar, an
 * optional validated raw query, one type per page.
 * @module
 */
import type { RallyClient } from './client.js';
import { RallyQueryError } from './errors.js';
import { resolveIteration, resolveOwner, resolveProject } from './lookup.api.js';
import { andAll, andRaw, compileQuery, validateRawQuery, type QueryFilter } from './query.js';
import { userDefaults } from './refs.js';
import { OBJECT_ID, type QueryPage, type WorkItemType } from './types.js';

export interface SearchFilters {
  readonly text?: string;
  readonly scheduleState?: string;
  readonly state?: string;
  readonly owner?: string;
  readonly iteration?: string;
  readonly project?: string;
  readonly tags?: readonly string[];
  readonly rawQuery?: string;
  readonly workspace?: string;
}

export const SEARCH_FETCH = [
  'ObjectID',
  'FormattedID',
  'Name',
  'ScheduleState',
  'State',
  'Severity',
  'Priority',
  'Owner',
  'Project',
  'Iteration',
  'Blocked',
  'PlanEstimate',
  'LastUpdateDate',
  'DisplayName',
  'UserName',
];

/** Compiles the structured part of a search for one type (refs already resolved). */
export function compileSearchFilter(
  type: WorkItemType,
  f: {
    text?: string;
    scheduleState?: string;
    state?: string;
    ownerOid?: string;
    iteration?: { oid?: string; current?: boolean };
    tags?: readonly string[];
  },
): QueryFilter | undefined {
  const parts: Array<QueryFilter | undefined> = [];
  if (f.text !== undefined) parts.push({ attr: 'Name', op: 'contains', value: f.text });
  // Tasks have no ScheduleState; their State uses the same spellings (Defined, In-Progress, Completed).
  if (f.scheduleState !== undefined)
    parts.push({ attr: type === 'task' ? 'State' : 'ScheduleState', op: '=', value: f.scheduleState });
  if (f.state !== undefined) parts.push({ attr: 'State', op: '=', value: f.state });
  if (f.ownerOid !== undefined) parts.push({ attr: 'Owner', op: '=', value: { ref: `/user/${f.ownerOid}` } });
  if (f.iteration?.current) {
    parts.push(
      { attr: 'Iteration.StartDate', op: '<=', value: { today: 0 } },
      { attr: 'Iteration.EndDate', op: '>=', value: { today: 0 } },
    );
  } else if (f.iteration?.oid !== undefined) {
    parts.push({ attr: 'Iteration', op: '=', value: { ref: `/iteration/${f.iteration.oid}` } });
  }
  for (const tag of f.tags ?? []) parts.push({ attr: 'Tags.Name', op: '=', value: tag });
  return andAll(parts);
}

export interface SearchRequest {
  readonly type: WorkItemType;
  readonly filters: SearchFilters;
  readonly order: string;
  readonly start: number;
  readonly pageSize: number;
}

export async function searchItems(rally: RallyClient, req: SearchRequest): Promise<QueryPage> {
  const f = req.filters;
  let raw: string | undefined;
  if (f.rawQuery !== undefined) {
    const checked = validateRawQuery(f.rawQuery);
    if (!checked.ok) throw new RallyQueryError(`raw query rejected: ${checked.error}`);
    raw = checked.value;
  }
  const defaults = await userDefaults(rally);
  const workspace = f.workspace ?? defaults.workspace?.oid;
  const project =
    f.project !== undefined ? await resolveProject(rally, f.project, workspace ? { workspace } : {}) : undefined;
  const ownerOid = f.owner !== undefined ? await resolveOwner(rally, f.owner) : undefined;
  let iteration: { oid?: string; current?: boolean } | undefined;
  if (f.iteration !== undefined) {
    iteration =
      f.iteration.toLowerCase() === 'current'
        ? { current: true }
        : OBJECT_ID.test(f.iteration)
          ? { oid: f.iteration }
          : {
              oid: await resolveIteration(
                rally,
                f.iteration,
                project ?? defaults.project?.oid,
                workspace ? { workspace } : {},
              ),
            };
  }
  const structured = compileSearchFilter(req.type, {
    ...(f.text !== undefined ? { text: f.text } : {}),
    ...(f.scheduleState !== undefined ? { scheduleState: f.scheduleState } : {}),
    ...(f.state !== undefined ? { state: f.state } : {}),
    ...(ownerOid !== undefined ? { ownerOid } : {}),
    ...(iteration ? { iteration } : {}),
    ...(f.tags ? { tags: f.tags } : {}),
  });
  const query = andRaw(structured ? compileQuery(structured) : undefined, raw);
  return rally.query(req.type, {
    ...(query ? { query } : {}),
    fetch: SEARCH_FETCH,
    order: `${req.order},ObjectID`,
    start: req.start,
    pageSize: req.pageSize,
    ...(workspace ? { workspace } : {}),
    ...(project ? { project, projectScopeUp: false, projectScopeDown: true } : {}),
  });
}
