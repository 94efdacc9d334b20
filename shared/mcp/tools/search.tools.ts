/**
 * search_rally_items: structured filters compiled to Rally's grammar, an
 * optional raw query for power users, one type per page, opaque cursors.
 * @module
 */
import { z } from 'zod';
import { searchItems } from '../../rally/search.api.js';
import { isQuotableValue } from '../../rally/query.js';
import { CursorInput, nextPosition } from './cursor.js';
import {
  DefectState,
  IterationRef,
  LookupName,
  OwnerRef,
  PageSize,
  ProjectRef,
  ScheduleState,
  WorkspaceId,
} from './inputs.js';
import { ItemKind, ItemSummary, KIND_TO_TYPE, fitItems, itemSummary, renderText } from './output.js';
import { READ_ONLY, defineTool } from './spec.js';

export const SEARCH_ORDERS = {
  newest: 'CreationDate DESC',
  oldest: 'CreationDate',
  recentlyUpdated: 'LastUpdateDate DESC',
  formattedId: 'FormattedID',
  rank: 'DragAndDropRank',
  name: 'Name',
} as const;

const SearchInput = z
  .object({
    types: z
      .array(ItemKind)
      .min(1)
      .max(3)
      .optional()
      .describe(
        'Kinds to search: "story", "defect", "task". Default: story and defect. Results come one kind at a time across pages.',
      ),
    text: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .refine(isQuotableValue, 'must not contain double quotes, backslashes or control characters')
      .optional()
      .describe('Words the item name contains.'),
    scheduleState: ScheduleState.optional(),
    state: DefectState.optional().describe(
      'Defect state (Submitted, Open, Fixed, Closed). Limits the search to defects.',
    ),
    owner: OwnerRef.optional(),
    iteration: IterationRef.optional(),
    project: ProjectRef.optional().describe(
      'Project name or ObjectID (includes child projects). Default: whole workspace.',
    ),
    tags: z.array(LookupName('Tag name.')).min(1).max(5).optional().describe('Tag names; items must have all of them.'),
    query: z
      .string()
      .trim()
      .min(1)
      .max(1000)
      .optional()
      .describe(
        'Power users: a raw Rally query such as ((Blocked = true) AND (PlanEstimate > 3)), combined with the other filters by AND.',
      ),
    order: z
      .enum(Object.keys(SEARCH_ORDERS) as [keyof typeof SEARCH_ORDERS, ...(keyof typeof SEARCH_ORDERS)[]])
      .default('newest')
      .describe('Sort order: newest, oldest, recentlyUpdated, formattedId, rank, name.'),
    pageSize: PageSize,
    cursor: CursorInput.optional(),
    workspace: WorkspaceId.optional(),
  })
  .strict();

const SearchOut = z.object({
  kind: ItemKind.describe('Kind of the items on this page.'),
  totalForKind: z.number().describe('How many items of this kind match in total.'),
  items: z.array(ItemSummary),
  nextCursor: z.string().nullable().describe('Pass as cursor to get the next page; null when done.'),
  truncated: z
    .string()
    .nullable()
    .describe('Set when items were left out to keep the result small; they appear on the next page.'),
});

export const searchRallyItems = defineTool({
  name: 'search_rally_items',
  projects: 'list',
  title: 'Search Rally work items',
  description:
    'Search Rally stories, defects and tasks by name text, state, owner ("me"), iteration ("current"), project or tags, with paging.',
  readOnly: true,
  annotations: { ...READ_ONLY, title: 'Search Rally work items' },
  input: SearchInput,
  output: SearchOut,
  async run(args, ctx) {
    const kinds = args.state !== undefined ? (['defect'] as const) : (args.types ?? (['story', 'defect'] as const));
    const { cursor, pageSize, ...filters } = args;
    const query = { tool: 'search', ...filters, kinds, pageSize };
    const pos = await ctx.cursors.open(cursor, query);
    const kind = kinds[pos.typeIndex];
    if (kind === undefined) throw new Error('cursor type index out of range'); // the MAC over the query makes this unreachable
    const page = await searchItems(ctx.rally, {
      type: KIND_TO_TYPE[kind],
      filters: {
        ...(args.text !== undefined ? { text: args.text } : {}),
        ...(args.scheduleState !== undefined ? { scheduleState: args.scheduleState } : {}),
        ...(args.state !== undefined ? { state: args.state } : {}),
        ...(args.owner !== undefined ? { owner: args.owner } : {}),
        ...(args.iteration !== undefined ? { iteration: args.iteration } : {}),
        ...(args.project !== undefined ? { project: args.project } : {}),
        ...(args.tags !== undefined ? { tags: args.tags } : {}),
        ...(args.query !== undefined ? { rawQuery: args.query } : {}),
        ...(args.workspace !== undefined ? { workspace: args.workspace } : {}),
      },
      order: SEARCH_ORDERS[args.order],
      start: pos.start,
      pageSize,
    });
    const all = page.results.map((r) => itemSummary(r, KIND_TO_TYPE[kind], ctx.rallyWebBaseUrl));
    const { kept, omitted } = fitItems(all);
    const next = nextPosition(pos, kept.length, page.totalResultCount, kinds.length);
    const structured = {
      kind,
      totalForKind: page.totalResultCount,
      items: kept,
      nextCursor: next ? await ctx.cursors.seal(next, query) : null,
      truncated: omitted > 0 ? `${omitted} more items on this page were left out to keep the result small.` : null,
    };
    const summary = `${kept.length} of ${page.totalResultCount} ${kind} item(s) from #${pos.start}${next ? '; more available with nextCursor' : ''}.`;
    return { structured, text: renderText(summary, structured) };
  },
});

export const SEARCH_TOOLS = [searchRallyItems];
