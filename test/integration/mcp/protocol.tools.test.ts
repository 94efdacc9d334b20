import { TOOL_DEFINITIONS, enabledTools } from '../../../shared/mcp/tools/register.js';
import { connect, textOf, useToolHarness, wsapiRequests } from './harness.js';

const h = useToolHarness();

const call = (name: string, args: Record<string, unknown> = {}) => h.mcp.client.callTool({ name, arguments: args });

const ALL = [
  'get_rally_issue',
  'create_rally_story',
  'create_rally_defect',
  'create_rally_task',
  'update_rally_item',
  'add_rally_comment',
  'search_rally_items',
  'list_rally_projects',
  'list_rally_iterations',
  'get_rally_user',
  'disconnect_rally',
];

describe('tool listing', () => {
  it('lists every tool with a title, strict input schema, output schema and annotations', async () => {
    const { tools } = await h.mcp.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...ALL].sort());
    for (const t of tools) {
      expect(t.title).toBeTruthy();
      expect(t.annotations?.title).toBe(t.title);
      expect(t.annotations?.openWorldHint).toBe(true);
      expect(t.inputSchema.additionalProperties).toBe(false);
      expect(t.outputSchema).toBeDefined();
      for (const [field, schema] of Object.entries(t.inputSchema.properties ?? {})) {
        expect([t.name, field, typeof (schema as { description?: unknown }).description]).toEqual([
          t.name,
          field,
          'string',
        ]);
      }
      const def = TOOL_DEFINITIONS.find((d) => d.name === t.name);
      expect(t.annotations?.readOnlyHint).toBe(def?.readOnly);
    }
    const ann = Object.fromEntries(tools.map((t) => [t.name, t.annotations]));
    expect(ann.create_rally_story).toMatchObject({
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: false,
    });
    expect(ann.add_rally_comment).toMatchObject({ readOnlyHint: false, destructiveHint: false, idempotentHint: false });
    expect(ann.disconnect_rally).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(ann.get_rally_issue).toMatchObject({ readOnlyHint: true });
  });

  it('TOOL_DEFINITIONS marks the writers', () => {
    expect(
      TOOL_DEFINITIONS.filter((d) => !d.readOnly)
        .map((d) => d.name)
        .sort(),
    ).toEqual(
      [
        'add_rally_comment',
        'create_rally_defect',
        'create_rally_story',
        'create_rally_task',
        'disconnect_rally',
        'update_rally_item',
        // issue 17 toolsets
        'add_rally_test_result',
        'set_rally_custom_field',
        'update_rally_tags',
        // issue 19 (offered where GitHub is enabled)
        'disconnect_github',
        'link_rally_item_to_github',
      ].sort(),
    );
  });

  it('hides and refuses tools the policy does not allow', async () => {
    await h.mcp.close();
    const readOnly = new Set(TOOL_DEFINITIONS.filter((d) => d.readOnly).map((d) => d.name));
    await h.mcp.close(); // replace the default connection
    h.mcp = await connect(h.sandbox, { isToolAllowed: (t) => readOnly.has(t) });
    const { tools } = await h.mcp.client.listTools();
    // Only core tools are listed without toolsets (issue 17).
    const core = new Set(TOOL_DEFINITIONS.filter((d) => d.toolset === 'core').map((d) => d.name));
    const offered = new Set(enabledTools(['rally']).map((t) => t.name)); // this harness is a Rally-only deployment
    expect(tools.map((t) => t.name).sort()).toEqual([...readOnly].filter((t) => core.has(t) && offered.has(t)).sort());
    const refused = await call('create_rally_story', { name: 'x' });
    expect(refused).toEqual({
      isError: true,
      content: [
        {
          type: 'text',
          text: expect.stringMatching(
            /^The tool create_rally_story is not available to this client or agent\. \(Request ID /,
          ),
        },
      ],
    });
    expect(wsapiRequests(h.sandbox)).toHaveLength(0);
  });
});

