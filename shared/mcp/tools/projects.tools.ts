/**
 * list_rally_projects and list_rally_iterations.
 * @module
 */
import { z } from 'zod';
import { listIterations, listProjects } from '../../rally/projects.api.js';
import { isQuotableValue } from '../../rally/query.js';
import { oidOf } from '../../rally/refs.js';
import { CursorInput, nextCursorFor } from './cursor.js';
import { PageSize, ProjectRef, WorkspaceId } from './inputs.js';
import {
  EnumOut,
  ITERATION_STATES,
  PROJECT_STATES,
  RallyText,
  RefOut,
  dateOrNull,
  fitItems,
  numberOrNull,
  rallyEnum,
  rallyText,
  refOut,
  renderText,
} from './output.js';
import { READ_ONLY, defineTool } from './spec.js';

const ProjectLine = z.object({ objectId: z.string(), name: RallyText, state: EnumOut(PROJECT_STATES), parent: RefOut });
const ProjectsOut = z.object({ total: z.number(), projects: z.array(ProjectLine), nextCursor: z.string().nullable() });

export const listRallyProjects = defineTool({
  name: 'list_rally_projects',
  projects: 'list',
  title: 'List Rally projects',
  description: 'List the Rally projects you can see in your workspace, sorted by name.',
  readOnly: true,
  annotations: { ...READ_ONLY, title: 'List Rally projects' },
  input: z
    .object({
      nameContains: z
        .string()
        .trim()
        .min(1)
        .max(100)
        .refine(isQuotableValue, 'must not contain double quotes, backslashes or control characters')
        .optional()
        .describe('Only projects whose name contains this text.'),
      includeClosed: z.boolean().default(false).describe('Include closed projects.'),
      pageSize: PageSize,
      cursor: CursorInput.optional(),
      workspace: WorkspaceId.optional(),
    })
    .strict(),
  output: ProjectsOut,
  async run(args, ctx) {
    const { cursor, ...rest } = args;
    const query = { tool: 'projects', ...rest };
    const pos = await ctx.cursors.open(cursor, query);
    const page = await listProjects(ctx.rally, {
      start: pos.start,
      pageSize: args.pageSize,
      includeClosed: args.includeClosed,
      ...(args.nameContains !== undefined ? { nameContains: args.nameContains } : {}),
      ...(args.workspace !== undefined ? { workspace: args.workspace } : {}),
    });
    const all = page.results.map((p) => ({
      objectId: oidOf(p) ?? '0',
      name: rallyText(p.Name),
      state: rallyEnum(PROJECT_STATES, p.State),
      parent: refOut(p.Parent),
    }));
    const { kept } = fitItems(all);
    const structured = {
      total: page.totalResultCount,
      projects: kept,
      nextCursor: await nextCursorFor(ctx.cursors, query, pos.start, kept.length, page.totalResultCount),
    };
    return { structured, text: renderText(`${kept.length} of ${page.totalResultCount} project(s).`, structured) };
  },
});

const IterationLine = z.object({
  objectId: z.string(),
  name: RallyText,
  state: EnumOut(ITERATION_STATES),
  startDate: z.string().nullable(),
  endDate: z.string().nullable(),
  plannedVelocity: z.number().nullable(),
  project: RefOut,
});
const IterationsOut = z.object({
  total: z.number(),
  iterations: z.array(IterationLine),
  nextCursor: z.string().nullable(),
});

export const listRallyIterations = defineTool({
  name: 'list_rally_iterations',
  projects: 'list',
  title: 'List Rally iterations',
  description:
    'List iterations (sprints) of a Rally project, newest first. Use timeframe "current" for the sprint in progress.',
  readOnly: true,
  annotations: { ...READ_ONLY, title: 'List Rally iterations' },
  input: z
    .object({
      project: ProjectRef.optional(),
      timeframe: z
        .enum(['current', 'past', 'future', 'all'])
        .default('all')
        .describe('Which iterations: current, past, future or all.'),
      state: z.enum(['Planning', 'Committed', 'Accepted']).optional().describe('Iteration state.'),
      pageSize: PageSize,
      cursor: CursorInput.optional(),
      workspace: WorkspaceId.optional(),
    })
    .strict(),
  output: IterationsOut,
  async run(args, ctx) {
    const { cursor, ...rest } = args;
    const query = { tool: 'iterations', ...rest };
    const pos = await ctx.cursors.open(cursor, query);
    const { page } = await listIterations(ctx.rally, {
      start: pos.start,
      pageSize: args.pageSize,
      timeframe: args.timeframe,
      ...(args.project !== undefined ? { project: args.project } : {}),
      ...(args.state !== undefined ? { state: args.state } : {}),
      ...(args.workspace !== undefined ? { workspace: args.workspace } : {}),
    });
    const all = page.results.map((i) => ({
      objectId: oidOf(i) ?? '0',
      name: rallyText(i.Name),
      state: rallyEnum(ITERATION_STATES, i.State),
      startDate: dateOrNull(i.StartDate),
      endDate: dateOrNull(i.EndDate),
      plannedVelocity: numberOrNull(i.PlannedVelocity),
      project: refOut(i.Project),
    }));
    const { kept } = fitItems(all);
    const structured = {
      total: page.totalResultCount,
      iterations: kept,
      nextCursor: await nextCursorFor(ctx.cursors, query, pos.start, kept.length, page.totalResultCount),
    };
    return { structured, text: renderText(`${kept.length} of ${page.totalResultCount} iteration(s).`, structured) };
  },
});

export const PROJECT_TOOLS = [listRallyProjects, listRallyIterations];
