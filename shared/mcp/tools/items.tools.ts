/**
 * Work-item tools: read, create, update (two-step), comment. Schemas and
 * output mapping live here; the WSAPI calls live in rally/items.api.ts.
 * @module
 */
import { z } from 'zod';
import {
  MAX_TASKS_LISTED,
  addComment,
  changesToFields,
  createDefect,
  createStory,
  createTask,
  getItemDetails,
  updateItem,
  type ItemChanges,
  type ItemDetails,
} from '../../rally/items.api.js';
import { ITEM_FETCH } from '../../rally/items.api.js';
import { resolveWorkItem, type ResolvedItem } from '../../rally/lookup.api.js';
import { oidOf } from '../../rally/refs.js';
import type { RallyObject } from '../../rally/types.js';
import { MAX_COMMENT_CHARS, MAX_DESCRIPTION_CHARS, capText } from '../../sanitize/index.js';
import {
  DefectState,
  Description,
  Estimate,
  ItemId,
  ItemName,
  IterationRef,
  OwnerRef,
  Priority,
  ProjectRef,
  ReleaseRef,
  ScheduleState,
  Severity,
  TaskState,
} from './inputs.js';
import {
  EnumOut,
  ITEM_STATES,
  ItemSummary,
  PRIORITIES,
  RallyText,
  RefOut,
  SCHEDULE_STATES,
  SEVERITIES,
  TYPE_TO_KIND,
  UserOut,
  boolOrNull,
  dateOrNull,
  formattedIdOrNull,
  itemSummary,
  numberOrNull,
  rallyEnum,
  rallyRichText,
  rallyText,
  refOut,
  renderText,
  userOut,
} from './output.js';
import { CHANGES, CREATES, READ_ONLY, defineTool } from './spec.js';
import { ToolInputError } from './tool-errors.js';

// ---------- get_rally_issue ----------

const TaskStateOut = EnumOut(ITEM_STATES);
const TaskLine = z.object({
  formattedId: z.string().nullable(),
  objectId: z.string(),
  name: RallyText,
  state: TaskStateOut,
  owner: UserOut,
});
const TaskStateCount = z.object({ state: TaskStateOut, count: z.number() });
const ItemDetailOut = ItemSummary.extend({
  severity: EnumOut(SEVERITIES),
  priority: EnumOut(PRIORITIES),
  blocked: z.boolean().nullable(),
  blockedReason: RallyText.nullable(),
  planEstimate: z.number().nullable(),
  estimate: z.number().nullable(),
  toDo: z.number().nullable(),
  project: RefOut,
  iteration: RefOut,
  release: RefOut,
  parent: z.object({ formattedId: z.string().nullable(), objectId: z.string(), name: RallyText }).nullable(),
  tasks: z.object({ total: z.number(), byState: z.array(TaskStateCount), listed: z.array(TaskLine) }).nullable(),
  description: RallyText,
  notes: RallyText,
  createdAt: z.string().nullable(),
  updatedAt: z.string().nullable(),
});
const GetItemOut = z.object({ item: ItemDetailOut });

function parentOf(obj: RallyObject): z.infer<typeof ItemDetailOut>['parent'] {
  const p = obj.Parent ?? obj.WorkProduct ?? obj.Requirement;
  const r = refOut(p);
  if (!r) return null;
  const fid = p && typeof p === 'object' ? (p as { FormattedID?: unknown }).FormattedID : undefined;
  return { formattedId: formattedIdOrNull(fid), objectId: r.objectId, name: r.name };
}

