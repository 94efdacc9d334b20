/**
 * Every tool over real HTTP through /mcp, as a signed-in user, with the MCP
 * SDK's own Streamable HTTP client: the same results the tools produce
 * in-process (see the other files here), now through authentication, the
 * transport and the deployed routing.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { HOSTILE_STORIES, ALICE_PRIVATE_STORIES } from '../../../rally-sandbox/seed.js';
import { startTestStack, type TestStack } from '../../helpers/stack.js';
import { signIn } from '../../helpers/oauth-flow.js';
import { connect, startSandbox } from './harness.js';

type Result = Awaited<ReturnType<Client['callTool']>>;
const text = (r: Result) => (r.content as Array<{ text?: string }>)[0]?.text ?? '';

describe('tools over HTTP /mcp', () => {
  let stack: TestStack;
  let alice: Client;
  let bob: Client;

  const clientFor = async (user: string) => {
    const s = await signIn(stack.url, user);
    const client = new Client({ name: `http-${user}`, version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
        requestInit: { headers: { authorization: `Bearer ${s.accessToken}` } },
      }),
    );
    return client;
  };
  const wsapiCount = () => stack.sandbox!.requests().filter((r) => r.url.startsWith('/slm/')).length;

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
  afterEach(() => stack.sandbox!.clearFaults());

  it('lists the eleven Rally tools and create_connection_token with titles, annotations and output schemas', async () => {
    const { tools } = await alice.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'add_rally_comment',
      'create_connection_token', // issue 18: signed-in callers only
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
    ]);
    for (const t of tools) {
      expect(t.title).toBeTruthy();
      expect(t.outputSchema).toBeTruthy();
    }
    expect(tools.find((t) => t.name === 'get_rally_issue')!.annotations).toMatchObject({ readOnlyHint: true });
    expect(tools.find((t) => t.name === 'update_rally_item')!.annotations).toMatchObject({ destructiveHint: true });
  });

  it('happy paths: read, search with a cursor, list, create, comment, update (two-step), task, defect, who am I', async () => {
    const issue = await alice.callTool({ name: 'get_rally_issue', arguments: { id: 'US1' } });
    expect(issue.structuredContent).toMatchObject({
      item: { formattedId: 'US1', kind: 'story', url: expect.stringContaining('/#/detail/userstory/') },
    });

    const page1 = await alice.callTool({
      name: 'search_rally_items',
      arguments: { types: ['story'], pageSize: 5, order: 'formattedId' },
    });
    const first = page1.structuredContent as { items: Array<{ formattedId: string }>; nextCursor: string | null };
    expect(first.items).toHaveLength(5);
    const page2 = await alice.callTool({
      name: 'search_rally_items',
      arguments: { types: ['story'], pageSize: 5, order: 'formattedId', cursor: first.nextCursor },
    });
    const second = page2.structuredContent as { items: Array<{ formattedId: string }> };
    expect(second.items.map((i) => i.formattedId)).not.toContain(first.items[0]!.formattedId);
    const foreign = await alice
      .callTool({ name: 'search_rally_items', arguments: { types: ['defect'], cursor: first.nextCursor } })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect((foreign as { code?: number }).code).toBe(-32602); // a cursor from another search is refused (L19)

    const projects = await alice.callTool({ name: 'list_rally_projects', arguments: {} });
    expect((projects.structuredContent as { projects: unknown[] }).projects.length).toBeGreaterThan(0);
    const iterations = await alice.callTool({ name: 'list_rally_iterations', arguments: { timeframe: 'current' } });
    expect((iterations.structuredContent as { iterations: unknown[] }).iterations.length).toBe(1);

    const created = await alice.callTool({
      name: 'create_rally_story',
      arguments: { name: 'HTTP story', planEstimate: 3, iteration: 'current' },
    });
    const story = (created.structuredContent as { created: { formattedId: string; objectId: string } }).created;
    expect(story.formattedId).toMatch(/^US\d+$/);
    expect(stack.sandbox!.items('hierarchicalrequirement').filter((i) => i.Name === 'HTTP story')).toHaveLength(1);

    const comment = await alice.callTool({
      name: 'add_rally_comment',
      arguments: { id: story.formattedId, text: 'Looks <b>good</b>' },
    });
    expect(comment.isError).toBeFalsy();
    const preview = await alice.callTool({
      name: 'update_rally_item',
      arguments: { id: story.formattedId, scheduleState: 'Completed' },
    });
    expect(preview.structuredContent).toMatchObject({
      applied: false,
      changes: [{ field: 'scheduleState', from: 'Defined', to: 'Completed' }],
    });
    expect(stack.sandbox!.items('hierarchicalrequirement').find((i) => i.Name === 'HTTP story')!.ScheduleState).toBe(
      'Defined',
    );
    const applied = await alice.callTool({
      name: 'update_rally_item',
      arguments: { id: story.formattedId, scheduleState: 'Completed', confirm: true },
    });
    expect(applied.structuredContent).toMatchObject({ applied: true });
    expect(stack.sandbox!.items('hierarchicalrequirement').find((i) => i.Name === 'HTTP story')!.ScheduleState).toBe(
      'Completed',
    );

    const task = await alice.callTool({
      name: 'create_rally_task',
      arguments: { workProduct: story.formattedId, name: 'HTTP task', estimate: 2 },
    });
    expect((task.structuredContent as { created: { formattedId: string } }).created.formattedId).toMatch(/^TA\d+$/);
    const defect = await alice.callTool({
      name: 'create_rally_defect',
      arguments: {
        name: 'HTTP defect',
        severity: 'Major Problem',
        priority: 'High Attention',
        requirement: story.formattedId,
      },
    });
    expect((defect.structuredContent as { created: { formattedId: string } }).created.formattedId).toMatch(/^DE\d+$/);
    const me = await bob.callTool({ name: 'get_rally_user', arguments: {} });
    expect(me.structuredContent).toMatchObject({ user: { userName: 'bob@example.com' } });
  });

  it('L19: alice’s search cursor presented by bob (same query) → -32602 invalid params, no Rally call; it still works for alice', async () => {
    const args = { types: ['story'], pageSize: 5, order: 'formattedId' };
    const page1 = await alice.callTool({ name: 'search_rally_items', arguments: args });
    const cursor = (page1.structuredContent as { nextCursor: string }).nextCursor;
    const before = wsapiCount();
    const stolen = await bob.callTool({ name: 'search_rally_items', arguments: { ...args, cursor } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(stolen).toMatchObject({
      code: -32602,
      message: expect.stringContaining('The cursor is not valid for this search'),
    });
    expect(wsapiCount()).toBe(before);
    const own = await alice.callTool({ name: 'search_rally_items', arguments: { ...args, cursor } });
    expect(own.isError).toBeFalsy();
  });

  it('J8 / D validation: every class of bad argument → -32602, and no Rally request', async () => {
    const before = wsapiCount();
    const bad: Array<[string, Record<string, unknown>]> = [
      ['get_rally_issue', { id: 'US1', extra: true }], // unknown field
      ['get_rally_issue', { id: 12 }], // wrong type
      ['get_rally_issue', { id: 'US1; DROP' }], // bad format
      ['get_rally_issue', {}], // missing
      ['create_rally_story', { name: 'x'.repeat(10_000) }], // oversize
      ['create_rally_defect', { name: 'x', severity: 'Catastrophic' }], // not one of Rally's values
      ['update_rally_item', { id: 'US1', scheduleState: 'Done' }],
      ['search_rally_items', { owner: 'x") OR (Owner.UserName = "bob' }], // query injection
      ['search_rally_items', { project: 'https://evil.example/project/1' }], // a URL instead of a name
      ['create_rally_task', { workProduct: '../../user', name: 't' }], // path tricks
    ];
    for (const [name, args] of bad) {
      const err = await alice.callTool({ name, arguments: args }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect({ name, args, code: (err as { code?: number } | undefined)?.code }).toEqual({ name, args, code: -32602 });
    }
    expect(wsapiCount()).toBe(before);
  });

  it('Rally errors are mapped: unavailable after bounded retries, with the request id; never a stack trace', async () => {
    stack.sandbox!.injectFault({
      pathPrefix: '/slm/webservice/v2.0/hierarchicalrequirement',
      fault: { kind: 'status', status: 503 },
    });
    const r = await alice.callTool({ name: 'get_rally_issue', arguments: { id: 'US2' } });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/Rally is unavailable right now, try again shortly\..*Request ID/);
    expect(text(r)).not.toMatch(/\bat .*\.(ts|js):\d+/);
    stack.sandbox!.clearFaults();
    const missing = await alice.callTool({ name: 'get_rally_issue', arguments: { id: 'US99999' } });
    expect(missing.isError).toBe(true);
  });

  it('I5: bob cannot read or write alice’s private project; no fallback to broader credentials', async () => {
    const id = ALICE_PRIVATE_STORIES[0]!;
    const read = await bob.callTool({ name: 'get_rally_issue', arguments: { id } });
    expect(read.isError).toBe(true);
    expect(JSON.stringify(read)).not.toMatch(/Alice Private/);
    const write = await bob.callTool({ name: 'add_rally_comment', arguments: { id, text: 'hi' } });
    expect(write.isError).toBe(true);
    const own = await alice.callTool({ name: 'get_rally_issue', arguments: { id } });
    expect(own.isError).toBeFalsy();
  });

  it('J1/J3/J4/J5: every hostile seed description reaches the client exactly as the tool sanitised it', async () => {
    const sandbox = await startSandbox();
    const local = await connect(sandbox);
    try {
      for (const id of Object.values(HOSTILE_STORIES)) {
        const overHttp = await alice.callTool({ name: 'get_rally_issue', arguments: { id } });
        const inProcess = await local.client.callTool({ name: 'get_rally_issue', arguments: { id } });
        const httpItem = (overHttp.structuredContent as { item: { description: unknown; name: unknown } }).item;
        const localItem = (inProcess.structuredContent as { item: { description: unknown; name: unknown } }).item;
        expect({ id, description: httpItem.description, name: httpItem.name }).toEqual({
          id,
          description: localItem.description,
          name: localItem.name,
        });
        const all = JSON.stringify(overHttp);
        expect(all).not.toMatch(/<script|onerror=|javascript:|display:\s*none|!\[[^\]]*\]\(|<!--/i);
        expect(all).not.toMatch(/[\u200B-\u200F\u202A-\u202E\u2066-\u2069\uFEFF]/);
      }
    } finally {
      await local.close();
      await sandbox.stop();
    }
  });

  it('a burst of 24 tool calls from one user queues at 4 concurrent Rally requests (Rally allows 12); none fails', async () => {
    stack.sandbox!.injectFault({
      pathPrefix: '/slm/webservice/v2.0/hierarchicalrequirement',
      fault: { kind: 'latency', ms: 150 },
    });
    const before = stack.sandbox!.stats().maxConcurrent.bob ?? 0;
    expect(before).toBeLessThanOrEqual(4);
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        bob.callTool({ name: 'get_rally_issue', arguments: { id: `US${(i % 10) + 1}` } }),
      ),
    );
    expect(results.filter((r) => r.isError)).toEqual([]);
    const peak = stack.sandbox!.stats().maxConcurrent.bob!;
    expect(peak).toBeGreaterThan(1); // the calls really overlapped…
    expect(peak).toBeLessThanOrEqual(4); // …but never beyond RALLY_MAX_CONCURRENCY_PER_USER
  });

  it('D9: disconnect_rally forgets the tokens; the next call asks to reconnect', async () => {
    const carol = await clientFor('alice');
    const bye = await carol.callTool({ name: 'disconnect_rally', arguments: {} });
    expect(bye.structuredContent).toMatchObject({ disconnected: true });
    expect(text(bye)).toMatch(/Authorized Applications/);
    const next = await carol.callTool({ name: 'get_rally_user', arguments: {} });
    expect(next.isError).toBe(true);
    expect(text(next)).toMatch(/\[Connect Rally\]\(http:\/\/127\.0\.0\.1:\d+\/connect\/[A-Za-z0-9_-]{43}\)/);
    await carol.close();
  });
});
