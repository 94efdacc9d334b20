/**
 * Operating it: Copilot headers → request context → audit metadata and Rally
 * correlation headers; per-agent read-only policy; a per-user rate limit that
 * holds exactly across two server processes.
 */
import { randomUUID } from 'node:crypto';
import { startTestStack, type TestStack } from '../../helpers/stack.js';
import { initializeBody, mcpCall, signIn, toolCallBody } from '../../helpers/oauth-flow.js';
import { sha256Id } from '../../../shared/kernel/hash.js';

const POLICY = {
  version: 1,
  agents: { 'ro-agent': { readOnly: true } },
  clients: {},
  defaults: { rateLimits: { perUserPerMinute: 6 } },
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parsed log line that the test reads freely and checks with expect()
type LogLine = Record<string, any>;

const auditLines = (stack: TestStack, event: string) =>
  stack.logs
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        return undefined;
      }
    })
    .filter((l): l is LogLine => l?.event === event && l.audit === true);

describe('Copilot headers, audit trail, policy and rate limits', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack({
      instances: 2,
      env: { POLICY_JSON: JSON.stringify(POLICY) },
      sandboxOptions: { extraUsers: 1 },
    });
  });
  afterAll(() => stack?.stop());

  it('tool_executed carries the Copilot headers as metadata, and Rally sees the correlation and request ids', async () => {
    const s = await signIn(stack.url, 'alice');
    const headers = {
      authorization: `Bearer ${s.accessToken}`,
      'x-ms-client-request-id': randomUUID(),
      'x-ms-copilot-agent-id': 'agent-7',
      'x-ms-copilot-session-id': 'conv-4f1c9a07d2e84b6b93a5',
      'x-ms-correlation-id': 'corr-123',
      'mcp-session-id': 'ignored-for-correlation',
    };
    stack.sandbox!.clearRequests();
    const res = await mcpCall(stack.mcpUrl, toolCallBody('get_rally_issue', { id: 'US1' }), headers);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe(headers['x-ms-client-request-id']);
    const line = auditLines(stack, 'tool_executed').find((l) => l.requestId === headers['x-ms-client-request-id'])!;
    expect(line).toMatchObject({
      severity: 'INFO',
      event: 'tool_executed',
      tool: 'get_rally_issue',
      outcome: 'success',
      rallyObject: 'US1',
      clientId: s.clientId,
      rallyUser: 'alice@example.com',
      'logging.googleapis.com/labels': { log: 'rally-mcp-audit' },
      metadata: {
        copilot_agent_id: 'agent-7',
        copilot_correlation_id: 'corr-123',
        copilot_client_request_id: headers['x-ms-client-request-id'],
        copilot_session_id: sha256Id(`session-id:${headers['x-ms-copilot-session-id']}`).slice(0, 16),
      },
    });
    expect(typeof line.durationMs).toBe('number');
    const wsapi = stack.sandbox!.requests().filter((r) => r.url.startsWith('/slm/'));
    expect(wsapi.length).toBeGreaterThan(0);
    for (const r of wsapi) {
      expect(r.headers['x-correlation-id']).toBe('corr-123');
      expect(r.headers['x-request-id']).toBe(headers['x-ms-client-request-id']);
    }
  });

  it('W3C traceparent becomes the correlation id and the Cloud Logging trace when no Copilot header is sent', async () => {
    const s = await signIn(stack.url, 'bob');
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), {
      authorization: `Bearer ${s.accessToken}`,
      traceparent: `00-${trace}-00f067aa0ba902b7-01`,
    });
    const line = auditLines(stack, 'tool_executed').find((l) => l.correlationId === trace)!;
    expect(line['logging.googleapis.com/trace']).toBe(`projects/${stack.projectId}/traces/${trace}`);
    expect(line['logging.googleapis.com/spanId']).toBe('00f067aa0ba902b7');
    expect(line.metadata.copilot_correlation_id).toBe(trace);
  });

  it('a read-only agent cannot see or call write tools', async () => {
    const s = await signIn(stack.url, 'alice');
    const headers = { authorization: `Bearer ${s.accessToken}`, 'x-ms-copilot-agent-id': 'ro-agent' };
    const list = await mcpCall(stack.mcpUrl, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, headers);
    const names: string[] = list.json.result.tools.map((t: { name: string }) => t.name);
    expect(names).toContain('get_rally_issue');
    for (const write of [
      'create_rally_story',
      'create_rally_defect',
      'create_rally_task',
      'update_rally_item',
      'add_rally_comment',
    ])
      expect(names).not.toContain(write);
    const before = stack.sandbox!.items('hierarchicalrequirement').length;
    const call = await mcpCall(stack.mcpUrl, toolCallBody('create_rally_story', { name: 'Should not exist' }), headers);
    expect(call.json.result).toEqual({
      isError: true,
      content: [
        {
          type: 'text',
          text: expect.stringMatching(/^This agent is read-only: it cannot change Rally\. \(Request ID /),
        },
      ],
    });
    expect(stack.sandbox!.items('hierarchicalrequirement').length).toBe(before);
    expect(
      auditLines(stack, 'policy_denied').some(
        (l) => l.metadata?.copilot_agent_id === 'ro-agent' && l.reason === 'read_only',
      ),
    ).toBe(true);
    // The same token without the agent header (a different agent) may write: agent rules are labels, client rules are enforced.
    const anon = await mcpCall(
      stack.mcpUrl,
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { 'x-ms-copilot-agent-id': 'ro-agent' },
    );
    expect(anon.json.result.tools.map((t: { name: string }) => t.name)).not.toContain('create_rally_story');
  });

  it('L1: the read-only policy holds on POST /tools/<tool> as on /mcp: ro-agent creates and comments nothing over REST', async () => {
    const s = await signIn(stack.url, 'alice');
    const headers = {
      'content-type': 'application/json',
      authorization: `Bearer ${s.accessToken}`,
      'x-ms-copilot-agent-id': 'ro-agent',
    };
    const before = {
      stories: stack.sandbox!.items('hierarchicalrequirement').length,
      comments: stack.sandbox!.items('conversationpost').length,
    };
    for (const [tool, args] of [
      ['create_rally_story', { name: 'Should not exist (REST)' }],
      ['add_rally_comment', { id: 'US1', text: 'no' }],
    ] as const) {
      const res = await fetch(`${stack.url}/tools/${tool}`, { method: 'POST', headers, body: JSON.stringify(args) });
      expect({ tool, status: res.status }).toEqual({ tool, status: 200 });
      expect(await res.json()).toEqual({
        isError: true,
        content: [
          {
            type: 'text',
            text: expect.stringMatching(/^This agent is read-only: it cannot change Rally\. \(Request ID /),
          },
        ],
      });
    }
    expect({
      stories: stack.sandbox!.items('hierarchicalrequirement').length,
      comments: stack.sandbox!.items('conversationpost').length,
    }).toEqual(before);
    expect(
      auditLines(stack, 'policy_denied').filter(
        (l) => l.metadata?.copilot_agent_id === 'ro-agent' && l.tool === 'add_rally_comment',
      ),
    ).not.toHaveLength(0);
  });

  it('a limit of 6 calls per user per minute holds exactly across two server processes', async () => {
    // A fresh per-minute window on the servers' clock, with the whole minute ahead: the burst cannot straddle two.
    await stack.clock.toNextMinute();
    const s = await signIn(stack.url, 'user001'); // a user with no calls yet in this window
    await mcpCall(stack.mcpUrl, initializeBody(), { authorization: `Bearer ${s.accessToken}` });
    const calls = Array.from({ length: 14 }, (_, i) =>
      mcpCall(`${stack.instanceUrls[i % 2]}/mcp`, toolCallBody('get_rally_user', {}, i + 10), {
        authorization: `Bearer ${s.accessToken}`,
      }),
    );
    const results = await Promise.all(calls);
    const ok = results.filter((r) => r.json.result && !r.json.result.isError);
    const limited = results.filter((r) => /Rate limit reached/.test(r.json.result?.content?.[0]?.text ?? ''));
    expect(results.filter((r) => !ok.includes(r) && !limited.includes(r)).map((r) => JSON.stringify(r.json))).toEqual(
      [],
    );
    expect(ok).toHaveLength(6);
    expect(limited).toHaveLength(8);
    for (const r of limited) expect(r.json.result.content[0].text).toMatch(/Try again in [1-9]\d* s/);
    // The REST twin answers 429 with Retry-After.
    const rest = await fetch(`${stack.instanceUrls[1]}/tools/get_rally_user`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${s.accessToken}` },
      body: '{}',
    });
    expect(rest.status).toBe(429);
    expect(Number(rest.headers.get('retry-after'))).toBeGreaterThan(0);
    // one audit line per refusal: the 8 over /mcp and the REST one
    expect(auditLines(stack, 'rate_limited').filter((l) => l.clientId === s.clientId)).toHaveLength(9);
  });
});