export function toDetail(details: ItemDetails, webBase: string): z.infer<typeof ItemDetailOut> {
  const { object: o, type } = details.item;
  const tasks = details.tasks;
  // A list, not a record: a state the workspace defined is Rally text and must not become a key.
  const counts = new Map<string, { state: z.infer<typeof TaskStateOut>; count: number }>();
  for (const t of tasks?.items ?? []) {
    const state = rallyEnum(ITEM_STATES, t.State);
    const key = JSON.stringify(state);
    counts.set(key, { state, count: (counts.get(key)?.count ?? 0) + 1 });
  }
  const byState = [...counts.values()];
  return {
    ...itemSummary(o, type, webBase),
    severity: rallyEnum(SEVERITIES, o.Severity),
    priority: rallyEnum(PRIORITIES, o.Priority),
    blocked: boolOrNull(o.Blocked),
    blockedReason: typeof o.BlockedReason === 'string' && o.BlockedReason ? rallyText(o.BlockedReason) : null,
    planEstimate: numberOrNull(o.PlanEstimate),
    estimate: numberOrNull(o.Estimate),
    toDo: numberOrNull(o.ToDo),
    project: refOut(o.Project),
    iteration: refOut(o.Iteration),
    release: refOut(o.Release),
    parent: parentOf(o),
    tasks: tasks
      ? {
          total: tasks.total,
          byState, // counts cover the listed tasks (the first MAX_TASKS_LISTED)
          listed: tasks.items.slice(0, MAX_TASKS_LISTED).map((t) => ({
            formattedId: formattedIdOrNull(t.FormattedID),
            objectId: oidOf(t) ?? '0',
            name: rallyText(t.Name),
            state: rallyEnum(ITEM_STATES, t.State),
            owner: userOut(t.Owner),
          })),
        }
      : null,
    description: rallyRichText(o.Description ?? '', MAX_DESCRIPTION_CHARS),
    notes: rallyRichText(o.Notes ?? '', MAX_COMMENT_CHARS),
    createdAt: dateOrNull(o.CreationDate),
    updatedAt: dateOrNull(o.LastUpdateDate),
  };
}

/** Server-written: a FormattedID that passed formattedIdOrNull, or the numeric ObjectID, and our kind (L9). */
const headline = (i: { formattedId: string | null; objectId: string; kind: string }) =>
  `${i.formattedId ?? i.objectId} (${i.kind})`;

export const getRallyIssue = defineTool({
  name: 'get_rally_issue',
  projects: 'item',
  title: 'Get Rally work item',
  description:
    'Get one Rally user story, defect or task by FormattedID (US12, DE7, TA3) or ObjectID: key fields, owner, iteration, release, parent, task summary, description and web link.',
  readOnly: true,
  annotations: { ...READ_ONLY, title: 'Get Rally work item' },
  input: z.object({ id: ItemId }).strict(),
  output: GetItemOut,
  async run(args, ctx) {
    const item = toDetail(await getItemDetails(ctx.rally, args.id), ctx.rallyWebBaseUrl);
    const structured = { item };
    return { structured, text: renderText(`${headline(item)}: ${item.url}`, structured) };
  },
});

// ---------- creates ----------

const CreatedOut = z.object({ created: ItemSummary });

function createdResult(item: ResolvedItem, webBase: string) {
  const created = itemSummary(item.object, item.type, webBase);
  const structured = { created };
  return { structured, text: renderText(`Created ${headline(created)}: ${created.url}`, structured) };
}

export const createRallyStory = defineTool({
  name: 'create_rally_story',
  projects: 'create',
  title: 'Create Rally user story',
  description: 'Create a user story in Rally. Only name is required; project defaults to your Rally default project.',
  readOnly: false,
  annotations: { ...CREATES, title: 'Create Rally user story' },
  input: z
    .object({
      name: ItemName,
      description: Description.optional(),
      project: ProjectRef.optional(),
      iteration: IterationRef.optional(),
      release: ReleaseRef.optional(),
      owner: OwnerRef.optional(),
      planEstimate: Estimate('Story points, 0-999.').optional(),
      scheduleState: ScheduleState.optional(),
      parent: ItemId.optional().describe('Parent user story: FormattedID or ObjectID.'),
      blocked: z.boolean().optional().describe('Mark the story as blocked.'),
      blockedReason: z.string().max(256).optional().describe('Why it is blocked (up to 256 characters).'),
    })
    .strict(),
  output: CreatedOut,
  async run(args, ctx) {
    return createdResult(await createStory(ctx.rally, args), ctx.rallyWebBaseUrl);
  },
});

