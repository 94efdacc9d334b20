import {
  buildRequestContext,
  parseToolsets,
  parseTrace,
  requestContextFor,
} from '../../../shared/http/request-context.js';
import { createLogger } from '../../../shared/logging/logger.js';
import { sha256Id } from '../../../shared/kernel/hash.js';
import type { Request, Response } from '@google-cloud/functions-framework';

const req = (headers: Record<string, string>) =>
  ({ get: (name: string) => headers[name.toLowerCase()] }) as unknown as Request;

describe('request context', () => {
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l) });

  it('x-ms-client-request-id wins over a generated id; invalid values are replaced, never trusted', () => {
    expect(
      buildRequestContext(req({ 'x-ms-client-request-id': 'f3b1c2d4-0000-4000-8000-123456789abc' }), log, 'p', 'mcp')
        .requestId,
    ).toBe('f3b1c2d4-0000-4000-8000-123456789abc');
    const generated = buildRequestContext(
      req({ 'x-ms-client-request-id': 'bad value\nwith newline' }),
      log,
      'p',
      'mcp',
    ).requestId;
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('x-ms-copilot-session-id wins over mcp-session-id for correlation, and only a hash prefix is kept', () => {
    const both = buildRequestContext(
      req({ 'x-ms-copilot-session-id': 'copilot-1', 'mcp-session-id': 'mcp-1' }),
      log,
      'p',
      'mcp',
    );
    expect(both.sessionHash).toBe(sha256Id('session-id:copilot-1').slice(0, 16));
    const mcpOnly = buildRequestContext(req({ 'mcp-session-id': 'mcp-1' }), log, 'p', 'mcp');
    expect(mcpOnly.sessionHash).toBe(sha256Id('session-id:mcp-1').slice(0, 16));
  });

  it('correlation: x-ms-correlation-id, else traceparent, else X-Cloud-Trace-Context', () => {
    const t = '4bf92f3577b34da6a3ce929d0e0e4736';
    expect(
      buildRequestContext(
        req({ 'x-ms-correlation-id': 'corr-1', traceparent: `00-${t}-00f067aa0ba902b7-01` }),
        log,
        'p',
        'mcp',
      ).correlationId,
    ).toBe('corr-1');
    expect(
      buildRequestContext(req({ traceparent: `00-${t}-00f067aa0ba902b7-01` }), log, 'p', 'mcp').correlationId,
    ).toBe(t);
    expect(buildRequestContext(req({ 'x-cloud-trace-context': `${t}/1;o=1` }), log, 'p', 'mcp').correlationId).toBe(t);
    expect(parseTrace(req({ 'x-cloud-trace-context': `${t}/1;o=1` }))).toEqual({
      traceId: t,
      spanId: '0000000000000001',
    });
    expect(parseTrace(req({ traceparent: 'garbage' }))).toEqual({});
  });

  it('the child logger carries the trace in Cloud Logging form', () => {
    lines.length = 0;
    const t = '4bf92f3577b34da6a3ce929d0e0e4736';
    const ctx = buildRequestContext(
      req({ traceparent: `00-${t}-00f067aa0ba902b7-01`, 'x-ms-copilot-agent-id': 'agent-1' }),
      log,
      'proj-1',
      'mcp',
    );
    ctx.log.info('something_happened');
    expect(JSON.parse(lines[0]!)).toMatchObject({
      event: 'something_happened',
      function: 'mcp',
      agentId: 'agent-1',
      'logging.googleapis.com/trace': `projects/proj-1/traces/${t}`,
      'logging.googleapis.com/spanId': '00f067aa0ba902b7',
    });
  });
});

describe('X-Rally-Toolsets (issue 17)', () => {
  it('keeps up to ten lower-case names and drops anything else', () => {
    expect(parseToolsets(' Planning, portfolio ,x-y,all')).toEqual(['planning', 'portfolio', 'all']);
    expect(parseToolsets('a,'.repeat(20))).toHaveLength(10);
    expect(parseToolsets('<script>')).toBeUndefined();
    expect(parseToolsets('x'.repeat(201))).toBeUndefined();
    expect(parseToolsets(undefined)).toBeUndefined();
  });
});

describe('the context of one request', () => {
  it('M7: one context per request: the entry and the handler get the same id, and it is the X-Request-Id header', () => {
    const log = createLogger({ write: () => {} });
    const headers = new Map<string, string>();
    const res = { headersSent: false, set: (k: string, v: string) => headers.set(k, v) } as unknown as Response;
    const one = req({});
    const atEntry = requestContextFor(one, res, log, 'p', 'mcp');
    const inHandler = requestContextFor(one, res, log, 'p', 'mcp');
    expect(inHandler).toBe(atEntry);
    expect(headers.get('X-Request-Id')).toBe(atEntry.requestId);
    expect(requestContextFor(req({}), res, log, 'p', 'mcp').requestId).not.toBe(atEntry.requestId); // another request
  });
});
