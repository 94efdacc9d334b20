/**
 * The logger's second line of defence: redaction of our secrets' shapes,
 * escaping of every control character JSON.stringify leaves raw, and console
 * output reduced to what carries no request data.
 */
import { randomBytes } from 'node:crypto';
import { consoleFields, createLogger, redactSecrets, routeConsoleToLogger } from '../../../shared/logging/logger.js';

function capture() {
  const lines: string[] = [];
  return { log: createLogger({ level: 'debug', write: (l) => lines.push(l) }), lines };
}

// eslint-disable-next-line no-control-regex -- the test looks for raw control characters
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('logger', () => {
  it('M2: C0 and C1 controls, ANSI escapes, line/paragraph separators and bidi overrides in a value are escaped; the line is one JSON object that parses back to the value', () => {
    const { log, lines } = capture();
    const forged = 'a\u001b[31mb\r\n{"severity":"ERROR"}\u0085c\u009b2J\u2028d\u2029\u202ee\u2066\u007f';
    log.warn('consent_refused', { reason: forged });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(RAW_CONTROL);
    expect(JSON.parse(lines[0]!)).toMatchObject({ severity: 'WARNING', event: 'consent_refused', reason: forged });
  });

  it('K1: values shaped like our secrets are redacted wherever they sit (field, nested metadata, message): JWT, JWE, 43-char tokens, verifiers, Rally tokens and keys, named secrets', () => {
    const jwt = `eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.${randomBytes(64).toString('base64url')}`;
    const jwe = `eyJhbGciOiJBMjU2S1ciLCJlbmMiOiJBMjU2R0NNIn0.${randomBytes(40).toString('base64url')}.${randomBytes(12).toString('base64url')}.${randomBytes(30).toString('base64url')}.${randomBytes(16).toString('base64url')}`;
    const refresh = randomBytes(32).toString('base64url');
    const verifier = randomBytes(48).toString('base64url');
    const rallyKey = `_${randomBytes(31).toString('base64url').slice(0, 41)}`;
    const uuidSession = '4f1c9a07-d2e8-4b6b-93a5-c0e7f18d2b64';
    const { log, lines } = capture();
    log.info('oauth_error', {
      reason: `token=${uuidSession} refresh_token=${refresh}; Bearer ${uuidSession} sealed ${jwe}`,
      url: `https://rally.example/x?zsessionid=${uuidSession}&k=${rallyKey}`,
      metadata: { copilot_session_id: jwt, nested: [verifier] },
    });
    const line = lines[0]!;
    for (const s of [jwt, jwe, refresh, verifier, rallyKey, uuidSession]) expect(line).not.toContain(s);
    expect(JSON.parse(line)).toMatchObject({
      reason: 'token=[redacted] refresh_token=[redacted]; Bearer [redacted] sealed [redacted]',
      url: 'https://rally.example/x?zsessionid=[redacted]&k=[redacted]',
      metadata: { copilot_session_id: '[redacted]', nested: ['[redacted]'] },
    });
  });

  it('keeps what logs need: UUID request ids, 32-hex trace ids, client ids, 16-char session hashes, event names', () => {
    const fields = {
      requestId: '4f1c9a07-d2e8-4b6b-93a5-c0e7f18d2b64',
      'logging.googleapis.com/trace': 'projects/demo-x/traces/4f1c9a07d2e84b6b93a5c0e7f18d2b64',
      clientId: `rmcp_${randomBytes(18).toString('base64url')}`,
      sessionHash: 'AbCdEfGhIj_-1234',
      tool: 'search_rally_items',
    };
    const { log, lines } = capture();
    log.info('tool_executed', fields);
    expect(JSON.parse(lines[0]!)).toMatchObject(fields);
  });

  it('cuts long strings, so no value can carry a payload', () => {
    expect(redactSecrets('a b '.repeat(1000)).length).toBeLessThanOrEqual(1001);
  });

  it("M1: console output keeps error names and code locations, never an error's message or its own properties (body-parser's `body`)", () => {
    const secret = randomBytes(32).toString('base64url');
    const err = Object.assign(new SyntaxError(`Unexpected token in JSON: "{\\"refresh_token\\":\\"${secret}\\",}"`), {
      body: `{"refresh_token":"${secret}",}`,
    });
    const fromError = consoleFields([err]);
    const fromStackText = consoleFields([err.stack]);
    for (const f of [fromError, fromStackText]) {
      expect(JSON.stringify(f)).not.toContain(secret);
      expect(f).toMatchObject({ message: 'SyntaxError', errName: 'SyntaxError' });
      expect((f.stack as string[])[0]).toMatch(/^at /);
    }
    expect(consoleFields(['Uncaught exception'])).toMatchObject({ message: 'Uncaught exception' });
    expect(consoleFields([{ body: secret }])).toMatchObject({ message: 'console output', count: 1 });
  });

  it("M1: once routed, console.error from anything in the process is one JSON line through the logger, without the error's message", () => {
    const saved = {
      log: console.log,
      info: console.info,
      debug: console.debug,
      warn: console.warn,
      error: console.error,
      trace: console.trace,
    };
    const { log, lines } = capture();
    try {
      routeConsoleToLogger(log);
      console.error(Object.assign(new Error('bad body {"code":"secret-value"}'), { body: 'secret-value' }));
      console.log('Serving function...');
    } finally {
      Object.assign(console, saved);
    }
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({ severity: 'ERROR', event: 'console_output', message: 'Error', errName: 'Error' }),
      expect.objectContaining({ severity: 'INFO', event: 'console_output', message: 'Serving function...' }),
    ]);
    expect(lines.join('\n')).not.toContain('secret-value');
  });
});
