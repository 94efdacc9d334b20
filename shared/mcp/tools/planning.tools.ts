/**
 * Planning toolset: blocked work, iteration status and capacity, releases and
 * milestones. WSAPI calls live in rally/planning.api.ts.
 * @module
 */
import { z } from 'zod';
import { iterationStatus, listBlocked, listMilestones, listReleases } from '../../rally/planning.api.js';
import { oidOf } from '../../rally/refs.js';
import { CursorInput, nextCursorFor, nextPosition } from './cursor.js';
import { IterationRef, OwnerRef, PageSize, ProjectRef, WorkspaceId } from './inputs.js';
import {
  EnumOut,
  ITERATION_STATES,
  ItemKind,
  ItemSummary,
  KIND_TO_TYPE,
  RallyText,
  RefOut,
  SCHEDULE_STATES,
  UserOut,
  dateOrNull,
  fitItems,
  formattedIdOrNull,
  itemSummary,
  numberOrNull,
  rallyEnum,
  rallyText,
  refOut,
  renderText,
  userOut,
} from './output.js';
import { READ_ONLY, defineTool } from './spec.js';

// ---------- list_rally_blocked ----------

const BlockedItem = ItemSummary.extend({ blockedReason: RallyText.nullable(), iteration: RefOut, project: RefOut });

export const listRallyBlocked = defineTool({
  name: 'list_rally_blocked',
  projects: 'list',
  toolset: 'planning',
  title: 'List blocked Rally work',
  description:
    'List blocked stories, defects and tasks with the reason they are blocked, e.g. in the current iteration or for one owner. Pages one kind at a time.',
  readOnly: true,
  annotations: { ...READ_ONLY, title: 'List blocked Rally work' },
  input: z
    .object({
      iteration: IterationRef.optional().describe('Only this iteration: "current", an exact name, or an ObjectID.'),
      owner: OwnerRef.optional(),
      project: ProjectRef.optional().describe('Project name or ObjectID (includes child projects).'),
      types: z
        .array(ItemKind)
        .min(1)
        .max(3)
        .optional()
        .describe('Kinds: "story", "defect", "task". Default: all three.'),
      pageSize: PageSize,
      cursor: CursorInput.optional(),
      workspace: WorkspaceId.optional(),
    })
    .strict(),
  output: z.object({
    kind: ItemKind,
    totalForKind: z.number(),
    items: z.array(BlockedItem),
    nextCursor: z.string().nullable(),
  }),
  async run(args, ctx) {
    const kinds = args.types ?? (['story', 'defect', 'task'] as const);
    const { cursor, pageSize, ...filters } = args;
    const query = { tool: 'blocked', ...filters, kinds, pageSize };
    const pos = await ctx.cursors.open(cursor, query);
    const kind = kinds[pos.typeIndex];
    if (kind === undefined) throw new Error('cursor type index out of range');
    const type = KIND_TO_TYPE[kind];
    const page = await listBlocked(ctx.rally, type, {
      start: pos.start,
      pageSize,
      ...(args.iteration !== undefined ? { iteration: args.iteration } : {}),
      ...(args.owner !== undefined ? { owner: args.owner } : {}),
      ...(args.project !== undefined ? { project: args.project } : {}),
      ...(args.workspace !== undefined ? { workspace: args.workspace } : {}),
    });
    const all = page.results.map((o) => ({
      ...itemSummary(o, type, ctx.rallyWebBaseUrl),
      blockedReason: typeof o.BlockedReason === 'string' && o.BlockedReason ? rallyText(o.BlockedReason) : null,
      iteration: refOut(o.Iteration),
      project: refOut(o.Project),
    }));
    const { kept } = fitItems(all);
    const next = nextPosition(pos, kept.length, page.totalResultCount, kinds.length);
    const structured = {
      kind,
      totalForKind: page.totalResultCount,
      items: kept,
      nextCursor: next ? await ctx.cursors.seal(next, query) : null,
    };
    return {
      structured,
      text: renderText(`${kept.length} of ${page.totalResultCount} blocked ${kind} item(s).`, structured),
    };
  },
});