export const createRallyDefect = defineTool({
  name: 'create_rally_defect',
  projects: 'create',
  title: 'Create Rally defect',
  description: 'Create a defect in Rally. Only name is required; project defaults to your Rally default project.',
  readOnly: false,
  annotations: { ...CREATES, title: 'Create Rally defect' },
  input: z
    .object({
      name: ItemName,
      description: Description.optional(),
      severity: Severity.optional(),
      priority: Priority.optional(),
      state: DefectState.optional(),
      scheduleState: ScheduleState.optional(),
      environment: z
        .string()
        .trim()
        .min(1)
        .max(50)
        .optional()
        .describe('Environment where it was found, e.g. "Production", "Test".'),
      foundIn: z.string().trim().min(1).max(100).optional().describe('Build or version in which it was found.'),
      requirement: ItemId.optional().describe('User story the defect belongs to: FormattedID or ObjectID.'),
      project: ProjectRef.optional(),
      iteration: IterationRef.optional(),
      release: ReleaseRef.optional(),
      owner: OwnerRef.optional(),
    })
    .strict(),
  output: CreatedOut,
  async run(args, ctx) {
    return createdResult(await createDefect(ctx.rally, args), ctx.rallyWebBaseUrl);
  },
});

export const createRallyTask = defineTool({
  name: 'create_rally_task',
  projects: 'create',
  title: 'Create Rally task',
  description: 'Create a task under a user story or defect.',
  readOnly: false,
  annotations: { ...CREATES, title: 'Create Rally task' },
  input: z
    .object({
      workProduct: ItemId.describe('The user story or defect the task belongs to: FormattedID or ObjectID.'),
      name: ItemName,
      description: Description.optional(),
      estimate: Estimate('Estimated hours, 0-999.').optional(),
      toDo: Estimate('Remaining hours, 0-999.').optional(),
      state: TaskState.optional(),
      owner: OwnerRef.optional(),
    })
    .strict(),
  output: CreatedOut,
  async run(args, ctx) {
    return createdResult(await createTask(ctx.rally, args), ctx.rallyWebBaseUrl);
  },
});

// ---------- update_rally_item (two-step) ----------

const ChangeLine = z.object({ field: z.string(), from: z.unknown(), to: z.unknown() });
const UpdateOut = z.object({
  applied: z.boolean().describe('true only when the change was written to Rally.'),
  item: ItemSummary,
  changes: z.array(ChangeLine),
});

const UpdateInput = z
  .object({
    id: ItemId,
    name: ItemName.optional(),
    description: Description.optional().describe('New plain-text description; replaces the old one.'),
    scheduleState: ScheduleState.optional().describe('New schedule state (stories and defects).'),
    state: z
      .enum(['Submitted', 'Open', 'Fixed', 'Closed', 'Defined', 'In-Progress', 'Completed'])
      .optional()
      .describe(
        'New State: for defects Submitted, Open, Fixed or Closed; for tasks Defined, In-Progress or Completed.',
      ),
    owner: OwnerRef.nullable()
      .optional()
      .describe('New owner ("me", user name, display name, ObjectID) or null to clear.'),
    planEstimate: z
      .number()
      .min(0)
      .max(999)
      .nullable()
      .optional()
      .describe('New story points, 0-999, or null to clear.'),
    iteration: IterationRef.nullable()
      .optional()
      .describe('New iteration (name, "current", ObjectID) or null to clear.'),
    blocked: z.boolean().optional().describe('Set or clear Blocked.'),
    blockedReason: z
      .string()
      .max(256)
      // eslint-disable-next-line no-control-regex -- control characters are refused on purpose
      .regex(/^[^\u0000-\u001f]*$/)
      .optional()
      .describe('Why it is blocked (up to 256 characters).'),
    confirm: z
      .boolean()
      .default(false)
      .describe('false (default): only preview the change. true: apply it. Ask the user before setting true.'),
  })
  .strict();

const DEFECT_STATES = new Set(['Submitted', 'Open', 'Fixed', 'Closed']);
const TASK_STATES = new Set(['Defined', 'In-Progress', 'Completed']);

function checkApplicable(item: ResolvedItem, c: ItemChanges): void {
  if (c.state !== undefined) {
    const ok =
      item.type === 'defect' ? DEFECT_STATES.has(c.state) : item.type === 'task' ? TASK_STATES.has(c.state) : false;
    if (!ok)
      throw new ToolInputError(
        `"state" ${c.state} does not apply to a ${TYPE_TO_KIND[item.type]}; use scheduleState for stories.`,
      );
  }
  if (
    item.type === 'task' &&
    (c.scheduleState !== undefined || c.planEstimate !== undefined || c.iteration !== undefined)
  ) {
    throw new ToolInputError('Tasks have no scheduleState, planEstimate or iteration; change the parent item instead.');
  }
}

