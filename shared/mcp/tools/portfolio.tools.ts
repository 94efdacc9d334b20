/**
 * Portfolio toolset: features and the levels above them, as the workspace
 * defines them, with percent-done rollups and a schedule-risk flag we compute.
 * WSAPI calls live in rally/portfolio.api.ts.
 * @module
 */
import { z } from 'zod';
import { MAX_CHILDREN_LISTED, getPortfolioItem, listPortfolioItems } from '../../rally/portfolio.api.js';
import { oidOf, refName } from '../../rally/refs.js';
import type { PortfolioType, RallyObject } from '../../rally/types.js';
import { CursorInput, nextCursorFor } from './cursor.js';
import { ItemId, LookupName, PageSize, ProjectRef, WorkspaceId } from './inputs.js';
import {
  ItemSummary,
  RallyText,
  RefOut,
  UserOut,
  dateOrNull,
  fitItems,
  formattedIdOrNull,
  itemSummary,
  numberOrNull,
  rallyText,
  refOut,
  renderText,
  userOut,
} from './output.js';
import { READ_ONLY, defineTool } from './spec.js';

const Risk = z.object({
  atRisk: z.boolean(),
  reasons: z
    .array(z.enum(['behind_schedule', 'past_planned_end', 'no_stories']))
    .describe(
      'behind_schedule: accepted points trail the time elapsed between planned start and end by more than 25 points of percent; past_planned_end: not done after the planned end; no_stories: nothing to measure.',
    ),
  expectedPercentDone: z.number().nullable().describe('Share of the planned time already elapsed (0-100).'),
});

const PortfolioSummary = z.object({
  objectId: z.string(),
  formattedId: z.string().nullable(),
  type: z.string().describe('WSAPI type, e.g. portfolioitem/feature.'),
  name: RallyText,
  state: RallyText.nullable(),
  owner: UserOut,
  parent: RefOut,
  release: RefOut,
  project: RefOut,
  plannedStartDate: z.string().nullable(),
  plannedEndDate: z.string().nullable(),
  percentDoneByStoryCount: z.number().nullable().describe('0-100.'),
  percentDoneByStoryPlanEstimate: z.number().nullable().describe('0-100.'),
  leafStoryCount: z.number().nullable(),
  acceptedLeafStoryCount: z.number().nullable(),
  risk: Risk,
  url: z.string(),
});
type PortfolioSummary = z.infer<typeof PortfolioSummary>;

const pct = (v: unknown): number | null => {
  const n = numberOrNull(v);
  return n === null ? null : Math.round(n * 1000) / 10;
};

/** Our schedule-risk rule; every input is a number or a date we validated. */
export function riskOf(o: RallyObject, nowMs: number): z.infer<typeof Risk> {
  const start = dateOrNull(o.PlannedStartDate);
  const end = dateOrNull(o.PlannedEndDate);
  const done = numberOrNull(o.PercentDoneByStoryPlanEstimate) ?? numberOrNull(o.PercentDoneByStoryCount) ?? 0;
  const leaves = numberOrNull(o.LeafStoryCount);
  const reasons: z.infer<typeof Risk>['reasons'] = [];
  let expected: number | null = null;
  if (start && end) {
    const s = Date.parse(start);
    const e = Date.parse(end);
    expected = e > s ? Math.min(1, Math.max(0, (nowMs - s) / (e - s))) : nowMs >= e ? 1 : 0;
    if (done < expected - 0.25) reasons.push('behind_schedule');
    if (nowMs > e && done < 1) reasons.push('past_planned_end');
  }
  if (leaves === 0 && expected !== null && expected > 0) reasons.push('no_stories');
  return {
    atRisk: reasons.length > 0,
    reasons,
    expectedPercentDone: expected === null ? null : Math.round(expected * 100),
  };
}

const portfolioUrl = (base: string, type: string, oid: string) => `${base.replace(/\/+$/, '')}/#/detail/${type}/${oid}`;

export function portfolioSummary(o: RallyObject, type: PortfolioType, base: string, nowMs: number): PortfolioSummary {
  const oid = oidOf(o) ?? '0';
  const state = refName(o.State);
  return {
    objectId: oid,
    formattedId: formattedIdOrNull(o.FormattedID),
    type,
    name: rallyText(o.Name ?? o._refObjectName),
    state: state ? rallyText(state, 64) : null,
    owner: userOut(o.Owner),
    parent: refOut(o.Parent),
    release: refOut(o.Release),
    project: refOut(o.Project),
    plannedStartDate: dateOrNull(o.PlannedStartDate),
    plannedEndDate: dateOrNull(o.PlannedEndDate),
    percentDoneByStoryCount: pct(o.PercentDoneByStoryCount),
    percentDoneByStoryPlanEstimate: pct(o.PercentDoneByStoryPlanEstimate),
    leafStoryCount: numberOrNull(o.LeafStoryCount),
    acceptedLeafStoryCount: numberOrNull(o.AcceptedLeafStoryCount),
    risk: riskOf(o, nowMs),
    url: portfolioUrl(base, type, oid),
  };
}