// ---------- get_rally_iteration_status ----------

const DAY_MS = 86_400_000;
const round1 = (n: number): number => Math.round(n * 10) / 10;

const StateLine = z.object({ scheduleState: EnumOut(SCHEDULE_STATES), count: z.number(), points: z.number() });
const CapacityLine = z.object({
  user: UserOut,
  capacityHours: z.number().nullable(),
  taskEstimateHours: z.number(),
  toDoHours: z.number(),
  remainingCapacityHours: z.number().nullable().describe('Capacity minus the To Do hours of the user’s tasks.'),
  load: z.number().nullable().describe('Task estimates / capacity (1 = fully loaded).'),
});
const IterationStatusOut = z.object({
  iteration: z.object({
    objectId: z.string(),
    name: RallyText,
    state: EnumOut(ITERATION_STATES),
    startDate: z.string().nullable(),
    endDate: z.string().nullable(),
    project: RefOut,
    daysTotal: z.number().nullable(),
    daysLeft: z.number().nullable(),
  }),
  plannedVelocity: z.number().nullable(),
  points: z.object({ total: z.number(), accepted: z.number(), percentAccepted: z.number().nullable() }),
  byScheduleState: z.array(StateLine),
  workItems: z.number(),
  blocked: z.number(),
  tasks: z.object({ count: z.number(), estimateHours: z.number(), toDoHours: z.number(), actualHours: z.number() }),
  capacity: z.array(CapacityLine),
  totals: z.object({
    capacityHours: z.number(),
    toDoHours: z.number(),
    remainingCapacityHours: z.number().describe('Team capacity minus To Do hours; negative means over-committed.'),
  }),
  truncated: z.string().nullable(),
});

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

