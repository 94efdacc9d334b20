/**
 * Issue 17's toolsets over real HTTP /mcp, as signed-in users, on the sandbox:
 * planning (blocked, iteration status and capacity, releases, milestones),
 * portfolio (levels discovered, rollups, risk), collaboration (tags, attachments,
 * history, custom fields) and quality (test cases, results). Listing is shaped by
 * X-Rally-Toolsets; the gates of shared/mcp/execute.ts apply unchanged.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { BIG_ATTACHMENT, HOSTILE_ATTACHMENT } from '../../../rally-sandbox/seed-team.js';
import { startTestStack, type TestStack } from '../../helpers/stack.js';
import { signIn } from '../../helpers/oauth-flow.js';

type Result = Awaited<ReturnType<Client['callTool']>>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON that the test reads freely and checks with expect()
type Json = Record<string, any>;
const data = (r: Result): Json => {
  expect(r.isError).toBeFalsy();
  return r.structuredContent as Json;
};
const text = (r: Result) => (r.content as Array<{ text?: string }>)[0]?.text ?? '';

const CORE = [
  'add_rally_comment',
  'create_connection_token', // offered to every signed-in caller of an OAuth grant (issue 18)
  'create_rally_defect',
  'create_rally_story',
  'create_rally_task',
  'disconnect_rally',
  'get_rally_issue',
  'get_rally_user',
  'list_rally_iterations',
  'list_rally_projects',
  'search_rally_items',
  'update_rally_item',
];
const NEW = {
  planning: ['get_rally_iteration_status', 'list_rally_blocked', 'list_rally_milestones', 'list_rally_releases'],
  portfolio: ['get_rally_portfolio_item', 'list_rally_portfolio_items'],
  quality: ['add_rally_test_result', 'list_rally_test_cases'],
  collaboration: [
    'get_rally_custom_fields',
    'get_rally_item_history',
    'list_rally_attachments',
    'list_rally_tags',
    'read_rally_attachment',
    'set_rally_custom_field',
    'update_rally_tags',
  ],
};

describe('team toolsets over HTTP /mcp', () => {
  let stack: TestStack;
  let alice: Client;
  let bob: Client;
  const tokens: Record<string, string> = {};

  const clientFor = async (user: string, toolsets = 'all') => {
    tokens[user] ??= (await signIn(stack.url, user)).accessToken;
    const client = new Client({ name: `http-${user}`, version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
        requestInit: {
          headers: { authorization: `Bearer ${tokens[user]}`, ...(toolsets ? { 'x-rally-toolsets': toolsets } : {}) },
        },
      }),
    );
    return client;
  };
  const sandbox = () => stack.sandbox!;
  const writes = () =>
    sandbox()
      .requests()
      .filter((r) => r.method === 'POST' && r.url.startsWith('/slm/')).length;

  beforeAll(async () => {
    stack = await startTestStack();
    alice = await clientFor('alice');
    bob = await clientFor('bob');
  });
  afterAll(async () => {
    await alice?.close();
    await bob?.close();
    await stack?.stop();
  });

  it('lists only the core tools by default; X-Rally-Toolsets adds toolsets, each tool annotated with an output schema', async () => {
    const plain = await clientFor('alice', '');
    expect((await plain.listTools()).tools.map((t) => t.name).sort()).toEqual(CORE);
    const planning = await clientFor('alice', 'planning');
    expect((await planning.listTools()).tools.map((t) => t.name).sort()).toEqual([...CORE, ...NEW.planning].sort());
    const { tools } = await alice.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...CORE, ...Object.values(NEW).flat()].sort());
    for (const t of tools) {
      expect(t.title).toBeTruthy();
      expect(t.annotations?.title).toBe(t.title);
      // Every Rally tool reaches an outside world; create_connection_token only answers with our own page.
      expect(t.annotations?.openWorldHint).toBe(t.name !== 'create_connection_token');
      expect(t.outputSchema).toBeTruthy();
      expect(t.inputSchema.additionalProperties).toBe(false);
      expect(typeof t.annotations?.readOnlyHint).toBe('boolean');
      for (const [field, schema] of Object.entries(t.inputSchema.properties ?? {}))
        expect([t.name, field, typeof (schema as { description?: unknown }).description]).toEqual([
          t.name,
          field,
          'string',
        ]);
    }
    const annotations = (name: string) => tools.find((t) => t.name === name)?.annotations;
    expect(annotations('update_rally_tags')).toMatchObject({ readOnlyHint: false, idempotentHint: true });
    expect(annotations('add_rally_test_result')).toMatchObject({ readOnlyHint: false, destructiveHint: false });
    expect(annotations('list_rally_blocked')).toMatchObject({ readOnlyHint: true });
    // Listing is not a gate: a tool outside the listed toolsets still runs through the same gates.
    expect(data(await plain.callTool({ name: 'list_rally_milestones', arguments: {} })).total).toBe(2);
    await plain.close();
    await planning.close();
  });

  it('planning: blocked work with reasons, the current iteration with capacity left, releases and milestones', async () => {
    const blocked = data(await alice.callTool({ name: 'list_rally_blocked', arguments: { types: ['story'] } }));
    expect(blocked.items.length).toBeGreaterThan(0);
    for (const i of blocked.items) expect(i.blockedReason).toMatchObject({ source: 'rally', untrusted: true });

    const status = data(await alice.callTool({ name: 'get_rally_iteration_status', arguments: {} }));
    expect(status.iteration.name.text).toBe('Sprint 42');
    expect(status.iteration.daysLeft).toBeGreaterThan(0);
    expect(status.points.total).toBeGreaterThan(0);
    expect(status.capacity.map((c: Json) => c.user.userName).sort()).toEqual(['alice@example.com', 'bob@example.com']);
    const aliceCap = status.capacity.find((c: Json) => c.user.userName === 'alice@example.com');
    expect(aliceCap.capacityHours).toBe(30);
    expect(aliceCap.remainingCapacityHours).toBe(30 - aliceCap.toDoHours);
    expect(status.totals.capacityHours).toBe(54);

    const releases = data(await alice.callTool({ name: 'list_rally_releases', arguments: { timeframe: 'current' } }));
    expect(releases.releases.map((r: Json) => r.name.text)).toEqual(['Release 2025.4']);
    const milestones = data(await alice.callTool({ name: 'list_rally_milestones', arguments: { pageSize: 1 } }));
    expect(milestones.milestones.map((m: Json) => m.name.text)).toEqual(['Checkout beta']);
    const next = data(
      await alice.callTool({
        name: 'list_rally_milestones',
        arguments: { pageSize: 1, cursor: milestones.nextCursor },
      }),
    );
    expect(next.milestones.map((m: Json) => m.name.text)).toEqual(['Spring GA']);
    expect(next.nextCursor).toBeNull();
  });

  it('portfolio: features of the current release with rollups and risk, levels discovered, children navigated', async () => {
    const features = data(
      await alice.callTool({ name: 'list_rally_portfolio_items', arguments: { release: 'current' } }),
    );
    expect(features.level).toBe('portfolioitem/feature');
    expect(features.items.map((f: Json) => f.name.text).sort()).toEqual(['Checkout revamp', 'Search quality']);
    for (const f of features.items) {
      expect(f.leafStoryCount).toBeGreaterThan(0);
      expect(f.percentDoneByStoryCount).toBeCloseTo((100 * f.acceptedLeafStoryCount) / f.leafStoryCount, 0);
      expect(typeof f.risk.atRisk).toBe('boolean');
    }
    const initiatives = data(
      await alice.callTool({ name: 'list_rally_portfolio_items', arguments: { level: 'Initiative' } }),
    );
    expect(initiatives.level).toBe('portfolioitem/initiative');
    const grow = initiatives.items.find((i: Json) => i.name.text === 'Grow checkout conversion');
    const one = data(await alice.callTool({ name: 'get_rally_portfolio_item', arguments: { id: grow.formattedId } }));
    expect(one.children.portfolioItems.map((c: Json) => c.name.text).sort()).toEqual([
      'Checkout revamp',
      'Search quality',
    ]);
    const checkout = one.children.portfolioItems.find((c: Json) => c.name.text === 'Checkout revamp');
    const feature = data(
      await alice.callTool({ name: 'get_rally_portfolio_item', arguments: { id: checkout.formattedId } }),
    );
    expect(feature.children.stories.map((s: Json) => s.formattedId)).toEqual(['US4', 'US5', 'US6', 'US7', 'US8']);
    // bob cannot see the feature in Alice Private.
    const bobs = data(await bob.callTool({ name: 'list_rally_portfolio_items', arguments: { pageSize: 50 } }));
    expect(bobs.items.map((f: Json) => f.name.text)).not.toContain('Alice private: compensation planning');
  });

  it('tags: list on an item, preview writes nothing, confirm adds and removes through the collection endpoints', async () => {
    const before = data(await alice.callTool({ name: 'list_rally_tags', arguments: { id: 'US2' } }));
    expect(before.tags).toEqual([]);
    const w = writes();
    const preview = data(await alice.callTool({ name: 'update_rally_tags', arguments: { id: 'US2', add: ['ux'] } }));
    expect(preview.applied).toBe(false);
    expect(preview.after.map((t: Json) => t.name.text)).toEqual(['ux']);
    expect(writes()).toBe(w);
    const done = data(
      await alice.callTool({
        name: 'update_rally_tags',
        arguments: { id: 'US2', add: ['ux', 'customer'], confirm: true },
      }),
    );
    expect(done.after.map((t: Json) => t.name.text).sort()).toEqual(['customer', 'ux']);
    expect(
      sandbox()
        .requests()
        .some((r) => /\/hierarchicalrequirement\/\d+\/Tags\/add$/.test(r.url)),
    ).toBe(true);
    const removed = data(
      await alice.callTool({ name: 'update_rally_tags', arguments: { id: 'US2', remove: ['ux'], confirm: true } }),
    );
    expect(removed.after.map((t: Json) => t.name.text)).toEqual(['customer']);
    const unknown = await alice.callTool({ name: 'update_rally_tags', arguments: { id: 'US2', add: ['no-such-tag'] } });
    expect(unknown.isError).toBe(true);
    const all = data(await alice.callTool({ name: 'list_rally_tags', arguments: {} }));
    expect(all.tags.map((t: Json) => t.name.text)).toEqual(['customer', 'security', 'tech-debt', 'ux']);
  });

  it('quality: failing test cases of a story; a result previewed, then recorded, changes the last verdict', async () => {
    const failing = data(
      await alice.callTool({ name: 'list_rally_test_cases', arguments: { workItem: 'US1', verdict: 'Fail' } }),
    );
    expect(failing.testCases.map((t: Json) => t.name.text)).toEqual(['Owner column sorts by name']);
    const set = data(await alice.callTool({ name: 'list_rally_test_cases', arguments: { testSet: 'TS1' } }));
    expect(set.total).toBe(3);
    const tc = failing.testCases[0].formattedId as string;
    const w = writes();
    const preview = data(
      await alice.callTool({
        name: 'add_rally_test_result',
        arguments: { testCase: tc, verdict: 'Pass', build: '2025.4.7' },
      }),
    );
    expect(preview).toMatchObject({ applied: false, previousVerdict: 'Fail', resultObjectId: null });
    expect(writes()).toBe(w);
    const done = data(
      await alice.callTool({
        name: 'add_rally_test_result',
        arguments: {
          testCase: tc,
          verdict: 'Pass',
          build: '2025.4.7',
          notes: 'Fixed <b>sort</b>',
          testSet: 'TS1',
          confirm: true,
        },
      }),
    );
    expect(done.applied).toBe(true);
    expect(done.resultObjectId).toMatch(/^\d+$/);
    const stored = sandbox()
      .items('testcaseresult')
      .find((r) => String(r.ObjectID) === done.resultObjectId);
    expect(stored).toMatchObject({ Verdict: 'Pass', Build: '2025.4.7', Notes: '<p>Fixed &lt;b&gt;sort&lt;/b&gt;</p>' });
    const after = data(
      await alice.callTool({ name: 'list_rally_test_cases', arguments: { workItem: 'US1', verdict: 'Fail' } }),
    );
    expect(after.total).toBe(0);
  });

  it('J9: attachments listed with sizes; text read within the cap, hostile text wrapped and cleaned, large or binary not read', async () => {
    const list = data(await alice.callTool({ name: 'list_rally_attachments', arguments: { id: 'US1' } }));
    const csv = list.attachments.find((a: Json) => a.name.text === 'export-sample.csv');
    const png = list.attachments.find((a: Json) => a.name.text === 'export-mock.png');
    expect(csv).toMatchObject({ contentType: 'text/csv', readable: true });
    expect(png).toMatchObject({ contentType: 'image/png', readable: false });
    const read = data(
      await alice.callTool({ name: 'read_rally_attachment', arguments: { attachmentId: csv.objectId } }),
    );
    expect(read.content).toEqual({ source: 'rally', untrusted: true, text: expect.stringContaining('Alice Anders') });
    expect(
      data(await alice.callTool({ name: 'read_rally_attachment', arguments: { attachmentId: png.objectId } })).notRead,
    ).toBe('not_text');
    const big = data(
      await alice.callTool({ name: 'list_rally_attachments', arguments: { id: 'US2' } }),
    ).attachments.find((a: Json) => a.name.text === BIG_ATTACHMENT);
    const contentReads = () =>
      sandbox()
        .requests()
        .filter((r) => r.url.includes('/attachmentcontent/')).length;
    const n = contentReads();
    expect(
      data(await alice.callTool({ name: 'read_rally_attachment', arguments: { attachmentId: big.objectId } })).notRead,
    ).toBe('too_large');
    expect(contentReads()).toBe(n);
    const hostile = data(
      await bob.callTool({ name: 'list_rally_attachments', arguments: { id: 'DE11' } }),
    ).attachments.find((a: Json) => a.name.text === HOSTILE_ATTACHMENT);
    const r = await bob.callTool({ name: 'read_rally_attachment', arguments: { attachmentId: hostile.objectId } });
    expect(data(r).content.untrusted).toBe(true);
    expect(data(r).content.text).not.toMatch(/[\u200b\u202e]/);
    expect(text(r).split('\n')[0]).not.toMatch(/ignore/i);
    // bob cannot read Alice Private's attachment.
    const priv = sandbox()
      .items('attachment')
      .find((a) => a.Name === 'salary-bands.txt');
    const denied = await bob.callTool({
      name: 'read_rally_attachment',
      arguments: { attachmentId: String(priv?.ObjectID) },
    });
    expect(denied.isError).toBe(true);
  });

  it('history: revisions newest first with Rally-authored text wrapped, and the discussion', async () => {
    const revs = data(await alice.callTool({ name: 'get_rally_item_history', arguments: { id: 'US1', pageSize: 2 } }));
    expect(revs.total).toBeGreaterThanOrEqual(3);
    // The sanitiser neutralises Markdown brackets in Rally text (fullwidth ［］).
    expect(revs.revisions[0].description).toEqual({
      source: 'rally',
      untrusted: true,
      text: expect.stringMatching(/^OWNER added .Alice Anders.$/),
    });
    expect(revs.nextCursor).toBeTruthy();
    const posts = data(
      await alice.callTool({ name: 'get_rally_item_history', arguments: { id: 'US1', source: 'discussion' } }),
    );
    expect(posts.posts).toHaveLength(2);
    const hostile = data(await bob.callTool({ name: 'get_rally_item_history', arguments: { id: 'DE11' } }));
    expect(hostile.revisions[0].description.untrusted).toBe(true);
  });

  it('custom fields: discovered with allowed values, read on an item, written after a preview, bad values refused', async () => {
    const defs = data(await alice.callTool({ name: 'get_rally_custom_fields', arguments: { kind: 'defect' } }));
    const risk = defs.fields.find((f: Json) => f.field === 'c_RiskLevel');
    expect(risk.allowedValues.map((v: Json) => v.text)).toEqual(['', 'Low', 'Medium', 'High']);
    const onItem = data(await alice.callTool({ name: 'get_rally_custom_fields', arguments: { id: 'US6' } }));
    expect(onItem.fields.find((f: Json) => f.field === 'c_RiskLevel').value.text).toBe('None');
    const w = writes();
    const preview = data(
      await alice.callTool({
        name: 'set_rally_custom_field',
        arguments: { id: 'US6', field: 'c_RiskLevel', value: 'High' },
      }),
    );
    expect(preview).toMatchObject({ applied: false, to: { text: 'High' } });
    expect(writes()).toBe(w);
    const done = data(
      await alice.callTool({
        name: 'set_rally_custom_field',
        arguments: { id: 'US6', field: 'c_RiskLevel', value: 'High', confirm: true },
      }),
    );
    expect(done).toMatchObject({ applied: true, to: { text: 'High' } });
    const bad = await alice.callTool({
      name: 'set_rally_custom_field',
      arguments: { id: 'US6', field: 'c_RiskLevel', value: 'Sky-high', confirm: true },
    });
    expect(bad.isError).toBe(true);
    expect(writes()).toBe(w + 1);
    const feature = data(await alice.callTool({ name: 'get_rally_custom_fields', arguments: { id: 'F1' } }));
    expect(feature.type).toBe('portfolioitem/feature');
    expect(feature.fields.find((f: Json) => f.field === 'c_RiskLevel').value.text).toBe('High');
  });
});