export const listRallyPortfolioItems = defineTool({
  name: 'list_rally_portfolio_items',
  projects: 'list',
  toolset: 'portfolio',
  title: 'List Rally portfolio items',
  description:
    'List features (or a higher portfolio level your workspace defines, e.g. "Initiative") by release, parent or state, with percent done and a schedule-risk flag. atRiskOnly keeps the items at risk.',
  readOnly: true,
  annotations: { ...READ_ONLY, title: 'List Rally portfolio items' },
  input: z
    .object({
      level: LookupName(
        'Portfolio level: its name such as "Feature" or "Initiative". Default: the lowest level.',
      ).optional(),
      release: LookupName('Release: exact name, "current", or ObjectID.').optional(),
      parent: ItemId.optional().describe('Parent portfolio item: FormattedID (e.g. "I3") or ObjectID.'),
      state: LookupName('Portfolio state name, e.g. "Developing".').optional(),
      atRiskOnly: z.boolean().default(false).describe('Keep only items whose risk.atRisk is true (per page).'),
      project: ProjectRef.optional().describe(
        'Project name or ObjectID (includes child projects). Default: workspace.',
      ),
      pageSize: PageSize,
      cursor: CursorInput.optional(),
      workspace: WorkspaceId.optional(),
    })
    .strict(),
  output: z.object({
    level: z.string().describe('WSAPI type of the listed level.'),
    total: z.number(),
    items: z.array(PortfolioSummary),
    leftOutNotAtRisk: z.number().describe('Items of this page left out by atRiskOnly.'),
    nextCursor: z.string().nullable(),
  }),
  async run(args, ctx) {
    const { cursor, ...rest } = args;
    const query = { tool: 'portfolio', ...rest };
    const pos = await ctx.cursors.open(cursor, query);
    const { page, level } = await listPortfolioItems(ctx.rally, {
      start: pos.start,
      pageSize: args.pageSize,
      ...(args.level !== undefined ? { level: args.level } : {}),
      ...(args.release !== undefined ? { release: args.release } : {}),
      ...(args.parent !== undefined ? { parent: args.parent } : {}),
      ...(args.state !== undefined ? { state: args.state } : {}),
      ...(args.project !== undefined ? { project: args.project } : {}),
      ...(args.workspace !== undefined ? { workspace: args.workspace } : {}),
    });
    const now = ctx.clock.now().getTime();
    const all = page.results.map((o) => portfolioSummary(o, level.type, ctx.rallyWebBaseUrl, now));
    const { kept } = fitItems(all);
    const shown = args.atRiskOnly ? kept.filter((i) => i.risk.atRisk) : kept;
    const structured = {
      level: level.type,
      total: page.totalResultCount,
      items: shown,
      leftOutNotAtRisk: kept.length - shown.length,
      nextCursor: await nextCursorFor(ctx.cursors, query, pos.start, kept.length, page.totalResultCount),
    };
    const atRisk = shown.filter((i) => i.risk.atRisk).length;
    return {
      structured,
      text: renderText(
        `${shown.length} of ${page.totalResultCount} ${level.type} item(s), ${atRisk} at risk on this page.`,
        structured,
      ),
    };
  },
});

export const getRallyPortfolioItem = defineTool({
  name: 'get_rally_portfolio_item',
  projects: 'item',
  toolset: 'portfolio',
  title: 'Get Rally portfolio item',
  description:
    'Get one feature or higher portfolio item by FormattedID (F12, I3) or ObjectID: state, dates, percent done, risk, parent, and its children (child items, or user stories for the lowest level).',
  readOnly: true,
  annotations: { ...READ_ONLY, title: 'Get Rally portfolio item' },
  input: z.object({ id: ItemId, workspace: WorkspaceId.optional() }).strict(),
  output: z.object({
    item: PortfolioSummary,
    children: z.object({
      total: z.number(),
      portfolioItems: z.array(PortfolioSummary),
      stories: z.array(ItemSummary.extend({ planEstimate: z.number().nullable() })),
    }),
  }),
  async run(args, ctx) {
    const { item, children, childLevel } = await getPortfolioItem(ctx.rally, args.id, args.workspace);
    const now = ctx.clock.now().getTime();
    const summary = portfolioSummary(item.object, item.type, ctx.rallyWebBaseUrl, now);
    const listed = children.results.slice(0, MAX_CHILDREN_LISTED);
    const structured = {
      item: summary,
      children: {
        total: children.totalResultCount,
        portfolioItems: childLevel
          ? listed.map((c) => portfolioSummary(c, childLevel.type, ctx.rallyWebBaseUrl, now))
          : [],
        stories: childLevel
          ? []
          : listed.map((s) => ({
              ...itemSummary(s, 'hierarchicalrequirement', ctx.rallyWebBaseUrl),
              planEstimate: numberOrNull(s.PlanEstimate),
            })),
      },
    };
    const { kept } = fitItems([structured]);
    return {
      structured: kept[0] ?? structured,
      text: renderText(
        `${summary.formattedId ?? summary.objectId} (${item.type}): ${children.totalResultCount} child item(s); ${summary.url}`,
        structured,
      ),
    };
  },
});

export const PORTFOLIO_TOOLS = [listRallyPortfolioItems, getRallyPortfolioItem];