export const getRallyIterationStatus = defineTool({
  name: 'get_rally_iteration_status',
  projects: 'list',
  toolset: 'planning',
  title: 'Get Rally iteration status',
  description:
    'Status of an iteration (default: the current one): days left, points by schedule state, blocked count, task hours, and capacity left per team member.',
  readOnly: true,
  annotations: { ...READ_ONLY, title: 'Get Rally iteration status' },
  input: z
    .object({
      iteration: IterationRef.default('current'),
      project: ProjectRef.optional(),
      workspace: WorkspaceId.optional(),
    })
    .strict(),
  output: IterationStatusOut,
  async run(args, ctx) {
    const s = await iterationStatus(ctx.rally, {
      iteration: args.iteration,
      ...(args.project !== undefined ? { project: args.project } : {}),
      ...(args.workspace !== undefined ? { workspace: args.workspace } : {}),
    });
    const it = s.iteration;
    const start = dateOrNull(it.StartDate);
    const end = dateOrNull(it.EndDate);
    const now = ctx.clock.now().getTime();
    const daysTotal = start && end ? Math.max(0, Math.ceil((Date.parse(end) - Date.parse(start)) / DAY_MS)) : null;
    const daysLeft = end ? Math.max(0, Math.ceil((Date.parse(end) - now) / DAY_MS)) : null;
    const states = new Map<string, z.infer<typeof StateLine>>();
    let total = 0;
    let accepted = 0;
    let blocked = 0;
    for (const w of s.workItems) {
      const points = num(w.PlanEstimate);
      total += points;
      if (w.ScheduleState === 'Accepted') accepted += points;
      if (w.Blocked === true) blocked++;
      const state = rallyEnum(SCHEDULE_STATES, w.ScheduleState);
      const key = JSON.stringify(state);
      const line = states.get(key) ?? { scheduleState: state, count: 0, points: 0 };
      states.set(key, { ...line, count: line.count + 1, points: line.points + points });
    }
    const order = (v: z.infer<typeof StateLine>['scheduleState']) =>
      typeof v === 'string' ? SCHEDULE_STATES.indexOf(v) : SCHEDULE_STATES.length;
    const byOwner = new Map<string, { estimate: number; toDo: number }>();
    let estimate = 0;
    let toDo = 0;
    let actual = 0;
    for (const t of s.tasks) {
      estimate += num(t.Estimate);
      toDo += num(t.ToDo);
      actual += num(t.Actuals);
      const owner = userOut(t.Owner)?.objectId;
      if (owner) {
        const cur = byOwner.get(owner) ?? { estimate: 0, toDo: 0 };
        byOwner.set(owner, { estimate: cur.estimate + num(t.Estimate), toDo: cur.toDo + num(t.ToDo) });
      }
    }
    const capacity = s.capacities.map((c) => {
      const user = userOut(c.User);
      const hours = numberOrNull(c.Capacity);
      const mine = (user && byOwner.get(user.objectId)) ?? { estimate: 0, toDo: 0 };
      const estimates = numberOrNull(c.TaskEstimates) ?? mine.estimate;
      return {
        user,
        capacityHours: hours,
        taskEstimateHours: round1(estimates),
        toDoHours: round1(mine.toDo),
        remainingCapacityHours: hours === null ? null : round1(hours - mine.toDo),
        load: hours ? Math.round((estimates / hours) * 100) / 100 : null,
      };
    });
    const capTotal = capacity.reduce((t, c) => t + (c.capacityHours ?? 0), 0);
    const truncated =
      s.workItemsTotal > s.workItems.length || s.tasksTotal > s.tasks.length
        ? 'More than 2,000 stories, defects or tasks: the sums cover the first 2,000 of each.'
        : null;
    const structured = {
      iteration: {
        objectId: oidOf(it) ?? '0',
        name: rallyText(it.Name),
        state: rallyEnum(ITERATION_STATES, it.State),
        startDate: start,
        endDate: end,
        project: refOut(it.Project),
        daysTotal,
        daysLeft,
      },
      plannedVelocity: numberOrNull(it.PlannedVelocity),
      points: {
        total: round1(total),
        accepted: round1(accepted),
        percentAccepted: total > 0 ? Math.round((accepted / total) * 100) : null,
      },
      byScheduleState: [...states.values()].sort((a, b) => order(a.scheduleState) - order(b.scheduleState)),
      workItems: s.workItems.length,
      blocked,
      tasks: {
        count: s.tasks.length,
        estimateHours: round1(estimate),
        toDoHours: round1(toDo),
        actualHours: round1(actual),
      },
      capacity,
      totals: {
        capacityHours: round1(capTotal),
        toDoHours: round1(toDo),
        remainingCapacityHours: round1(capTotal - toDo),
      },
      truncated,
    };
    const summary = `Iteration ${structured.iteration.objectId}: ${structured.points.accepted} of ${structured.points.total} points accepted, ${blocked} blocked, ${daysLeft ?? '?'} day(s) left.`;
    return { structured, text: renderText(summary, structured) };
  },
});

// ---------- list_rally_releases ----------

const RELEASE_STATES = ['Planning', 'Active', 'Accepted'] as const;
const ReleaseLine = z.object({
  objectId: z.string(),
  name: RallyText,
  state: EnumOut(RELEASE_STATES),
  startDate: z.string().nullable(),
  releaseDate: z.string().nullable(),
  version: RallyText.nullable(),
  project: RefOut,
});

