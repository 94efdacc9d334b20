/**
 * Argument schemas shared by the tools: strict formats, Rally's enum
 * spellings, and length caps. Anything that might end up inside a Rally
 * query value excludes `"`, `\` and control characters (see rally/query.ts).
 * @module
 */
import { z } from 'zod';

// eslint-disable-next-line no-control-regex -- control characters are refused on purpose
const QUOTABLE = /^[^"\\\u0000-\u001f\u007f-\u009f\u2028\u2029]+$/;
// eslint-disable-next-line no-control-regex -- control characters are refused on purpose
const NO_CONTROL = /^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$/;

export const ObjectId = z.string().regex(/^[1-9]\d{0,18}$/, 'must be a Rally ObjectID (digits)');
export const ItemId = z
  .string()
  .regex(/^(?:[A-Z]{1,4}\d{1,9}|[1-9]\d{0,18})$/, 'must be a FormattedID like US12, DE7, TA3, or an ObjectID')
  .describe('Work item: FormattedID such as "US12", "DE7", "TA3", or its numeric ObjectID.');

/** A name to look up in Rally (project, iteration, release, user, tag). */
export const LookupName = (what: string) =>
  z
    .string()
    .trim()
    .min(1)
    .max(120)
    .regex(QUOTABLE, 'must not contain double quotes, backslashes or control characters')
    .refine(
      (v) => !/^[a-z][a-z0-9+.-]*:\/\/|^(?:javascript|data|vbscript|file):|^\//i.test(v),
      'must be a name or ObjectID, not a URL or ref',
    )
    .describe(what);

export const ProjectRef = LookupName(
  'Project: exact name (e.g. "Acme Online") or ObjectID. Defaults to your Rally default project.',
);
export const IterationRef = LookupName('Iteration: exact name (e.g. "Sprint 42"), "current", or ObjectID.');
export const ReleaseRef = LookupName('Release: exact name (e.g. "Release 2025.4") or ObjectID.');
export const OwnerRef = LookupName(
  'Owner: "me", a Rally user name (e-mail style), an exact display name, or a user ObjectID.',
);
export const WorkspaceId = ObjectId.describe('Workspace ObjectID. Defaults to your Rally default workspace.');

export const ItemName = z
  .string()
  .trim()
  .min(1)
  .max(256)
  .regex(NO_CONTROL, 'must not contain control characters')
  .describe('Title of the work item (1-256 characters).');
export const Description = z
  .string()
  .max(16_000)
  .regex(NO_CONTROL, 'must not contain control characters')
  .describe('Plain-text description (up to 16,000 characters). Blank lines separate paragraphs.');
export const Estimate = (what: string) => z.number().min(0).max(999).describe(what);

export const ScheduleState = z
  .enum(['Defined', 'In-Progress', 'Completed', 'Accepted'])
  .describe('Schedule state: Defined, In-Progress, Completed or Accepted.');
export const DefectState = z
  .enum(['Submitted', 'Open', 'Fixed', 'Closed'])
  .describe('Defect state: Submitted, Open, Fixed or Closed.');
export const TaskState = z
  .enum(['Defined', 'In-Progress', 'Completed'])
  .describe('Task state: Defined, In-Progress or Completed.');
export const Severity = z
  .enum(['None', 'Crash/Data Loss', 'Major Problem', 'Minor Problem', 'Cosmetic'])
  .describe('Defect severity.');
export const Priority = z
  .enum(['None', 'Resolve Immediately', 'High Attention', 'Normal', 'Low'])
  .describe('Defect priority.');
export const PageSize = z.number().int().min(1).max(50).default(20).describe('Results per page, 1-50 (default 20).');
