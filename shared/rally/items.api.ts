/**
 * Work-item operations (stories, defects, tasks, discussion) as plain WSAPI
 * calls. Inputs are already validated by the tool schemas; names are resolved
 * to refs here.
 * @module
 */
import type { RallyClient } from './client.js';
import { RallyLookupError } from './errors.js';
import {
  resolveIteration,
  resolveOwner,
  resolveProject,
  resolveRelease,
  resolveWorkItem,
  type ResolvedItem,
} from './lookup.api.js';
import { oidOf, refOid } from './refs.js';
import type { RallyObject, WorkItemType } from './types.js';

/** Fields fetched for a work-item detail view. */
export const ITEM_FETCH = [
  'ObjectID',
  'FormattedID',
  'Name',
  'Description',
  'Notes',
  'ScheduleState',
  'State',
  'Severity',
  'Priority',
  'Environment',
  'FoundInBuild',
  'Blocked',
  'BlockedReason',
  'PlanEstimate',
  'Estimate',
  'ToDo',
  'Owner',
  'Project',
  'Iteration',
  'Release',
  'Parent',
  'Requirement',
  'WorkProduct',
  'Tasks',
  'Tags',
  'CreationDate',
  'LastUpdateDate',
  'DisplayName',
  'UserName',
] as const;

export const TASK_SUMMARY_FETCH = ['ObjectID', 'FormattedID', 'Name', 'State', 'Owner', 'Estimate', 'ToDo'] as const;
/** At most this many tasks are listed in a detail view; the count covers all. */
export const MAX_TASKS_LISTED = 20;

export interface ItemDetails {
  readonly item: ResolvedItem;
  readonly tasks?: { readonly total: number; readonly items: readonly RallyObject[] };
}

export async function getItemDetails(rally: RallyClient, id: string): Promise<ItemDetails> {
  const item = await resolveWorkItem(rally, id, ITEM_FETCH);
  if (item.type === 'task') return { item };
  const page = await rally.collection(item.type, item.oid, 'Tasks', {
    fetch: [...TASK_SUMMARY_FETCH],
    pageSize: MAX_TASKS_LISTED,
    order: 'ObjectID',
  });
  return { item, tasks: { total: page.totalResultCount, items: page.results } };
}

/** Rich text for Rally from plain text: escaped, paragraphs and line breaks preserved. */
export function plainToRallyHtml(text: string): string {
  const esc = (s: string) =>
    s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  return text
    .replace(/\r\n?/g, '\n')
    .split(/\n{2,}/)
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => `<p>${esc(p).replace(/\n/g, '<br />')}</p>`)
    .join('');
}

// The inputs below come straight from the tools' zod schemas, whose `.optional()`
// fields are `T | undefined`; an `undefined` field is treated as absent.
export interface CommonCreateInput {
  readonly name: string;
  readonly description?: string | undefined;
  readonly project?: string | undefined;
  readonly iteration?: string | undefined;
  readonly release?: string | undefined;
  readonly owner?: string | undefined;
  readonly scheduleState?: string | undefined;
}

async function commonFields(
  rally: RallyClient,
  input: CommonCreateInput,
): Promise<{ fields: Record<string, unknown>; project?: string }> {
  const project = await resolveProject(rally, input.project);
  const fields: Record<string, unknown> = { Name: input.name };
  if (project) fields.Project = `/project/${project}`;
  if (input.description !== undefined) fields.Description = plainToRallyHtml(input.description);
  if (input.iteration !== undefined)
    fields.Iteration = `/iteration/${await resolveIteration(rally, input.iteration, project)}`;
  if (input.release !== undefined) fields.Release = `/release/${await resolveRelease(rally, input.release, project)}`;
  if (input.owner !== undefined) fields.Owner = `/user/${await resolveOwner(rally, input.owner)}`;
  if (input.scheduleState !== undefined) fields.ScheduleState = input.scheduleState;
  return { fields, ...(project ? { project } : {}) };
}

const CREATED_FETCH = [
  'ObjectID',
  'FormattedID',
  'Name',
  'ScheduleState',
  'State',
  'Project',
  'Owner',
  'Iteration',
  'Release',
  'WorkProduct',
  'Requirement',
  'Parent',
];

export interface CreateStoryInput extends CommonCreateInput {
  readonly planEstimate?: number | undefined;
  readonly parent?: string | undefined;
  readonly blocked?: boolean | undefined;
  readonly blockedReason?: string | undefined;
}

export async function createStory(rally: RallyClient, input: CreateStoryInput): Promise<ResolvedItem> {
  const { fields } = await commonFields(rally, input);
  if (input.planEstimate !== undefined) fields.PlanEstimate = input.planEstimate;
  if (input.parent !== undefined)
    fields.Parent = `/hierarchicalrequirement/${(await resolveWorkItem(rally, input.parent, ['ObjectID'], {}, ['hierarchicalrequirement'])).oid}`;
  if (input.blocked !== undefined) fields.Blocked = input.blocked;
  if (input.blockedReason !== undefined) fields.BlockedReason = input.blockedReason;
  return created(await rally.create('hierarchicalrequirement', fields, CREATED_FETCH), 'hierarchicalrequirement');
}

