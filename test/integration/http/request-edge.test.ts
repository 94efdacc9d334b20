/**
 * Requests that fail before a function's handler (issue 22, L10, M1–M4, M6),
 * black-box against the local stack: whatever the body or URL, the answer
 * comes from the surface's own error shape (never 500, never the framework's
 * page), the body is never inflated or logged, and every log line stays one
 * JSON object with no secret and no raw control character.
 */
import { request as httpRequest } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { startTestStack, type TestStack } from '../../helpers/stack.js';
import { until } from '../../helpers/poll.js';
import { freePort, killGroup, spawnGroup, waitForHttp } from '../../../dev/process-utils.js';

/** Small, so size cases stay fast; the gate reads MAX_BODY_BYTES from config like any deployment. */
const MAX_BODY_BYTES = 65_536;

type Surface = 'oauth-json' | 'page' | 'json-rpc' | 'rest';

/** Every POST-able path of every function, and the error shape its function answers in. */
const ENDPOINTS: ReadonlyArray<{ readonly path: string; readonly surface: Surface }> = [
  { path: '/token', surface: 'oauth-json' },
  { path: '/revoke', surface: 'oauth-json' },
  { path: '/register', surface: 'oauth-json' },
  { path: '/.well-known/oauth-authorization-server', surface: 'oauth-json' },
  { path: '/authorize', surface: 'page' },
  { path: '/consent', surface: 'page' },
  { path: '/connect/some-link-id', surface: 'page' },
  { path: '/mcp', surface: 'json-rpc' },
  { path: '/tools/search_rally_items', surface: 'rest' },
  { path: '/oauth/callback', surface: 'page' },
  { path: '/.well-known/oauth-protected-resource', surface: 'oauth-json' },
  { path: '/docs', surface: 'oauth-json' },
];

/** Raw C0/C1 controls, Unicode line separators and bidi overrides: what must never reach a log line unescaped. */
// eslint-disable-next-line no-control-regex -- the test looks for raw control characters
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly headers: Headers;
  readonly text: string;
}

async function post(
  stack: TestStack,
  path: string,
  body: Uint8Array | string | undefined,
  headers: Record<string, string>,
): Promise<Answer> {
  const res = await fetch(`${stack.url}${path}`, {
    method: 'POST',
    headers: { accept: 'application/json, text/event-stream', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : new Blob([new Uint8Array(body)]) }),
  });
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    headers: res.headers,
    text: await res.text(),
  };
}

/** The answer is the surface's own error shape with this status (and, on /mcp, this JSON-RPC code). */
function expectSurfaceAnswer(a: Answer, surface: Surface, status: number, rpcCode = -32600): void {
  expect({ status: a.status, surface }).toEqual({ status, surface });
  switch (surface) {
    case 'oauth-json':
      expect(a.contentType).toMatch(/^application\/json/);
      expect(a.headers.get('cache-control')).toBe('no-store');
      expect(JSON.parse(a.text)).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
      return;
    case 'json-rpc':
      expect(JSON.parse(a.text)).toEqual({
        jsonrpc: '2.0',
        id: null,
        error: { code: rpcCode, message: expect.any(String) },
      });
      return;
    case 'rest':
      expect(JSON.parse(a.text)).toEqual({ error: 'invalid_request', message: expect.any(String) });
      return;
    case 'page':
      expect(a.contentType).toMatch(/^text\/html/);
      expect(a.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(a.text).toContain('<title>Request refused</title>');
      return;
  }
}

/** Waits until every line the server printed before now has arrived (a refused request logs its request id). */
async function settleLogs(stack: TestStack): Promise<void> {
  const marker = randomUUID(); // a longer label would be redacted as an opaque token (shared/logging/logger.ts)
  await post(stack, '/token', 'x', { 'content-type': 'text/plain', 'x-ms-client-request-id': marker });
  await until(() => stack.logs.some((l) => l.includes(marker)), 'the marker request to be logged', 5000);
}

/** Every server line since `from` is one JSON object with no raw control character and none of `secrets`. */
function expectCleanLogs(stack: TestStack, from: number, secrets: readonly string[]): void {
  const lines = stack.logs.slice(from);
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) {
    expect({
      line,
      json: (() => {
        try {
          return typeof JSON.parse(line) === 'object';
        } catch {
          return false;
        }
      })(),
    }).toEqual({ line, json: true });
    expect({ line, rawControl: RAW_CONTROL.test(line) }).toEqual({ line, rawControl: false });
    for (const s of secrets) expect({ line, hasSecret: line.includes(s) }).toEqual({ line, hasSecret: false });
  }
}