export const listRallyReleases = defineTool({
  name: 'list_rally_releases',
  projects: 'list',
  toolset: 'planning',
  title: 'List Rally releases',
  description:
    'List releases of a Rally project (and its parents), newest first. timeframe "current" gives the active one.',
  readOnly: true,
  annotations: { ...READ_ONLY, title: 'List Rally releases' },
  input: z
    .object({
      project: ProjectRef.optional(),
      timeframe: z.enum(['current', 'past', 'future', 'all']).default('all').describe('current, past, future or all.'),
      state: z.enum(RELEASE_STATES).optional().describe('Release state: Planning, Active or Accepted.'),
      pageSize: PageSize,
      cursor: CursorInput.optional(),
      workspace: WorkspaceId.optional(),
    })
    .strict(),
  output: z.object({ total: z.number(), releases: z.array(ReleaseLine), nextCursor: z.string().nullable() }),
  async run(args, ctx) {
    const { cursor, ...rest } = args;
    const query = { tool: 'releases', ...rest };
    const pos = await ctx.cursors.open(cursor, query);
    const page = await listReleases(ctx.rally, {
      start: pos.start,
      pageSize: args.pageSize,
      timeframe: args.timeframe,
      ...(args.project !== undefined ? { project: args.project } : {}),
      ...(args.state !== undefined ? { state: args.state } : {}),
      ...(args.workspace !== undefined ? { workspace: args.workspace } : {}),
    });
    const all = page.results.map((r) => ({
      objectId: oidOf(r) ?? '0',
      name: rallyText(r.Name),
      state: rallyEnum(RELEASE_STATES, r.State),
      startDate: dateOrNull(r.ReleaseStartDate),
      releaseDate: dateOrNull(r.ReleaseDate),
      version: typeof r.Version === 'string' && r.Version ? rallyText(r.Version) : null,
      project: refOut(r.Project),
    }));
    const { kept } = fitItems(all);
    const structured = {
      total: page.totalResultCount,
      releases: kept,
      nextCursor: await nextCursorFor(ctx.cursors, query, pos.start, kept.length, page.totalResultCount),
    };
    return { structured, text: renderText(`${kept.length} of ${page.totalResultCount} release(s).`, structured) };
  },
});

// ---------- list_rally_milestones ----------

const MilestoneLine = z.object({
  objectId: z.string(),
  formattedId: z.string().nullable(),
  name: RallyText,
  targetDate: z.string().nullable(),
  targetProject: RefOut,
});

export const listRallyMilestones = defineTool({
  name: 'list_rally_milestones',
  projects: 'list',
  toolset: 'planning',
  title: 'List Rally milestones',
  description: 'List milestones of your workspace by target date: upcoming (default), past or all.',
  readOnly: true,
  annotations: { ...READ_ONLY, title: 'List Rally milestones' },
  input: z
    .object({
      timeframe: z.enum(['upcoming', 'past', 'all']).default('upcoming').describe('upcoming, past or all.'),
      pageSize: PageSize,
      cursor: CursorInput.optional(),
      workspace: WorkspaceId.optional(),
    })
    .strict(),
  output: z.object({ total: z.number(), milestones: z.array(MilestoneLine), nextCursor: z.string().nullable() }),
  async run(args, ctx) {
    const { cursor, ...rest } = args;
    const query = { tool: 'milestones', ...rest };
    const pos = await ctx.cursors.open(cursor, query);
    const page = await listMilestones(ctx.rally, {
      start: pos.start,
      pageSize: args.pageSize,
      timeframe: args.timeframe,
      ...(args.workspace !== undefined ? { workspace: args.workspace } : {}),
    });
    const all = page.results.map((m) => ({
      objectId: oidOf(m) ?? '0',
      formattedId: formattedIdOrNull(m.FormattedID),
      name: rallyText(m.Name),
      targetDate: dateOrNull(m.TargetDate),
      targetProject: refOut(m.TargetProject),
    }));
    const { kept } = fitItems(all);
    const structured = {
      total: page.totalResultCount,
      milestones: kept,
      nextCursor: await nextCursorFor(ctx.cursors, query, pos.start, kept.length, page.totalResultCount),
    };
    return { structured, text: renderText(`${kept.length} of ${page.totalResultCount} milestone(s).`, structured) };
  },
});

export const PLANNING_TOOLS = [listRallyBlocked, getRallyIterationStatus, listRallyReleases, listRallyMilestones];
