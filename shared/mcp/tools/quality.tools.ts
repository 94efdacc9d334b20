/**
 * Quality toolset: test cases of a story, defect or test set with their last
 * verdict, and recording a test case result (two-step). WSAPI calls live in
 * rally/quality.api.ts.
 * @module
 */
import { z } from 'zod';
import { createTestResult, listTestCases, resolveTestObject, TEST_CASE_FETCH } from '../../rally/quality.api.js';
import { oidOf, userDefaults } from '../../rally/refs.js';
import { CursorInput, nextCursorFor } from './cursor.js';
import { ItemId, PageSize } from './inputs.js';
import {
  EnumOut,
  RallyText,
  RefOut,
  UserOut,
  dateOrNull,
  fitItems,
  formattedIdOrNull,
  rallyEnum,
  rallyText,
  refOut,
  renderText,
  userOut,
} from './output.js';
import { CREATES, READ_ONLY, defineTool } from './spec.js';
import { ToolInputError } from './tool-errors.js';

const VERDICTS = ['Pass', 'Fail', 'Blocked', 'Error', 'Inconclusive'] as const;
const TEST_TYPES = ['Acceptance', 'Functional', 'Performance', 'Regression', 'Usability', 'User Interface'] as const;
const METHODS = ['Manual', 'Automated'] as const;

const TestCaseLine = z.object({
  objectId: z.string(),
  formattedId: z.string().nullable(),
  name: RallyText,
  type: EnumOut(TEST_TYPES),
  method: EnumOut(METHODS),
  lastVerdict: EnumOut(VERDICTS),
  lastRun: z.string().nullable(),
  owner: UserOut,
  workProduct: RefOut,
  url: z.string(),
});

export const listRallyTestCases = defineTool({
  name: 'list_rally_test_cases',
  projects: 'list',
  toolset: 'quality',
  title: 'List Rally test cases',
  description:
    'List the test cases of a story or defect (workItem) or of a test set (testSet) with their last verdict; verdict "Fail" shows the failing ones.',
  readOnly: true,
  annotations: { ...READ_ONLY, title: 'List Rally test cases' },
  input: z
    .object({
      workItem: ItemId.optional().describe('Story or defect: FormattedID (US12, DE7) or ObjectID.'),
      testSet: ItemId.optional().describe('Test set: FormattedID (TS3) or ObjectID.'),
      verdict: z
        .enum([...VERDICTS, 'None'])
        .optional()
        .describe('Only test cases whose last verdict is this ("None": never run).'),
      pageSize: PageSize,
      cursor: CursorInput.optional(),
    })
    .strict(),
  output: z.object({ total: z.number(), testCases: z.array(TestCaseLine), nextCursor: z.string().nullable() }),
  async run(args, ctx) {
    if ((args.workItem === undefined) === (args.testSet === undefined))
      throw new ToolInputError('Give exactly one of workItem or testSet.');
    const { cursor, ...rest } = args;
    const query = { tool: 'testcases', ...rest };
    const pos = await ctx.cursors.open(cursor, query);
    const page = await listTestCases(ctx.rally, {
      start: pos.start,
      pageSize: args.pageSize,
      ...(args.workItem !== undefined ? { workItem: args.workItem } : {}),
      ...(args.testSet !== undefined ? { testSet: args.testSet } : {}),
      ...(args.verdict !== undefined ? { verdict: args.verdict } : {}),
    });
    const all = page.results.map((t) => {
      const oid = oidOf(t) ?? '0';
      return {
        objectId: oid,
        formattedId: formattedIdOrNull(t.FormattedID),
        name: rallyText(t.Name),
        type: rallyEnum(TEST_TYPES, t.Type),
        method: rallyEnum(METHODS, t.Method),
        lastVerdict: rallyEnum(VERDICTS, t.LastVerdict),
        lastRun: dateOrNull(t.LastRun),
        owner: userOut(t.Owner),
        workProduct: refOut(t.WorkProduct),
        url: `${ctx.rallyWebBaseUrl.replace(/\/+$/, '')}/#/detail/testcase/${oid}`,
      };
    });
    const { kept } = fitItems(all);
    const structured = {
      total: page.totalResultCount,
      testCases: kept,
      nextCursor: await nextCursorFor(ctx.cursors, query, pos.start, kept.length, page.totalResultCount),
    };
    return { structured, text: renderText(`${kept.length} of ${page.totalResultCount} test case(s).`, structured) };
  },
});