const CURRENT: Readonly<Record<keyof ItemChanges, (o: RallyObject) => unknown>> = {
  name: (o) => rallyText(o.Name),
  description: (o) => rallyRichText(o.Description ?? '', 500),
  scheduleState: (o) => rallyEnum(SCHEDULE_STATES, o.ScheduleState),
  state: (o) => rallyEnum(ITEM_STATES, o.State),
  owner: (o) => userOut(o.Owner),
  planEstimate: (o) => numberOrNull(o.PlanEstimate),
  iteration: (o) => refOut(o.Iteration),
  blocked: (o) => boolOrNull(o.Blocked),
  blockedReason: (o) => (typeof o.BlockedReason === 'string' ? rallyText(o.BlockedReason) : null),
};

export const updateRallyItem = defineTool({
  name: 'update_rally_item',
  projects: 'item',
  title: 'Update Rally work item',
  description:
    'Change fields of a Rally story, defect or task. Two steps: call without confirm to get a preview of the change (nothing is written), show it to the user, then call again with confirm: true to apply it.',
  readOnly: false,
  annotations: { ...CHANGES, title: 'Update Rally work item' },
  input: UpdateInput,
  output: UpdateOut,
  async run(args, ctx) {
    const { id, confirm, ...changes } = args;
    const keys = (Object.keys(changes) as (keyof ItemChanges)[]).filter((k) => changes[k] !== undefined);
    if (keys.length === 0) throw new ToolInputError('Nothing to change: give at least one field to update.');
    const item = await resolveWorkItem(ctx.rally, id, ITEM_FETCH);
    checkApplicable(item, changes);
    const lines = keys.map((k) => {
      const to = changes[k];
      return { field: k, from: CURRENT[k](item.object), to: typeof to === 'string' ? capText(to, 2000) : to };
    });
    if (!confirm) {
      const structured = {
        applied: false,
        item: itemSummary(item.object, item.type, ctx.rallyWebBaseUrl),
        changes: lines,
      };
      return {
        structured,
        text: renderText(
          `Preview only, nothing changed in ${headline(structured.item)}. Call again with confirm: true to apply.`,
          structured,
        ),
      };
    }
    const fields = await changesToFields(ctx.rally, item, changes);
    const updated = await updateItem(ctx.rally, item, fields);
    const summary = itemSummary({ ...item.object, ...updated }, item.type, ctx.rallyWebBaseUrl);
    const structured = { applied: true, item: summary, changes: lines };
    return { structured, text: renderText(`Updated ${headline(summary)}: ${summary.url}`, structured) };
  },
});

// ---------- add_rally_comment ----------

const CommentOut = z.object({ item: ItemSummary, postObjectId: z.string(), postNumber: z.number().nullable() });

export const addRallyComment = defineTool({
  name: 'add_rally_comment',
  projects: 'item',
  title: 'Add Rally discussion comment',
  description: 'Post a comment to the discussion of a Rally story, defect or task.',
  readOnly: false,
  annotations: { ...CREATES, title: 'Add Rally discussion comment' },
  input: z
    .object({
      id: ItemId,
      text: z
        .string()
        .trim()
        .min(1)
        .max(5000)
        // eslint-disable-next-line no-control-regex -- control characters are refused on purpose
        .regex(/^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$/)
        .describe('Comment text, plain text up to 5,000 characters.'),
    })
    .strict(),
  output: CommentOut,
  async run(args, ctx) {
    const { item, post } = await addComment(ctx.rally, args.id, args.text);
    const summary = itemSummary(item.object, item.type, ctx.rallyWebBaseUrl);
    const structured = { item: summary, postObjectId: oidOf(post) ?? '0', postNumber: numberOrNull(post.PostNumber) };
    return { structured, text: renderText(`Comment added to ${headline(summary)}: ${summary.url}`, structured) };
  },
});

export const ITEM_TOOLS = [
  getRallyIssue,
  createRallyStory,
  createRallyDefect,
  createRallyTask,
  updateRallyItem,
  addRallyComment,
];
