/**
 * Every tool under a connection token's project allowlist (issue 18, O16–O20), against the real
 * Rally sandbox through the one execution path: alice's token may use only "Alice Private". Each
 * tool is called on something in Acme Online (refused with the stable reason; a write reaches
 * Rally never) and on something in Alice Private (works). The table must name every tool of
 * ALL_TOOLS, so a new tool without a case here fails this file.
 */
import { ALL_TOOLS } from '../../../shared/mcp/tools/register.js';
import { connect, textOf, useToolHarness, wsapiRequests, type ToolResult } from './harness.js';
import { startTestGitHubSandbox } from '../../helpers/github-sandbox.js';
import type { GitHubSandboxHandle } from '../../../github-sandbox/index.js';
import { createGitHubClient } from '../../../shared/github/client.js';
import { systemClock } from '../../../shared/kernel/clock.js';
import { createLogger } from '../../../shared/logging/logger.js';

const h = useToolHarness();
/** The GitHub tools (issue 19) run against the GitHub sandbox as alice. */
let github: GitHubSandboxHandle;
beforeAll(async () => {
  github = await startTestGitHubSandbox();
});
afterAll(async () => {
  await github.stop();
});
const githubClient = () => {
  const token = github.issueTokens('alice').access_token;
  return createGitHubClient({
    apiBaseUrl: github.apiUrl,
    fetch: globalThis.fetch,
    timeoutMs: 10_000,
    clock: systemClock,
    log: createLogger({ level: 'error', write: () => {} }),
    tokens: { accessToken: async () => token, refreshAfterUnauthorized: () => Promise.reject(new Error('no refresh')) },
  });
};
const item = (type: string, field: string, value: unknown) => {
  const found = h.sandbox.items(type).find((i) => i[field] === value);
  if (!found) throw new Error(`no ${type} with ${field} ${String(value)}`);
  return found;
};
const oid = (type: string, name: string) => String(item(type, 'Name', name).ObjectID);
const fid = (type: string, name: string) => String(item(type, 'Name', name).FormattedID);
const writes = () => wsapiRequests(h.sandbox).filter((r) => r.method !== 'GET');