export interface CreateDefectInput extends CommonCreateInput {
  readonly severity?: string | undefined;
  readonly priority?: string | undefined;
  readonly state?: string | undefined;
  readonly environment?: string | undefined;
  readonly foundIn?: string | undefined;
  readonly requirement?: string | undefined;
}

export async function createDefect(rally: RallyClient, input: CreateDefectInput): Promise<ResolvedItem> {
  const { fields } = await commonFields(rally, input);
  if (input.severity !== undefined) fields.Severity = input.severity;
  if (input.priority !== undefined) fields.Priority = input.priority;
  if (input.state !== undefined) fields.State = input.state;
  if (input.environment !== undefined) fields.Environment = input.environment;
  if (input.foundIn !== undefined) fields.FoundInBuild = input.foundIn;
  if (input.requirement !== undefined) {
    fields.Requirement = `/hierarchicalrequirement/${(await resolveWorkItem(rally, input.requirement, ['ObjectID'], {}, ['hierarchicalrequirement'])).oid}`;
  }
  return created(await rally.create('defect', fields, CREATED_FETCH), 'defect');
}

export interface CreateTaskInput {
  readonly workProduct: string;
  readonly name: string;
  readonly description?: string | undefined;
  readonly estimate?: number | undefined;
  readonly toDo?: number | undefined;
  readonly state?: string | undefined;
  readonly owner?: string | undefined;
}

export async function createTask(rally: RallyClient, input: CreateTaskInput): Promise<ResolvedItem> {
  const parent = await resolveWorkItem(rally, input.workProduct, ['ObjectID', 'Project'], {}, [
    'hierarchicalrequirement',
    'defect',
  ]);
  const fields: Record<string, unknown> = { Name: input.name, WorkProduct: `/${parent.type}/${parent.oid}` };
  const project = refOid(parent.object.Project);
  if (project) fields.Project = `/project/${project}`;
  if (input.description !== undefined) fields.Description = plainToRallyHtml(input.description);
  if (input.estimate !== undefined) fields.Estimate = input.estimate;
  if (input.toDo !== undefined) fields.ToDo = input.toDo;
  if (input.state !== undefined) fields.State = input.state;
  if (input.owner !== undefined) fields.Owner = `/user/${await resolveOwner(rally, input.owner)}`;
  return created(await rally.create('task', fields, CREATED_FETCH), 'task');
}

function created(obj: RallyObject, type: WorkItemType): ResolvedItem {
  const oid = oidOf(obj);
  if (!oid) throw new RallyLookupError('not_found', 'created item');
  return { type, oid, object: obj };
}

/** A change request in Rally field terms, before refs are resolved. */
export interface ItemChanges {
  readonly name?: string | undefined;
  readonly description?: string | undefined;
  readonly scheduleState?: string | undefined;
  readonly state?: string | undefined;
  readonly owner?: string | null | undefined;
  readonly planEstimate?: number | null | undefined;
  readonly iteration?: string | null | undefined;
  readonly blocked?: boolean | undefined;
  readonly blockedReason?: string | undefined;
}

/** Resolves names to refs and returns the WSAPI field map for an update. */
export async function changesToFields(
  rally: RallyClient,
  item: ResolvedItem,
  changes: ItemChanges,
): Promise<Record<string, unknown>> {
  const f: Record<string, unknown> = {};
  if (changes.name !== undefined) f.Name = changes.name;
  if (changes.description !== undefined) f.Description = plainToRallyHtml(changes.description);
  if (changes.scheduleState !== undefined) f.ScheduleState = changes.scheduleState;
  if (changes.state !== undefined) f.State = changes.state;
  if (changes.owner !== undefined)
    f.Owner = changes.owner === null ? null : `/user/${await resolveOwner(rally, changes.owner)}`;
  if (changes.planEstimate !== undefined) f.PlanEstimate = changes.planEstimate;
  if (changes.iteration !== undefined) {
    f.Iteration =
      changes.iteration === null
        ? null
        : `/iteration/${await resolveIteration(rally, changes.iteration, refOid(item.object.Project))}`;
  }
  if (changes.blocked !== undefined) f.Blocked = changes.blocked;
  if (changes.blockedReason !== undefined) f.BlockedReason = changes.blockedReason;
  return f;
}

export async function updateItem(
  rally: RallyClient,
  item: ResolvedItem,
  fields: Record<string, unknown>,
): Promise<RallyObject> {
  return rally.update(item.type, item.oid, fields, [...ITEM_FETCH]);
}

export async function addComment(
  rally: RallyClient,
  id: string,
  text: string,
): Promise<{ item: ResolvedItem; post: RallyObject }> {
  const item = await resolveWorkItem(rally, id, ['ObjectID', 'FormattedID', 'Name']);
  const post = await rally.create(
    'conversationpost',
    { Artifact: `/${item.type}/${item.oid}`, Text: plainToRallyHtml(text) },
    ['ObjectID', 'PostNumber', 'CreationDate'],
  );
  return { item, post };
}
