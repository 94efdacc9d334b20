/**
 * Test cases, test sets and test case results (rally-api.md §3.12): list the
 * test cases of a work item or test set, and record a result.
 * @module
 */
import type { RallyClient } from './client.js';
import { RallyLookupError } from './errors.js';
import { plainToRallyHtml } from './items.api.js';
import { FORMATTED_ID, resolveWorkItem } from './lookup.api.js';
import { compileQuery, type QueryFilter } from './query.js';
import { oidOf, userDefaults } from './refs.js';
import { OBJECT_ID, type QueryPage, type RallyObject } from './types.js';

export const TEST_CASE_FETCH = [
  'ObjectID',
  'FormattedID',
  'Name',
  'Type',
  'Method',
  'Priority',
  'LastVerdict',
  'LastRun',
  'Owner',
  'DisplayName',
  'UserName',
  'WorkProduct',
  'Project',
];

/** A test case or test set by FormattedID or ObjectID. */
export async function resolveTestObject(
  rally: RallyClient,
  type: 'testcase' | 'testset',
  id: string,
  fetch: readonly string[],
): Promise<{ oid: string; object: RallyObject }> {
  const workspace = (await userDefaults(rally)).workspace?.oid;
  if (OBJECT_ID.test(id)) return { oid: id, object: await rally.read(type, id, fetch) };
  if (!FORMATTED_ID.test(id)) throw new RallyLookupError('not_found', type === 'testcase' ? 'test case' : 'test set');
  const page = await rally.query(type, {
    query: compileQuery({ attr: 'FormattedID', op: '=', value: id }),
    fetch,
    pageSize: 1,
    lookup: true,
    ...(workspace ? { workspace } : {}),
  });
  const obj = page.results[0];
  const oid = obj ? oidOf(obj) : undefined;
  if (!obj || !oid) throw new RallyLookupError('not_found', type === 'testcase' ? 'test case' : 'test set');
  return { oid, object: obj };
}

/** Test cases of a work item (`workItem`) or of a test set (`testSet`), optionally by last verdict. */
export async function listTestCases(
  rally: RallyClient,
  opts: { workItem?: string; testSet?: string; verdict?: string; start: number; pageSize: number },
): Promise<QueryPage> {
  const verdict: QueryFilter | undefined =
    opts.verdict === undefined
      ? undefined
      : opts.verdict === 'None'
        ? { attr: 'LastVerdict', op: '=', value: null }
        : { attr: 'LastVerdict', op: '=', value: opts.verdict };
  const page = { order: 'FormattedID,ObjectID', start: opts.start, pageSize: opts.pageSize, fetch: TEST_CASE_FETCH };
  if (opts.testSet !== undefined) {
    const set = await resolveTestObject(rally, 'testset', opts.testSet, ['ObjectID']);
    return rally.collection('testset', set.oid, 'TestCases', {
      ...page,
      ...(verdict ? { query: compileQuery(verdict) } : {}),
    });
  }
  if (opts.workItem === undefined) throw new RallyLookupError('not_found', 'work item');
  const item = await resolveWorkItem(rally, opts.workItem, ['ObjectID'], {}, ['hierarchicalrequirement', 'defect']);
  return rally.collection(item.type, item.oid, 'TestCases', {
    ...page,
    ...(verdict ? { query: compileQuery(verdict) } : {}),
  });
}

export interface TestResultInput {
  readonly verdict: string;
  readonly build: string;
  readonly date: string;
  readonly notes?: string;
  readonly durationSeconds?: number;
  readonly testSetOid?: string;
  readonly testerOid: string;
}

export async function createTestResult(
  rally: RallyClient,
  testCaseOid: string,
  input: TestResultInput,
): Promise<RallyObject> {
  return rally.create(
    'testcaseresult',
    {
      TestCase: `/testcase/${testCaseOid}`,
      Verdict: input.verdict,
      Build: input.build,
      Date: input.date,
      Tester: `/user/${input.testerOid}`,
      ...(input.notes !== undefined ? { Notes: plainToRallyHtml(input.notes) } : {}),
      ...(input.durationSeconds !== undefined ? { Duration: input.durationSeconds } : {}),
      ...(input.testSetOid !== undefined ? { TestSet: `/testset/${input.testSetOid}` } : {}),
    },
    ['ObjectID', 'Verdict', 'Build', 'Date'],
  );
}
