import { audit, AUDIT_EVENTS, type AuditEvent, type AuditFields } from '../../../shared/audit/audit.js';
import { createLogger, LOGGABLE_FIELDS } from '../../../shared/logging/logger.js';

function capture() {
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l) });
  const parsed = () =>
    lines.map((l) => {
      const o = JSON.parse(l) as Record<string, unknown>;
      expect(typeof o.time).toBe('string'); // the logger's own timestamp: present, not compared
      delete o.time;
      return o;
    });
  return { log, lines, parsed };
}

const ctx = { requestId: 'req-1', correlationId: 'corr-1', agentId: 'agent-42', sessionHash: 'AbCdEfGhIj_-1234' };
const metadata = {
  copilot_agent_id: 'agent-42',
  copilot_correlation_id: 'corr-1',
  copilot_client_request_id: 'req-1',
  copilot_session_id: 'AbCdEfGhIj_-1234',
};
const common = { audit: true, 'logging.googleapis.com/labels': { log: 'rally-mcp-audit' }, metadata };

const cases: Array<[AuditEvent, AuditFields, Record<string, unknown>]> = [
  [
    'tool_executed',
    {
      clientId: 'c1',
      sub: 'u1',
      rallyUser: 'alice@example.com',
      tool: 'update_item',
      outcome: 'success',
      durationMs: 41.6,
      rallyObject: 'US123',
    },
    {
      severity: 'INFO',
      message: 'tool_executed',
      event: 'tool_executed',
      ...common,
      clientId: 'c1',
      sub: 'u1',
      rallyUser: 'alice@example.com',
      tool: 'update_item',
      outcome: 'success',
      durationMs: 42,
      rallyObject: 'US123',
    },
  ],
  [
    'tool_executed',
    { clientId: 'c1', tool: 'get_item', outcome: 'error', durationMs: 5, errCode: 'rally_unavailable' },
    {
      severity: 'WARNING',
      message: 'tool_executed',
      event: 'tool_executed',
      ...common,
      clientId: 'c1',
      tool: 'get_item',
      outcome: 'error',
      durationMs: 5,
      errCode: 'rally_unavailable',
    },
  ],
  [
    'sign_in_started',
    { mode: 'relink', reason: 'not_linked', clientId: 'c1' },
    {
      severity: 'INFO',
      message: 'sign_in_started',
      event: 'sign_in_started',
      ...common,
      clientId: 'c1',
      mode: 'relink',
      reason: 'not_linked',
    },
  ],
  [
    'sign_in_completed',
    { clientId: 'c1', sub: 'u1', rallyUser: 'alice@example.com', outcome: 'success', mode: 'oauth' },
    {
      severity: 'INFO',
      message: 'sign_in_completed',
      event: 'sign_in_completed',
      ...common,
      clientId: 'c1',
      sub: 'u1',
      rallyUser: 'alice@example.com',
      outcome: 'success',
      mode: 'oauth',
    },
  ],
  [
    'consent_granted',
    { clientId: 'c1', sub: 'u1', scope: 'rally.read rally.write' },
    {
      severity: 'INFO',
      message: 'consent_granted',
      event: 'consent_granted',
      ...common,
      clientId: 'c1',
      sub: 'u1',
      scope: 'rally.read rally.write',
    },
  ],
  [
    'token_issued',
    { clientId: 'c1', sub: 'u1', grantId: 'g1' },
    {
      severity: 'INFO',
      message: 'token_issued',
      event: 'token_issued',
      ...common,
      clientId: 'c1',
      sub: 'u1',
      grantId: 'g1',
    },
  ],
  [
    'token_refreshed',
    { clientId: 'c1', sub: 'u1' },
    { severity: 'INFO', message: 'token_refreshed', event: 'token_refreshed', ...common, clientId: 'c1', sub: 'u1' },
  ],
  [
    'token_revoked',
    { clientId: 'c1', reason: 'refresh_reuse', count: 2 },
    {
      severity: 'INFO',
      message: 'token_revoked',
      event: 'token_revoked',
      ...common,
      clientId: 'c1',
      reason: 'refresh_reuse',
      count: 2,
    },
  ],
  [
    'access_denied',
    { reason: 'insufficient_scope', scope: 'rally.write' },
    {
      severity: 'WARNING',
      message: 'access_denied',
      event: 'access_denied',
      ...common,
      outcome: 'denied',
      reason: 'insufficient_scope',
      scope: 'rally.write',
    },
  ],
  [
    'rate_limited',
    {
      clientId: 'c1',
      sub: 'u1',
      tool: 'search_items',
      limitKind: 'user',
      limit: 120,
      windowSeconds: 60,
      retryAfterSeconds: 17,
    },
    {
      severity: 'WARNING',
      message: 'rate_limited',
      event: 'rate_limited',
      ...common,
      clientId: 'c1',
      sub: 'u1',
      tool: 'search_items',
      outcome: 'rate_limited',
      limitKind: 'user',
      limit: 120,
      windowSeconds: 60,
      retryAfterSeconds: 17,
    },
  ],
  [
    'policy_denied',
    { clientId: 'c1', tool: 'update_item', reason: 'read_only', policy: 'abc123def456' },
    {
      severity: 'WARNING',
      message: 'policy_denied',
      event: 'policy_denied',
      ...common,
      clientId: 'c1',
      tool: 'update_item',
      outcome: 'denied',
      reason: 'read_only',
      policy: 'abc123def456',
    },
  ],
  [
    'rally_disconnected',
    { sub: 'u1', mode: 'grant', outcome: 'success' },
    {
      severity: 'INFO',
      message: 'rally_disconnected',
      event: 'rally_disconnected',
      ...common,
      sub: 'u1',
      mode: 'grant',
      outcome: 'success',
    },
  ],
  [
    'github_disconnected',
    { sub: 'u1', mode: 'grant', provider: 'github', upstreamUser: 'octocat' },
    {
      severity: 'INFO',
      message: 'github_disconnected',
      event: 'github_disconnected',
      ...common,
      sub: 'u1',
      provider: 'github',
      upstreamUser: 'octocat',
      mode: 'grant',
    },
  ],
  [
    'session_linked',
    { rallyUser: 'bob@example.com' },
    { severity: 'INFO', message: 'session_linked', event: 'session_linked', ...common, rallyUser: 'bob@example.com' },
  ],
  [
    'sign_in_failed',
    { reason: 'rally_code_exchange_failed', errCode: 'invalid_grant', mode: 'authorize' },
    {
      severity: 'WARNING',
      message: 'sign_in_failed',
      event: 'sign_in_failed',
      ...common,
      outcome: 'error',
      reason: 'rally_code_exchange_failed',
      errCode: 'invalid_grant',
      mode: 'authorize',
    },
  ],
  [
    'client_registered',
    { clientId: 'rmcp_abc' },
    { severity: 'INFO', message: 'client_registered', event: 'client_registered', ...common, clientId: 'rmcp_abc' },
  ],
];

