import { ALICE_PRIVATE_STORIES } from '../../../rally-sandbox/seed.js';
import { connect, textOf, useToolHarness, wsapiRequests } from './harness.js';

const h = useToolHarness();

const call = (name: string, args: Record<string, unknown>) => h.mcp.client.callTool({ name, arguments: args });
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON that the test reads freely and checks with expect()
const structured = (r: Awaited<ReturnType<typeof call>>) => r.structuredContent as Record<string, any>;
const writes = () => wsapiRequests(h.sandbox).filter((r) => r.method !== 'GET');
const byName = (type: string, name: string) => h.sandbox.items(type).filter((i) => i.Name === name);

describe('create_rally_story', () => {
  it('creates a story with resolved refs and escaped description', async () => {
    const r = await call('create_rally_story', {
      name: 'Export "owner" column',
      description: 'Line <b>one</b>\n\nSecond & last',
      project: 'Acme Online',
      iteration: 'current',
      release: 'Release 2025.4',
      owner: 'me',
      planEstimate: 3,
      scheduleState: 'In-Progress',
      parent: 'US1',
    });
    expect(r.isError).toBeFalsy();
    const created = structured(r).created;
    expect(created).toMatchObject({
      kind: 'story',
      name: { text: 'Export "owner" column' },
      scheduleState: 'In-Progress',
    });
    expect(created.formattedId).toMatch(/^US\d+$/);
    const stored = byName('hierarchicalrequirement', 'Export "owner" column');
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      Description: '<p>Line &lt;b&gt;one&lt;/b&gt;</p><p>Second &amp; last</p>',
      PlanEstimate: 3,
    });
    expect(writes()).toHaveLength(1);
    expect(writes()[0]?.url.split('?')[0]).toBe('/slm/webservice/v2.0/hierarchicalrequirement/create');
  });

  it('J8: rejects unknown fields, wrong types and oversize strings with -32602 and makes no Rally request', async () => {
    for (const args of [
      { name: 'x', bogus: 1 },
      { name: 42 },
      { name: 'x'.repeat(257) },
      { name: 'x', scheduleState: 'Done' },
      { name: 'x', project: 'https://evil.example/project/1' },
      { name: 'x', owner: 'a") OR (Name = "b' },
      {},
    ]) {
      h.sandbox.clearRequests();
      await expect(call('create_rally_story', args)).rejects.toMatchObject({ code: -32602 });
      expect(wsapiRequests(h.sandbox)).toHaveLength(0);
    }
  });

  it('reports an unknown project by name as a tool error without writing', async () => {
    const r = await call('create_rally_story', { name: 'x', project: 'No Such Project' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toBe(
      'No project matches that name or ID, or you cannot see it in Rally. (Request ID: req-test-1)',
    );
    expect(writes()).toHaveLength(0);
  });

  it('never retries a create when Rally answers 503 (no duplicates)', async () => {
    h.sandbox.injectFault({
      pathPrefix: '/slm/webservice/v2.0/hierarchicalrequirement/create',
      method: 'POST',
      fault: { kind: 'status', status: 503 },
    });
    const r = await call('create_rally_story', { name: 'Only once' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toBe('Rally is unavailable right now, try again shortly. (Request ID: req-test-1)');
    expect(writes()).toHaveLength(1);
  });
});

describe('create_rally_defect', () => {
  it('creates a defect with Rally spellings and a linked story', async () => {
    const r = await call('create_rally_defect', {
      name: 'Totals wrong',
      severity: 'Crash/Data Loss',
      priority: 'Resolve Immediately',
      state: 'Open',
      environment: 'Production',
      foundIn: '2025.4.9',
      requirement: 'US2',
    });
    expect(r.isError).toBeFalsy();
    expect(structured(r).created).toMatchObject({ kind: 'defect', state: 'Open' });
    expect(byName('defect', 'Totals wrong')[0]).toMatchObject({
      Severity: 'Crash/Data Loss',
      Priority: 'Resolve Immediately',
      FoundInBuild: '2025.4.9',
    });
  });

  it("J8: rejects a severity outside Rally's list", async () => {
    await expect(call('create_rally_defect', { name: 'x', severity: 'Critical' })).rejects.toMatchObject({
      code: -32602,
    });
    expect(wsapiRequests(h.sandbox)).toHaveLength(0);
  });
});

describe('create_rally_task', () => {
  it('creates a task under a defect', async () => {
    const r = await call('create_rally_task', {
      workProduct: 'DE1',
      name: 'Write the regression test',
      estimate: 2,
      toDo: 2,
      state: 'Defined',
      owner: 'bob@example.com',
    });
    expect(r.isError).toBeFalsy();
    expect(structured(r).created).toMatchObject({
      kind: 'task',
      state: 'Defined',
      name: { text: 'Write the regression test' },
    });
    expect(structured(r).created.formattedId).toMatch(/^TA\d+$/);
  });

  it("I5: bob cannot add a task to alice's private story", async () => {
    await h.mcp.close();
    await h.mcp.close(); // replace the default connection
    h.mcp = await connect(h.sandbox, { user: 'bob' });
    const r = await call('create_rally_task', { workProduct: ALICE_PRIVATE_STORIES[0], name: 'sneaky' });
    expect(r.isError).toBe(true);
    expect(writes()).toHaveLength(0);
    expect(byName('task', 'sneaky')).toHaveLength(0);
  });
});

describe('update_rally_item (J7)', () => {
  it('J7: update_rally_item is annotated destructive', async () => {
    const { tools } = await h.mcp.client.listTools();
    expect(tools.find((t) => t.name === 'update_rally_item')?.annotations).toEqual({
      title: 'Update Rally work item',
      readOnlyHint: false,
      destructiveHint: true,
      idempotentHint: false,
      openWorldHint: true,
    });
  });

  it('J7: without confirm update_rally_item returns a preview and writes nothing', async () => {
    const r = await call('update_rally_item', { id: 'US1', scheduleState: 'Completed', planEstimate: 8 });
    expect(r.isError).toBeFalsy();
    expect(structured(r)).toMatchObject({
      applied: false,
      changes: [
        { field: 'scheduleState', from: 'Defined', to: 'Completed' },
        { field: 'planEstimate', from: 1, to: 8 },
      ],
    });
    expect(textOf(r).split('\n')[0]).toBe(
      'Preview only, nothing changed in US1 (story). Call again with confirm: true to apply.',
    );
    expect(writes()).toHaveLength(0);
    expect(h.sandbox.items('hierarchicalrequirement').find((i) => i.FormattedID === 'US1')).toMatchObject({
      ScheduleState: 'Defined',
    });
  });

  it('with confirm: true applies the change', async () => {
    const r = await call('update_rally_item', {
      id: 'US1',
      scheduleState: 'Completed',
      blocked: true,
      blockedReason: 'API down',
      confirm: true,
    });
    expect(structured(r)).toMatchObject({ applied: true, item: { scheduleState: 'Completed' } });
    expect(writes()).toHaveLength(1);
    expect(h.sandbox.items('hierarchicalrequirement').find((i) => i.FormattedID === 'US1')).toMatchObject({
      ScheduleState: 'Completed',
      Blocked: true,
      BlockedReason: 'API down',
    });
  });

  it('changes a defect state and owner', async () => {
    const r = await call('update_rally_item', { id: 'DE1', state: 'Fixed', owner: 'me', confirm: true });
    expect(structured(r)).toMatchObject({
      applied: true,
      item: { state: 'Fixed', owner: { userName: 'alice@example.com' } },
    });
  });

  it('refuses a defect state on a story as a tool error, without writing', async () => {
    const r = await call('update_rally_item', { id: 'US1', state: 'Fixed', confirm: true });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toBe(
      '"state" Fixed does not apply to a story; use scheduleState for stories. (Request ID: req-test-1)',
    );
    expect(writes()).toHaveLength(0);
  });

  it('J8: rejects confirm as a string and unknown fields', async () => {
    await expect(call('update_rally_item', { id: 'US1', name: 'x', confirm: 'yes' })).rejects.toMatchObject({
      code: -32602,
    });
    await expect(call('update_rally_item', { id: 'US1', Owner: '/user/1', confirm: true })).rejects.toMatchObject({
      code: -32602,
    });
    expect(wsapiRequests(h.sandbox)).toHaveLength(0);
  });
});

describe('add_rally_comment', () => {
  it('posts escaped text to the item discussion', async () => {
    const r = await call('add_rally_comment', { id: 'US2', text: 'Looks good <script>x</script>' });
    expect(r.isError).toBeFalsy();
    expect(structured(r)).toMatchObject({ item: { formattedId: 'US2' } });
    const post = h.sandbox.items('conversationpost').find((p) => String(p.Text).includes('Looks good'));
    expect(post?.Text).toBe('<p>Looks good &lt;script&gt;x&lt;/script&gt;</p>');
    expect(writes().map((w) => w.url.split('?')[0])).toEqual(['/slm/webservice/v2.0/conversationpost/create']);
  });
});
