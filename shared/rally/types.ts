/**
 * Allowlists for everything that becomes a WSAPI path segment or parameter,
 * plus the zod shapes of Rally's envelopes (lenient: Rally adds fields freely).
 * @module
 */
import { z } from 'zod';

/** WSAPI types this server may touch (rally-api.md §3.9). Nothing else reaches a path. */
export const RALLY_TYPES = [
  'hierarchicalrequirement',
  'defect',
  'task',
  'project',
  'iteration',
  'release',
  'user',
  'userprofile',
  'workspace',
  'conversationpost',
  'tag',
  'artifact',
  'milestone',
  'useriterationcapacity',
  'testcase',
  'testset',
  'testcaseresult',
  'attachment',
  'attachmentcontent',
  'revisionhistory',
  'revision',
  'typedefinition',
  'attributedefinition',
  'state',
] as const;
/** A portfolio level's type path, discovered from TypeDefinition (rally-api.md §3.11), e.g. `portfolioitem/feature`. */
export type PortfolioType = `portfolioitem/${string}`;
export type RallyType = (typeof RALLY_TYPES)[number] | PortfolioType;
/** Lower-case element names only: the level becomes a second path segment, so nothing else may reach it. */
export const PORTFOLIO_TYPE = /^portfolioitem\/[a-z][a-z0-9]{0,39}$/;

/** Work-item types that carry a FormattedID and a web detail page. */
export const WORK_ITEM_TYPES = ['hierarchicalrequirement', 'defect', 'task'] as const;
export type WorkItemType = (typeof WORK_ITEM_TYPES)[number];

/** Collections readable as `/{type}/{oid}/{Collection}`. */
export const RALLY_COLLECTIONS = [
  'Tasks',
  'Defects',
  'Children',
  'Discussion',
  'Tags',
  'Milestones',
  'Attachments',
  'Revisions',
  'Attributes',
  'AllowedValues',
  'TestCases',
  'Results',
  'UserStories',
] as const;
export type RallyCollection = (typeof RALLY_COLLECTIONS)[number];

export const isRallyType = (t: string): t is RallyType =>
  (RALLY_TYPES as readonly string[]).includes(t) || PORTFOLIO_TYPE.test(t);
/** Collections edited with `/{Collection}/add|remove` (rally-api.md §3.2). */
export const EDITABLE_COLLECTIONS = ['Tags', 'Milestones'] as const;
export type EditableCollection = (typeof EDITABLE_COLLECTIONS)[number];
export const isWorkItemType = (t: string): t is WorkItemType => (WORK_ITEM_TYPES as readonly string[]).includes(t);

/** Rally ObjectIDs are positive integers; we carry them as digit strings (1-19 digits). */
export const OBJECT_ID = /^[1-9]\d{0,18}$/;
/** A fetch list entry or an order attribute. */
export const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]{0,79}$/;
/** `order` values: attribute names with optional direction, comma separated. */
export const ORDER =
  /^[A-Za-z][A-Za-z0-9_.]{0,79}( (?:ASC|DESC|asc|desc|Asc|Desc))?(,[A-Za-z][A-Za-z0-9_.]{0,79}( (?:ASC|DESC|asc|desc|Asc|Desc))?){0,4}$/;

/** A Rally object as returned in any envelope: metadata plus whatever fields were fetched. */
export const RallyObjectSchema = z
  .object({
    _ref: z.string().optional(),
    _type: z.string().optional(),
    _refObjectName: z.string().optional(),
    ObjectID: z.union([z.number(), z.string()]).optional(),
    Errors: z.array(z.unknown()).optional(),
    Warnings: z.array(z.unknown()).optional(),
  })
  .passthrough();
export type RallyObject = z.infer<typeof RallyObjectSchema>;

const Messages = z.array(z.unknown()).default([]);

export const QueryResultSchema = z.object({
  QueryResult: z
    .object({
      Errors: Messages,
      Warnings: Messages,
      TotalResultCount: z.number().int().nonnegative().default(0),
      StartIndex: z.number().int().nonnegative().default(0),
      PageSize: z.number().int().nonnegative().default(0),
      Results: z.array(RallyObjectSchema).default([]),
    })
    .passthrough(),
});

export const OperationResultSchema = z
  .object({
    // CreateResult and OperationResult share this shape.
    Errors: Messages,
    Warnings: Messages,
    Object: RallyObjectSchema.optional(),
  })
  .passthrough();

/** One page of query results. */
export interface QueryPage {
  readonly totalResultCount: number;
  readonly startIndex: number;
  readonly pageSize: number;
  readonly results: readonly RallyObject[];
  readonly warnings: readonly string[];
}

/** Rally's maximum page size (KB 47778); the client never asks for more. */
export const MAX_PAGE_SIZE = 2000;