let privateProject = '';
beforeEach(async () => {
  await h.mcp.close();
  privateProject = oid('project', 'Alice Private');
  h.mcp = await connect(h.sandbox, {
    projects: [privateProject],
    github: githubClient(),
    githubWebBaseUrl: github.webUrl,
  });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON the test reads freely and checks with expect()
type Json = Record<string, any>;
const call = async (name: string, args: Record<string, unknown> = {}): Promise<ToolResult> =>
  h.mcp.client.callTool({ name, arguments: args });
const ok = (r: ToolResult): Json => {
  expect(textOf(r)).not.toMatch(/only some Rally projects/);
  expect(r.isError).toBeFalsy();
  return r.structuredContent as Json;
};

/** Called on Acme Online's data: refused as a project-allowlist refusal, and nothing written to Rally. */
async function refusedOutside(name: string, args: Record<string, unknown>): Promise<void> {
  h.sandbox.clearRequests();
  const r = await call(name, args);
  expect(r.isError).toBe(true);
  expect(textOf(r)).toMatch(/^This connection token may use only some Rally projects/);
  expect(textOf(r)).toContain(`Its projects (ObjectIDs): ${privateProject}.`);
  expect(writes()).toEqual([]);
}

const PRIVATE_ITEMS = () =>
  new Set(
    ['hierarchicalrequirement', 'defect', 'task']
      .flatMap((t) => h.sandbox.items(t))
      .filter((i) => String(i.Project) === privateProject)
      .map((i) => String(i.FormattedID)),
  );

/** One case per tool: what is refused outside the list, and what works inside it. */
const CASES: Record<string, () => Promise<void>> = {
  find_github_pull_requests: async () => {
    // GitHub only: the FormattedID is search text there; no Rally object is read, whatever its project.
    h.sandbox.clearRequests();
    expect(ok(await call('find_github_pull_requests', { formattedId: 'US1' })).pullRequests.length).toBeGreaterThan(0);
    expect(wsapiRequests(h.sandbox)).toEqual([]);
  },
  link_rally_item_to_github: async () => {
    const url = `${github.webUrl}/acme/storefront/pull/1`;
    await refusedOutside('link_rally_item_to_github', { id: 'US1', url });
    expect(ok(await call('link_rally_item_to_github', { id: 'US34', url })).item.formattedId).toBe('US34');
  },
  draft_github_branch_from_rally_item: async () => {
    await refusedOutside('draft_github_branch_from_rally_item', { id: 'US1' });
    expect(ok(await call('draft_github_branch_from_rally_item', { id: 'US34' })).branchName).toMatch(/^feature\/us34-/);
  },
  disconnect_github: async () => {
    ok(await call('disconnect_github'));
    expect(h.mcp.disconnects.count).toBe(1);
  },
  get_rally_issue: async () => {
    await refusedOutside('get_rally_issue', { id: 'US1' });
    await refusedOutside('get_rally_issue', {
      id: String(item('hierarchicalrequirement', 'FormattedID', 'US1').ObjectID),
    });
    expect(ok(await call('get_rally_issue', { id: 'US34' })).item.formattedId).toBe('US34');
  },
  search_rally_items: async () => {
    const found = ok(await call('search_rally_items', { types: ['story'], pageSize: 50 }));
    expect(found.items.length).toBeGreaterThan(0);
    for (const i of found.items) expect(PRIVATE_ITEMS()).toContain(i.formattedId);
    expect(found.totalForKind).toBe(found.items.length);
    await refusedOutside('search_rally_items', { project: 'Acme Online' });
    await refusedOutside('search_rally_items', { project: oid('project', 'Acme Online') });
  },
  list_rally_projects: async () => {
    const listed = ok(await call('list_rally_projects', {}));
    expect(listed.projects.map((p: Json) => p.objectId)).toEqual([privateProject]);
    expect(listed.total).toBe(1);
  },
  list_rally_iterations: async () => {
    await refusedOutside('list_rally_iterations', {}); // the profile's default project, Acme Online
    expect(ok(await call('list_rally_iterations', { project: 'Alice Private' })).total).toBe(0);
  },
  get_rally_user: async () => {
    expect(ok(await call('get_rally_user')).user.userName).toBe('alice@example.com');
  },
  disconnect_rally: async () => {
    ok(await call('disconnect_rally'));
    expect(h.mcp.disconnects.count).toBe(1);
  },
  create_rally_story: async () => {
    const before = h.sandbox.items('hierarchicalrequirement').length;
    await refusedOutside('create_rally_story', { name: 'Default project' });
    await refusedOutside('create_rally_story', { name: 'Elsewhere', project: 'Acme Online' });
    await refusedOutside('create_rally_story', { name: 'Parent elsewhere', project: 'Alice Private', parent: 'US1' });
    expect(h.sandbox.items('hierarchicalrequirement').length).toBe(before);
    ok(await call('create_rally_story', { name: 'Inside', project: 'Alice Private' }));
    expect(String(item('hierarchicalrequirement', 'Name', 'Inside').Project)).toBe(privateProject);
  },
  create_rally_defect: async () => {
    await refusedOutside('create_rally_defect', { name: 'Elsewhere', project: oid('project', 'Acme Mobile') });
    await refusedOutside('create_rally_defect', { name: 'Linked out', project: 'Alice Private', requirement: 'US2' });
    ok(await call('create_rally_defect', { name: 'Inside', project: 'Alice Private', requirement: 'US34' }));
  },
  create_rally_task: async () => {
    await refusedOutside('create_rally_task', { workProduct: 'US1', name: 'Task elsewhere' });
    expect(h.sandbox.items('task').some((t) => t.Name === 'Task elsewhere')).toBe(false);
    ok(await call('create_rally_task', { workProduct: 'US34', name: 'Task inside' }));
  },
  update_rally_item: async () => {
    const name = item('hierarchicalrequirement', 'FormattedID', 'US1').Name;
    await refusedOutside('update_rally_item', { id: 'US1', name: 'Hijacked', confirm: true });
    await refusedOutside('update_rally_item', { id: 'US34', iteration: oid('iteration', 'Sprint 42'), confirm: true }); // Acme Online's
    expect(item('hierarchicalrequirement', 'FormattedID', 'US1').Name).toBe(name);
    ok(await call('update_rally_item', { id: 'US34', name: 'Renamed inside', confirm: true }));
    expect(item('hierarchicalrequirement', 'FormattedID', 'US34').Name).toBe('Renamed inside');
  },
  add_rally_comment: async () => {
    const posts = h.sandbox.items('conversationpost').length;
    await refusedOutside('add_rally_comment', { id: 'DE1', text: 'Injected' });
    expect(h.sandbox.items('conversationpost').length).toBe(posts);
    ok(await call('add_rally_comment', { id: 'DE13', text: 'Inside' }));
  },
  list_rally_blocked: async () => {
    await refusedOutside('list_rally_blocked', {}); // the profile's default project, Acme Online
    await refusedOutside('list_rally_blocked', { project: 'Acme Online' });
    const blocked = ok(await call('list_rally_blocked', { project: 'Alice Private' }));
    for (const i of blocked.items) expect(i.project?.objectId).toBe(privateProject);
  },
  get_rally_iteration_status: async () => {
    await refusedOutside('get_rally_iteration_status', {});
    await refusedOutside('get_rally_iteration_status', { iteration: oid('iteration', 'Sprint 42') });
  },
  list_rally_releases: async () => {
    await refusedOutside('list_rally_releases', {});
    expect(ok(await call('list_rally_releases', { project: 'Alice Private' })).total).toBe(0);
  },
  list_rally_milestones: async () => {
    // Both seeded milestones target Acme Online: none is listed.
    expect(ok(await call('list_rally_milestones', { timeframe: 'all' })).total).toBe(0);
  },
  list_rally_portfolio_items: async () => {
    const features = ok(await call('list_rally_portfolio_items', {}));
    expect(features.items.map((f: Json) => f.project?.objectId)).toEqual([privateProject]);
    await refusedOutside('list_rally_portfolio_items', { parent: fid('portfolioitem/initiative', 'Mobile first') });
  },
  get_rally_portfolio_item: async () => {
    await refusedOutside('get_rally_portfolio_item', { id: fid('portfolioitem/feature', 'Checkout revamp') });
    await refusedOutside('get_rally_portfolio_item', { id: oid('portfolioitem/feature', 'Checkout revamp') });
    const mine = ok(
      await call('get_rally_portfolio_item', {
        id: fid('portfolioitem/feature', 'Alice private: compensation planning'),
      }),
    );
    expect(mine.children.stories.map((s: Json) => s.formattedId)).toEqual(['US34']);
  },
  list_rally_test_cases: async () => {
    await refusedOutside('list_rally_test_cases', { workItem: 'US1' });
    await refusedOutside('list_rally_test_cases', { testSet: fid('testset', 'Sprint 42 regression') });
    expect(ok(await call('list_rally_test_cases', { workItem: 'US34' })).total).toBe(1);
  },
  add_rally_test_result: async () => {
    const results = h.sandbox.items('testcaseresult').length;
    const args = { verdict: 'Pass', build: '1.0', confirm: true };
    await refusedOutside('add_rally_test_result', {
      testCase: fid('testcase', 'Export includes the owner column'),
      ...args,
    });
    expect(h.sandbox.items('testcaseresult').length).toBe(results);
    ok(await call('add_rally_test_result', { testCase: fid('testcase', 'Alice private: salary bands'), ...args }));
    expect(h.sandbox.items('testcaseresult').length).toBe(results + 1);
  },
  list_rally_tags: async () => {
    await refusedOutside('list_rally_tags', { id: 'US1' });
    ok(await call('list_rally_tags', { id: 'US34' }));
    expect(ok(await call('list_rally_tags', {})).total).toBeGreaterThan(0); // workspace tags have no project
  },
  update_rally_tags: async () => {
    const tags = JSON.stringify(item('hierarchicalrequirement', 'FormattedID', 'US1').Tags);
    await refusedOutside('update_rally_tags', { id: 'US1', add: ['security'], confirm: true });
    expect(JSON.stringify(item('hierarchicalrequirement', 'FormattedID', 'US1').Tags)).toBe(tags);
    expect(ok(await call('update_rally_tags', { id: 'US34', add: ['security'], confirm: true })).applied).toBe(true);
  },
  list_rally_attachments: async () => {
    await refusedOutside('list_rally_attachments', { id: 'US1' });
    expect(ok(await call('list_rally_attachments', { id: 'US34' })).total).toBe(1);
  },
  read_rally_attachment: async () => {
    await refusedOutside('read_rally_attachment', { attachmentId: oid('attachment', 'export-sample.csv') });
    const read = ok(await call('read_rally_attachment', { attachmentId: oid('attachment', 'salary-bands.txt') }));
    expect(read.content.text).toContain('Band A');
  },
  get_rally_item_history: async () => {
    await refusedOutside('get_rally_item_history', { id: 'US1' });
    await refusedOutside('get_rally_item_history', { id: 'US1', source: 'discussion' });
    expect(ok(await call('get_rally_item_history', { id: 'US34' })).total).toBeGreaterThan(0);
  },
  get_rally_custom_fields: async () => {
    await refusedOutside('get_rally_custom_fields', { id: 'US1' });
    ok(await call('get_rally_custom_fields', { id: 'US34' }));
    ok(await call('get_rally_custom_fields', { kind: 'defect' }));
  },
  set_rally_custom_field: async () => {
    const risk = item('hierarchicalrequirement', 'FormattedID', 'US1').c_RiskLevel;
    await refusedOutside('set_rally_custom_field', { id: 'US1', field: 'c_RiskLevel', value: 'High', confirm: true });
    expect(item('hierarchicalrequirement', 'FormattedID', 'US1').c_RiskLevel).toBe(risk);
    ok(await call('set_rally_custom_field', { id: 'US34', field: 'c_RiskLevel', value: 'High', confirm: true }));
  },
};

describe('a project allowlist on every tool (O16–O20)', () => {
  it('O20: the table names every tool of ALL_TOOLS (a new tool needs its case here)', () => {
    expect(Object.keys(CASES).sort()).toEqual(ALL_TOOLS.map((t) => t.name).sort());
  });

  it.each(Object.keys(CASES))('O16–O19: %s stays inside the allowed projects', async (name) => {
    await CASES[name]!();
  });
});