describe('audit()', () => {
  it.each(cases)('writes the exact line for %s', (event, fields, expected) => {
    const { log, parsed, lines } = capture();
    audit(log, event, fields, ctx);
    expect(lines).toHaveLength(1);
    expect(parsed()[0]).toEqual(expected);
  });

  it('covers every event in the union', () => {
    expect(new Set(cases.map((c) => c[0]))).toEqual(new Set(AUDIT_EVENTS));
    for (const e of AUDIT_EVENTS) expect(e).toMatch(/^[a-z]+(_[a-z]+)+$/);
  });

  it("keeps the request logger's labels and never drops an audit field", () => {
    const { log, parsed } = capture();
    const child = log.child({ function: 'mcp', requestId: 'req-1', agentId: 'agent-42', sessionHash: ctx.sessionHash });
    audit(child, 'tool_executed', { tool: 't', outcome: 'denied', limitKind: 'agent', windowSeconds: 60 }, ctx);
    const [line] = parsed();
    expect(line).toMatchObject({
      function: 'mcp',
      requestId: 'req-1',
      agentId: 'agent-42',
      sessionHash: ctx.sessionHash,
      limitKind: 'agent',
      windowSeconds: 60,
    });
    expect(line).not.toHaveProperty('droppedFields');
  });

  it('every field audit() can write is on the logger allowlist', () => {
    for (const k of [
      'audit',
      'logging.googleapis.com/labels',
      'metadata',
      'clientId',
      'sub',
      'rallyUser',
      'tool',
      'outcome',
      'durationMs',
      'rallyObject',
      'errCode',
      'reason',
      'mode',
      'scope',
      'grantId',
      'count',
      'limitKind',
      'limit',
      'windowSeconds',
      'retryAfterSeconds',
      'policy',
    ]) {
      expect(LOGGABLE_FIELDS.has(k)).toBe(true);
    }
  });

  it('omits absent correlation labels and refuses a session value that is not a hash prefix', () => {
    const { log, parsed } = capture();
    const raw = 'raw-session-value-0123456789-secret';
    audit(log, 'session_linked', {}, { requestId: 'r', sessionHash: raw });
    audit(log, 'session_linked', {}, {});
    const [a, b] = parsed();
    expect(a?.metadata).toEqual({ copilot_client_request_id: 'r' });
    expect(b?.metadata).toEqual({});
    expect(JSON.stringify(parsed())).not.toContain(raw);
  });

  it('clips long labels and never throws when the writer fails', () => {
    const { log, parsed } = capture();
    audit(log, 'tool_executed', { tool: 'x'.repeat(1000), outcome: 'success' }, ctx);
    expect((parsed()[0]?.tool as string).length).toBe(200);
    const broken = createLogger({
      write: () => {
        throw new Error('stdout closed');
      },
    });
    expect(() => audit(broken, 'tool_executed', { tool: 't' }, ctx)).not.toThrow();
  });
});
