import fc from 'fast-check';
import type { RallySandboxHandle } from '../../../rally-sandbox/index.js';
import { connect, startSandbox, wsapiRequests, type Connected } from './harness.js';

let sandbox: RallySandboxHandle;
let mcp: Connected;

beforeAll(async () => {
  sandbox = await startSandbox();
  mcp = await connect(sandbox);
});
afterAll(async () => {
  await mcp.close();
  await sandbox.stop();
});

/** Every WSAPI path our client may produce: allowlisted type, optional ObjectID, optional action/collection, form-encoded query. */
const SAFE_PATH = new RegExp(
  '^/slm/webservice/v2\\.0/(hierarchicalrequirement|defect|task|project|iteration|release|user|userprofile|workspace|conversationpost|tag)' +
    '(/[1-9][0-9]{0,18})?(/(create|Tasks|Defects|Children|Discussion|Tags))?(\\?[A-Za-z0-9%._*+=&-]*)?$',
);

const hostile = fc.constantFrom(
  '../user',
  '..%2f..%2fuser',
  'US1/../../subscription',
  'x") OR (Owner.UserName = "bob',
  '(Name = x) OR (1 = 1',
  'US1?fetch=true',
  'https://evil.example/x',
  '/project/1',
  'javascript:alert(1)',
  '\u0000',
  '\u202e\u200b',
  'DE7#frag',
  ' US12 ',
  'US12',
  '738120455921',
  '0',
  '-1',
  '1e3',
  'me',
  'current',
  'Acme Online',
  'a'.repeat(5000),
  '%00',
  '\\',
  '"',
  '🙂'.repeat(50),
);
const str = fc.oneof(hostile, fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }));
const value: fc.Arbitrary<unknown> = fc.oneof(
  str,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(str, { maxLength: 4 }),
);

const FIELDS: Record<string, readonly string[]> = {
  get_rally_issue: ['id'],
  create_rally_story: [
    'name',
    'description',
    'project',
    'iteration',
    'release',
    'owner',
    'planEstimate',
    'scheduleState',
    'parent',
  ],
  create_rally_defect: ['name', 'severity', 'priority', 'state', 'requirement', 'environment', 'foundIn', 'owner'],
  create_rally_task: ['workProduct', 'name', 'estimate', 'toDo', 'state', 'owner'],
  update_rally_item: [
    'id',
    'name',
    'scheduleState',
    'state',
    'owner',
    'planEstimate',
    'iteration',
    'blocked',
    'confirm',
  ],
  add_rally_comment: ['id', 'text'],
  search_rally_items: [
    'types',
    'text',
    'scheduleState',
    'state',
    'owner',
    'iteration',
    'project',
    'tags',
    'query',
    'order',
    'pageSize',
    'cursor',
  ],
  list_rally_projects: ['nameContains', 'includeClosed', 'pageSize', 'cursor'],
  list_rally_iterations: ['project', 'timeframe', 'state', 'pageSize', 'cursor'],
  get_rally_user: [],
  disconnect_rally: [],
};

const call = fc
  .constantFrom(...Object.keys(FIELDS))
  .chain((name) =>
    fc.tuple(
      fc.constant(name),
      fc.record(Object.fromEntries((FIELDS[name] ?? []).map((f) => [f, value])), { requiredKeys: [] }),
      fc.option(fc.dictionary(fc.string({ maxLength: 10 }), value, { maxKeys: 2 }), { nil: undefined }),
    ),
  );

describe('property: adversarial arguments to every tool', () => {
  it('never crashes, never calls Rally for invalid input, and never sends an unencoded path segment', async () => {
    await fc.assert(
      fc.asyncProperty(call, async ([name, args, extra]) => {
        sandbox.clearRequests();
        const outcome = await mcp.client.callTool({ name, arguments: { ...args, ...(extra ?? {}) } }).then(
          (r) => ({ ok: true as const, r }),
          (e: unknown) => ({ ok: false as const, e }),
        );
        const reqs = wsapiRequests(sandbox);
        if (!outcome.ok) {
          expect(outcome.e).toMatchObject({ code: -32602 });
          expect(reqs).toHaveLength(0);
        } else {
          const text = (outcome.r.content as Array<{ text?: string }>)[0]?.text ?? '';
          expect(text).not.toMatch(/\n\s+at |Error:|ZSESSIONID/);
        }
        for (const r of reqs) expect(r.url).toMatch(SAFE_PATH);
      }),
      { numRuns: 200, seed: 20260105 },
    );
  });
});