describe('J8: invalid arguments → -32602, no Rally call', () => {
  const bad: Array<[string, Record<string, unknown>]> = [
    ['get_rally_issue', {}],
    ['get_rally_issue', { id: 'us12' }],
    ['get_rally_issue', { id: '../user' }],
    ['get_rally_issue', { id: 'US1', extra: true }],
    ['create_rally_defect', { name: 'x', priority: 'Urgent' }],
    ['create_rally_task', { name: 'x' }],
    ['create_rally_task', { workProduct: 'US1', name: 'x', state: 'Accepted' }],
    ['update_rally_item', { id: 'US1', planEstimate: -1 }],
    ['add_rally_comment', { id: 'US1', text: '' }],
    ['add_rally_comment', { id: 'US1', text: 'x'.repeat(5001) }],
    ['search_rally_items', { types: ['epic'] }],
    ['search_rally_items', { cursor: 'not/base64' }],
    ['list_rally_projects', { pageSize: 0 }],
    ['list_rally_iterations', { timeframe: 'soon' }],
    ['get_rally_user', { id: 1 }],
    ['disconnect_rally', { confirm: true }],
  ];
  it.each(bad)('%s %j', async (name, args) => {
    await expect(call(name, args)).rejects.toMatchObject({ code: -32602 });
    expect(wsapiRequests(h.sandbox)).toHaveLength(0);
    expect(h.mcp.disconnects.count).toBe(0);
  });

  it('answers an unknown tool with -32602', async () => {
    await expect(call('delete_everything')).rejects.toMatchObject({ code: -32602 });
  });
});

describe('D6: outbound requests', () => {
  it('carry only ZSESSIONID for auth plus request labels', async () => {
    await call('get_rally_issue', { id: 'US1' });
    const reqs = wsapiRequests(h.sandbox);
    expect(reqs.length).toBeGreaterThan(0);
    for (const r of reqs) {
      expect(r.headers.authorization).toBeUndefined();
      expect(r.headers.cookie).toBeUndefined();
      expect(r.headers['mcp-session-id']).toBeUndefined();
      expect(r.headers['x-request-id']).toBe('req-test-1');
      expect(r.headers['x-correlation-id']).toBe('corr-1');
      expect(r.headers['user-agent']).toBe('rally-mcp/0.1.0 (integration test)');
      expect(r.user).toBe('alice');
    }
  });
});

describe('Rally error mapping (fault injection)', () => {
  it('retries reads on 503 and succeeds', async () => {
    h.sandbox.injectFault({
      pathPrefix: '/slm/webservice/v2.0/user',
      method: 'GET',
      times: 2,
      fault: { kind: 'status', status: 503 },
    });
    const r = await call('get_rally_user');
    expect(r.isError).toBeFalsy();
  });

  it('turns persistent 503 into "Rally is unavailable"', async () => {
    h.sandbox.injectFault({
      pathPrefix: '/slm/webservice/v2.0/',
      fault: { kind: 'status', status: 503, body: '<html>down</html>', contentType: 'text/html' },
    });
    const r = await call('get_rally_issue', { id: 'US1' });
    expect(r).toEqual({
      content: [{ type: 'text', text: 'Rally is unavailable right now, try again shortly. (Request ID: req-test-1)' }],
      isError: true,
    });
  });

  it('treats a connection reset like an outage', async () => {
    h.sandbox.injectFault({ pathPrefix: '/slm/webservice/v2.0/', fault: { kind: 'reset' } });
    const r = await call('get_rally_user');
    expect(textOf(r)).toBe('Rally is unavailable right now, try again shortly. (Request ID: req-test-1)');
  });

  it('D7: does not follow a redirect to another origin', async () => {
    h.sandbox.injectFault({
      pathPrefix: '/slm/webservice/v2.0/',
      fault: { kind: 'redirect', location: 'http://127.0.0.1:1/steal' },
    });
    const r = await call('get_rally_user');
    expect(textOf(r)).toBe('Rally is unavailable right now, try again shortly. (Request ID: req-test-1)');
    expect(wsapiRequests(h.sandbox)).toHaveLength(1);
  });

  it('401 → refresh once → retry succeeds', async () => {
    h.sandbox.expireAccessTokens('alice');
    const r = await call('get_rally_user');
    expect(r.isError).toBeFalsy();
    expect(h.mcp.refreshes.count).toBe(1);
  });

  it('revoked grant → LinkRequiredError reaches the transport (not an isError result)', async () => {
    await h.mcp.close();
    await h.mcp.close(); // replace the default connection
    h.mcp = await connect(h.sandbox, { canRefresh: false });
    h.sandbox.revokeGrants('alice');
    await expect(call('get_rally_user')).rejects.toMatchObject({
      message: expect.stringContaining('Rally link required (revoked)'),
    });
  });

  it('never includes stack traces or internals in error text', async () => {
    h.sandbox.injectFault({
      pathPrefix: '/slm/webservice/v2.0/',
      fault: { kind: 'status', status: 200, body: '{"not":"rally"', contentType: 'application/json' },
    });
    const r = await call('get_rally_issue', { id: 'US1' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).not.toMatch(/at |\.ts|127\.0\.0\.1|ZSESSIONID/);
  });
});