const BUILD = /^[A-Za-z0-9._:+\-/ ]{1,100}$/;

export const addRallyTestResult = defineTool({
  name: 'add_rally_test_result',
  projects: 'create',
  toolset: 'quality',
  title: 'Record a Rally test result',
  description:
    'Record a test case result (verdict, build, optional notes) as you. Two steps: preview without confirm, then confirm: true to create it.',
  readOnly: false,
  annotations: { ...CREATES, title: 'Record a Rally test result' },
  input: z
    .object({
      testCase: ItemId.describe('Test case: FormattedID (TC12) or ObjectID.'),
      verdict: z.enum(VERDICTS).describe('Pass, Fail, Blocked, Error or Inconclusive.'),
      build: z
        .string()
        .trim()
        .regex(BUILD, 'letters, digits and . _ : + - / only (1-100)')
        .describe('Build or version tested.'),
      date: z.iso.datetime().optional().describe('When it ran (ISO 8601, UTC). Default: now.'),
      notes: z
        .string()
        .max(2000)
        // eslint-disable-next-line no-control-regex -- control characters are refused on purpose
        .regex(/^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$/)
        .optional()
        .describe('Plain-text notes (up to 2,000 characters).'),
      testSet: ItemId.optional().describe('Test set the run belongs to: FormattedID (TS3) or ObjectID.'),
      confirm: z
        .boolean()
        .default(false)
        .describe('false (default): only preview. true: create the result. Ask the user before setting true.'),
    })
    .strict(),
  output: z.object({
    applied: z.boolean(),
    testCase: z.object({ objectId: z.string(), formattedId: z.string().nullable(), name: RallyText }),
    verdict: z.enum(VERDICTS),
    build: z.string(),
    date: z.string(),
    previousVerdict: EnumOut(VERDICTS),
    resultObjectId: z.string().nullable(),
  }),
  async run(args, ctx) {
    const tc = await resolveTestObject(ctx.rally, 'testcase', args.testCase, TEST_CASE_FETCH);
    const set =
      args.testSet !== undefined
        ? await resolveTestObject(ctx.rally, 'testset', args.testSet, ['ObjectID'])
        : undefined;
    const date = args.date ?? ctx.clock.now().toISOString();
    const base = {
      testCase: {
        objectId: tc.oid,
        formattedId: formattedIdOrNull(tc.object.FormattedID),
        name: rallyText(tc.object.Name),
      },
      verdict: args.verdict,
      build: args.build,
      date,
      previousVerdict: rallyEnum(VERDICTS, tc.object.LastVerdict),
    };
    const id = base.testCase.formattedId ?? tc.oid;
    if (!args.confirm) {
      const structured = { applied: false, ...base, resultObjectId: null };
      return {
        structured,
        text: renderText(
          `Preview only: a ${args.verdict} result for ${id} was not created. Call again with confirm: true.`,
          structured,
        ),
      };
    }
    const me = await userDefaults(ctx.rally);
    const created = await createTestResult(ctx.rally, tc.oid, {
      verdict: args.verdict,
      build: args.build,
      date,
      testerOid: me.userOid,
      ...(args.notes !== undefined ? { notes: args.notes } : {}),
      ...(set ? { testSetOid: set.oid } : {}),
    });
    const structured = { applied: true, ...base, resultObjectId: oidOf(created) ?? null };
    return { structured, text: renderText(`Recorded ${args.verdict} for ${id}.`, structured) };
  },
});

export const QUALITY_TOOLS = [listRallyTestCases, addRallyTestResult];