const refreshToken = () => randomBytes(32).toString('base64url'); // randomToken(32): our refresh tokens, codes, client secrets
const nested = (depth: number, inner: string) => `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`;

/** Headers sent, a few body bytes written, then nothing: resolves with the status if the server answers without the rest. */
function answerBeforeBody(
  stack: TestStack,
  path: string,
  headers: Record<string, string>,
  timeoutMs = 5000,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${stack.url}${path}`, { method: 'POST', headers });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms while the body was still being sent`));
    }, timeoutMs);
    req.on('response', (res) => {
      clearTimeout(timer);
      res.resume();
      req.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => {}); // destroyed on purpose after the answer
    req.write(randomBytes(1024));
  });
}

describe('requests that fail before the handlers (issue 22)', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack({ env: { MAX_BODY_BYTES: String(MAX_BODY_BYTES) } });
  });
  afterAll(() => stack?.stop());

  it('M1: a refresh token, code, verifier or client secret inside broken JSON or a malformed form sent to /token, /revoke, /register or /mcp → our 400 invalid_request / -32700; no log line holds the secret or the body', async () => {
    const from = stack.logs.length;
    const secrets: string[] = [];
    const cases: Array<[string, string, string]> = [];
    for (const path of ['/token', '/revoke', '/register', '/mcp']) {
      const [rt, code, verifier, clientSecret] = [
        refreshToken(),
        refreshToken(),
        randomBytes(48).toString('base64url'),
        refreshToken(),
      ];
      secrets.push(rt, code, verifier, clientSecret);
      cases.push(
        [path, 'application/json', `{"grant_type":"refresh_token","refresh_token":"${rt}",}`], // trailing comma
        [path, 'application/json', `{"code":"${code}","code_verifier":"${verifier}"`], // truncated
        [
          path,
          'application/x-www-form-urlencoded',
          `grant_type=refresh_token&refresh_token=${rt}&client_secret=${clientSecret}&x=%zz`,
        ],
        [path, 'application/x-www-form-urlencoded', `token=${rt}&client_secret=${clientSecret}%E0%A4%A`],
      );
    }
    for (const [path, type, body] of cases) {
      const a = await post(stack, path, body, { 'content-type': type });
      if (path === '/mcp' && type === 'application/json') expectSurfaceAnswer(a, 'json-rpc', 400, -32700);
      else if (path === '/mcp') expectSurfaceAnswer(a, 'json-rpc', 400);
      else expectSurfaceAnswer(a, 'oauth-json', 400);
      expect(a.text).not.toContain(body.slice(0, 20));
    }
    await settleLogs(stack);
    expectCleanLogs(stack, from, secrets);
  });

  it('M2: control characters, ANSI escapes and line breaks in bodies, form fields, paths and query strings → every log line stays one JSON object with no raw control character', async () => {
    const from = stack.logs.length;
    const forged = '\u001b[31mERROR\u001b[0m\r\n{"severity":"ERROR","event":"forged"}\u0085\u2028\u009b2J\u202e';
    const enc = encodeURIComponent(forged);
    await post(stack, '/register', `{"client_name":"${forged}","redirect_uris":["http://127.0.0.1/cb"]}`, {
      'content-type': 'application/json',
    }); // raw controls: invalid JSON
    await post(stack, '/register', JSON.stringify({ client_name: forged, redirect_uris: ['http://127.0.0.1/cb'] }), {
      'content-type': 'application/json',
    }); // escaped: valid JSON
    await post(stack, '/token', `grant_type=${enc}&client_id=${enc}`, {
      'content-type': 'application/x-www-form-urlencoded',
    });
    await post(stack, '/consent', `request_id=${enc}&csrf=${enc}`, {
      'content-type': 'application/x-www-form-urlencoded',
    });
    await post(stack, '/mcp', JSON.stringify({ jsonrpc: '2.0', id: 1, method: forged, params: { name: forged } }), {
      'content-type': 'application/json',
    });
    await post(stack, `/tools/${enc}`, '{}', { 'content-type': 'application/json' });
    await fetch(`${stack.url}/oauth/callback?state=${enc}&code=${enc}&error=${enc}`);
    await fetch(`${stack.url}/authorize?client_id=${enc}&redirect_uri=${enc}`);
    await fetch(`${stack.url}/connect/${enc}`);
    await settleLogs(stack);
    expectCleanLogs(stack, from, []);
    expect(stack.logs.slice(from).some((l) => JSON.parse(l).event === 'forged')).toBe(false);
  });

  it('M3: JSON nested 10,000 levels deep to every function → 400 from our mapper (invalid_request / -32600), never 500, no ERROR log', async () => {
    const from = stack.logs.length;
    const deep = nested(10_000, '"x"');
    for (const { path, surface } of ENDPOINTS) {
      expectSurfaceAnswer(await post(stack, path, deep, { 'content-type': 'application/json' }), surface, 400);
      expectSurfaceAnswer(
        await post(stack, path, `{"client_name":${nested(10_000, '{}')}}`, { 'content-type': 'application/json' }),
        surface,
        400,
      );
    }
    await settleLogs(stack);
    expectCleanLogs(stack, from, []);
    expect(stack.logs.slice(from).filter((l) => JSON.parse(l).severity === 'ERROR')).toEqual([]);
  });

  it('M4: a 5 KB gzip or deflate body that inflates to 5 MB, to every function (/register, /token, /revoke, /consent and /mcp included) → 415, never inflated or served', async () => {
    const from = stack.logs.length;
    const secret = refreshToken();
    const inflated = Buffer.from(
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { token: secret, pad: ' '.repeat(5_000_000) } }),
    );
    const bombs = { gzip: gzipSync(inflated, { level: 9 }), deflate: deflateSync(inflated, { level: 9 }) };
    expect(bombs.gzip.length).toBeLessThan(10_000);
    for (const { path, surface } of ENDPOINTS) {
      for (const [encoding, body] of Object.entries(bombs)) {
        expectSurfaceAnswer(
          await post(stack, path, body, { 'content-type': 'application/json', 'content-encoding': encoding }),
          surface,
          415,
        );
      }
    }
    await settleLogs(stack);
    expectCleanLogs(stack, from, [secret]);
  });

  it('L10: a body with Content-Encoding gzip, deflate or br → 415 as soon as the headers arrive, before a byte is inflated; identity is plain', async () => {
    for (const encoding of ['gzip', 'deflate', 'br', 'GZIP', 'gzip, identity']) {
      // 50 MB announced, 1 KB sent: an answer proves the body was neither read nor inflated.
      const status = await answerBeforeBody(stack, '/mcp', {
        'content-type': 'application/json',
        'content-encoding': encoding,
        'content-length': String(50_000_000),
      });
      expect({ encoding, status }).toEqual({ encoding, status: 415 });
    }
    const br = brotliCompressSync(Buffer.from('{"client_name":"x"}'));
    expectSurfaceAnswer(
      await post(stack, '/register', br, { 'content-type': 'application/json', 'content-encoding': 'br' }),
      'oauth-json',
      415,
    );
    const plain = await post(
      stack,
      '/register',
      JSON.stringify({
        client_name: 'plain',
        redirect_uris: ['http://127.0.0.1:4000/cb'],
        token_endpoint_auth_method: 'none',
      }),
      {
        'content-type': 'application/json',
        'content-encoding': 'identity',
      },
    );
    expect(plain.status).toBe(201);
  });

  it("M6: a bad content type, a bad charset, invalid UTF-8 or a body over MAX_BODY_BYTES → the surface mapper's 415, 400 or 413, never the framework's page, never 500", async () => {
    const from = stack.logs.length;
    const big = `{"pad":"${'a'.repeat(MAX_BODY_BYTES)}"}`;
    for (const { path, surface } of ENDPOINTS) {
      expectSurfaceAnswer(await post(stack, path, 'client_name=x', { 'content-type': 'text/plain' }), surface, 415);
      expectSurfaceAnswer(await post(stack, path, '<x/>', { 'content-type': 'application/xml' }), surface, 415);
      expectSurfaceAnswer(
        await post(stack, path, '{}', { 'content-type': 'application/json; charset=latin1' }),
        surface,
        415,
      );
      expectSurfaceAnswer(
        await post(stack, path, 'a=b', { 'content-type': 'application/x-www-form-urlencoded; charset=utf-16' }),
        surface,
        415,
      );
      expectSurfaceAnswer(
        await post(stack, path, Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), {
          'content-type': 'application/json',
        }),
        surface,
        400,
        -32700,
      );
      expectSurfaceAnswer(await post(stack, path, big, { 'content-type': 'application/json' }), surface, 413);
    }
    // Chunked, with no Content-Length: counted while reading, refused without reading the rest.
    const status = await answerBeforeBodyChunked(stack, '/register', MAX_BODY_BYTES * 4);
    expect(status).toBe(413);
    await settleLogs(stack);
    expectCleanLogs(stack, from, []);
  });

  it("M7: every answer of every function names its request in X-Request-Id, a refusal before the handler included: the id of that request's log line, or the caller's own x-ms-client-request-id", async () => {
    const big = `{"pad":"${'a'.repeat(MAX_BODY_BYTES)}"}`;
    for (const { path, surface } of ENDPOINTS) {
      const from = stack.logs.length;
      const refused = await post(stack, path, big, { 'content-type': 'application/json' });
      expectSurfaceAnswer(refused, surface, 413);
      const id = refused.headers.get('x-request-id');
      expect({ path, id }).toEqual({ path, id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
      await until(
        () => stack.logs.slice(from).some((l) => l.includes(id!)),
        `the refusal of ${path} to be logged with its id`,
        5000,
      );
      const line = stack.logs
        .slice(from)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.requestId === id);
      expect({ path, event: line?.event, status: line?.status }).toEqual({
        path,
        event: 'request_refused',
        status: 413,
      });

      const own = randomUUID();
      const answered = await post(stack, path, '{}', {
        'content-type': 'application/json',
        'x-ms-client-request-id': own,
      });
      expect({ path, id: answered.headers.get('x-request-id') }).toEqual({ path, id: own });
    }
    for (const path of [
      '/.well-known/oauth-authorization-server',
      '/.well-known/oauth-protected-resource/mcp',
      '/docs',
    ]) {
      const res = await fetch(`${stack.url}${path}`);
      expect({ path, status: res.status, id: res.headers.get('x-request-id') }).toEqual({
        path,
        status: 200,
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      });
    }
  });

  it('M6: a client that hangs up halfway through its body → the read ends (request_aborted), nothing answers 500, the function keeps answering', async () => {
    const from = stack.logs.length;
    const req = httpRequest(`${stack.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '10000' },
    });
    req.on('error', () => {});
    req.write('grant_type=refresh_token&refresh_token=');
    await new Promise((r) => setTimeout(r, 200));
    req.destroy();
    await until(
      () => stack.logs.slice(from).some((l) => JSON.parse(l).event === 'request_aborted'),
      'request_aborted to be logged',
      5000,
    );
    expectSurfaceAnswer(await post(stack, '/token', '{', { 'content-type': 'application/json' }), 'oauth-json', 400);
  });

  it("M6: a path the framework's router cannot decode (/tools/%E0%A4%A, /connect/<id>%zz) → the surface's 400, and the path is not logged", async () => {
    const from = stack.logs.length;
    const linkId = refreshToken();
    expectSurfaceAnswer(
      await post(stack, '/tools/%E0%A4%A', '{}', { 'content-type': 'application/json' }),
      'rest',
      400,
    );
    const connect = await fetch(`${stack.url}/connect/${linkId}%zz`);
    expectSurfaceAnswer(
      {
        status: connect.status,
        contentType: connect.headers.get('content-type') ?? '',
        headers: connect.headers,
        text: await connect.text(),
      },
      'page',
      400,
    );
    expectSurfaceAnswer(await post(stack, '/.well-known/oauth-protected-resource/%ff%', '', {}), 'oauth-json', 400);
    await settleLogs(stack);
    expectCleanLogs(stack, from, [linkId]);
  });

  it("M1/M4/M6 under functions-framework's own CLI, as Cloud Functions gen2 starts our main (`functions-framework --target=authorization`): our answers; everything printed, the framework's own lines included, is JSON without the secret", async () => {
    const port = await freePort();
    const root = new URL('../../..', import.meta.url).pathname;
    const lines: string[] = [];
    const child = spawnGroup(
      process.execPath,
      [
        '--import',
        'tsx',
        `${root}node_modules/@google-cloud/functions-framework/build/src/main.js`,
        '--target=authorization',
        `--source=${root}functions/index.ts`,
      ],
      {
        cwd: root,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          ...stack.serverEnv,
          FUNCTION_TARGET: 'authorization',
          PORT: String(port),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const collect = (b: Buffer) =>
      lines.push(
        ...b
          .toString()
          .split('\n')
          .filter((l) => l.trim()),
      );
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitForHttp(`${url}/.well-known/oauth-authorization-server`, { child, timeoutMs: 60_000 });
      const cli = { ...stack, url } as TestStack;
      const secret = refreshToken();
      expectSurfaceAnswer(
        await post(cli, '/token', `{"grant_type":"refresh_token","refresh_token":"${secret}",}`, {
          'content-type': 'application/json',
        }),
        'oauth-json',
        400,
      );
      expectSurfaceAnswer(
        await post(cli, '/register', gzipSync(`{"client_name":"${secret}"}`), {
          'content-type': 'application/json',
          'content-encoding': 'gzip',
        }),
        'oauth-json',
        415,
      );
      expectSurfaceAnswer(
        await post(cli, '/register', nested(10_000, `"${secret}"`), { 'content-type': 'application/json' }),
        'oauth-json',
        400,
      );
      expectSurfaceAnswer(
        await post(cli, '/consent', `csrf=${secret}%zz`, { 'content-type': 'application/x-www-form-urlencoded' }),
        'page',
        400,
      );
      expectSurfaceAnswer(await post(cli, `/connect/${secret}%zz`, '', {}), 'page', 400);
      expect(
        (
          await post(
            cli,
            '/register',
            JSON.stringify({
              client_name: 'cli',
              redirect_uris: ['http://127.0.0.1:4000/cb'],
              token_endpoint_auth_method: 'none',
            }),
            { 'content-type': 'application/json' },
          )
        ).status,
      ).toBe(201);
      // The last request's audit line is the child's last: every line before it has arrived too.
      await until(() => lines.some((l) => l.includes('"client_registered"')), 'the child to log the registration');
      expect(lines.some((l) => l.includes('request_refused'))).toBe(true);
      // Outside production the framework prints "Serving function..." with console.log: routed through our logger.
      expect(lines.map((l) => JSON.parse(l))).toContainEqual(
        expect.objectContaining({ event: 'console_output', message: 'Serving function...' }),
      );
      for (const line of lines) {
        expect({
          line,
          json: (() => {
            try {
              return typeof JSON.parse(line) === 'object';
            } catch {
              return false;
            }
          })(),
        }).toEqual({ line, json: true });
        expect(line).not.toContain(secret);
      }
    } finally {
      await killGroup(child);
    }
  });

  it('property: generated malformed bodies carrying a generated secret, to every endpoint of every function → only our mappers answer, the stack keeps answering, and no log line holds a secret or a raw control character', async () => {
    const from = stack.logs.length;
    const secrets: string[] = [];
    const secret = fc.oneof(
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64url')), // refresh token, code, client secret
      fc.uint8Array({ minLength: 48, maxLength: 48 }).map((b) => Buffer.from(b).toString('base64url')), // PKCE verifier
      fc
        .uint8Array({ minLength: 64, maxLength: 96 })
        .map(
          (b) =>
            `eyJhbGciOiJFZERTQSJ9.${Buffer.from(b.subarray(0, 40)).toString('base64url')}.${Buffer.from(b.subarray(40)).toString('base64url')}`,
        ), // our access token shape
    );
    const control = fc.constantFrom(
      '\u001b[31m',
      '\u001b]0;x\u0007',
      '\n',
      '\r\n',
      '\u0000',
      '\u0085',
      '\u009b',
      '\u2028',
      '\u202e',
      '\t',
      '',
    );
    const field = fc.constantFrom('refresh_token', 'code', 'code_verifier', 'client_secret', 'token', 'client_name');

    type Case = { body: Buffer; headers: Record<string, string>; status: number; rpcCode?: number; secret: string };
    const brokenJson = fc
      .tuple(field, secret, control, fc.constantFrom(',}', '', '}}', "'}", ',"x":}', '"\\x"}'))
      .map(([f, s, c, tail]): Case => {
        const text = `{"${f}":"${s}${c}"${tail}`;
        return {
          body: Buffer.from(text),
          headers: { 'content-type': 'application/json' },
          status: 400,
          rpcCode: -32700,
          secret: s,
        };
      })
      .filter((c) => {
        try {
          JSON.parse(c.body.toString());
          return false;
        } catch {
          return true;
        }
      });
    const brokenForm = fc
      .tuple(field, secret, control, fc.constantFrom('%zz', '%', '%E0%A4%A', '%G1', '%C0'))
      .map(([f, s, c, bad]): Case => ({
        body: Buffer.from(`grant_type=refresh_token&${f}=${s}${encodeURIComponent(c)}${bad}`),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        status: 400,
        secret: s,
      }));
    const deep = fc
      .tuple(secret, fc.integer({ min: 33, max: 10_000 }), fc.constantFrom('[', '{"a":'))
      .map(([s, depth, open]): Case => ({
        body: Buffer.from(`${open.repeat(depth)}"${s}"${(open === '[' ? ']' : '}').repeat(depth)}`),
        headers: { 'content-type': 'application/json' },
        status: 400,
        secret: s,
      }));
    const badCharset = fc
      .tuple(field, secret, fc.constantFrom('latin1', 'utf-16', 'ISO-8859-1', 'windows-1252', '"utf-32"'), fc.boolean())
      .map(([f, s, cs, json]): Case => ({
        body: Buffer.from(json ? JSON.stringify({ [f]: s }) : `${f}=${s}`),
        headers: {
          'content-type': `${json ? 'application/json' : 'application/x-www-form-urlencoded'}; charset=${cs}`,
        },
        status: 415,
        secret: s,
      }));
    const invalidUtf8 = fc
      .tuple(field, secret, fc.constantFrom([0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]))
      .map(([f, s, bytes]): Case => ({
        body: Buffer.concat([Buffer.from(`{"${f}":"${s}`), Buffer.from(bytes), Buffer.from('"}')]),
        headers: { 'content-type': 'application/json' },
        status: 400,
        rpcCode: -32700,
        secret: s,
      }));
    const bomb = fc
      .tuple(
        field,
        secret,
        fc.constantFrom('gzip', 'deflate', 'br', 'x-gzip', 'compress'),
        fc.integer({ min: 1, max: 5_000_000 }),
      )
      .map(([f, s, encoding, size]): Case => {
        const plain = Buffer.from(JSON.stringify({ [f]: s, pad: ' '.repeat(size) }));
        const body =
          encoding === 'br' ? brotliCompressSync(plain) : encoding === 'deflate' ? deflateSync(plain) : gzipSync(plain);
        return {
          body,
          headers: { 'content-type': 'application/json', 'content-encoding': encoding },
          status: 415,
          secret: s,
        };
      });
    const badType = fc
      .tuple(
        field,
        secret,
        fc.constantFrom(
          'text/plain',
          'application/xml',
          'multipart/form-data; boundary=x',
          'application/octet-stream',
          'application/json-patch+json',
        ),
      )
      .map(([f, s, type]): Case => ({
        body: Buffer.from(JSON.stringify({ [f]: s })),
        headers: { 'content-type': type },
        status: 415,
        secret: s,
      }));
    const tooLarge = fc
      .tuple(field, secret, fc.integer({ min: MAX_BODY_BYTES, max: MAX_BODY_BYTES * 3 }))
      .map(([f, s, size]): Case => ({
        body: Buffer.from(`{"${f}":"${s}","pad":"${'a'.repeat(size)}"}`),
        headers: { 'content-type': 'application/json' },
        status: 413,
        secret: s,
      }));

    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ENDPOINTS),
        fc.oneof(brokenJson, brokenForm, deep, badCharset, invalidUtf8, bomb, badType, tooLarge),
        async ({ path, surface }, c) => {
          secrets.push(c.secret);
          const a = await post(stack, path, c.body, c.headers);
          expectSurfaceAnswer(a, surface, c.status, c.rpcCode);
          expect(a.text).not.toContain(c.secret);
        },
      ),
      { numRuns: 300 },
    );
    expect((await fetch(`${stack.url}/.well-known/oauth-protected-resource`)).status).toBe(200);
    expect(
      (
        await post(stack, '/mcp', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }), {
          'content-type': 'application/json',
        })
      ).status,
    ).toBe(200);
    await settleLogs(stack);
    expectCleanLogs(stack, from, secrets);
  }, 90_000);
});

/** Sends `total` bytes chunked (no Content-Length); resolves with the status answered before the body ends. */
function answerBeforeBodyChunked(stack: TestStack, path: string, total: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${stack.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error('no answer while the body was still being sent'));
    }, 5000);
    req.on('response', (res) => {
      clearTimeout(timer);
      res.resume();
      req.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => {});
    req.write(`{"pad":"${'a'.repeat(total)}`);
  });
}
