/**
 * The bridge from a Node request to a web-standard handler (shared/http/fetch-bridge.ts), over real
 * HTTP: what crosses, and the request's abort signal, which the MCP SDK reads to tear an exchange down.
 */
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Request as FfRequest, Response as FfResponse } from '@google-cloud/functions-framework';
import { webExchange, type WebExchange } from '../../../shared/http/fetch-bridge.js';

let server: Server;
let onExchange: (exchange: WebExchange) => void | Promise<void>;
/** The last response's 'close' on the server side. */
let serverClosed: Promise<unknown> = Promise.resolve();

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    serverClosed = once(res, 'close');
    // The one Express method the bridge uses on the response.
    const ffRes = Object.assign(res, { status: (code: number) => ((res.statusCode = code), ffRes) });
    void onExchange(webExchange('https://mcp.example.com/mcp', req as FfRequest, ffRes as unknown as FfResponse));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});
afterAll(async () => {
  server.close();
  await once(server, 'close');
});

function send(headers: Record<string, string>): ReturnType<typeof request> {
  const { port } = server.address() as AddressInfo;
  const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/mcp', headers, agent: false });
  req.on('error', () => {}); // the tests that hang up on purpose
  req.end('{}');
  return req;
}

describe('webExchange', () => {
  it('hands over the method and protocol headers, never credentials, at the URL it was given', async () => {
    const seen = new Promise<globalThis.Request>((resolve) => {
      onExchange = async (exchange) => {
        resolve(exchange.request);
        await exchange.send(
          new Response('{"ok":true}', { status: 202, headers: { 'content-type': 'application/json' } }),
        );
      };
    });
    const req = send({
      authorization: 'Bearer secret',
      cookie: 'sid=1',
      'mcp-protocol-version': '2026-07-28',
      'content-type': 'application/json',
    });
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    const web = await seen;
    expect(web.url).toBe('https://mcp.example.com/mcp');
    expect(web.method).toBe('POST');
    expect(web.headers.get('mcp-protocol-version')).toBe('2026-07-28');
    expect(web.headers.get('authorization')).toBeNull();
    expect(web.headers.get('cookie')).toBeNull();
    expect(web.body).toBeNull();
    expect(res.statusCode).toBe(202);
    res.resume();
  });

  it('aborts the request signal (and a clone of it) when the client goes away before the answer', async () => {
    const exchange = new Promise<WebExchange>((resolve) => {
      onExchange = resolve; // never answers
    });
    const req = send({ 'content-type': 'application/json' });
    const { request: web } = await exchange;
    const clone = web.clone();
    expect(web.signal.aborted).toBe(false);
    const aborted = once(web.signal, 'abort');
    req.destroy();
    await aborted;
    expect(web.signal.aborted).toBe(true);
    expect(clone.signal.aborted).toBe(true);
  });

  it('does not abort once the answer is sent', async () => {
    let web: globalThis.Request | undefined;
    onExchange = async (exchange) => {
      web = exchange.request;
      await exchange.send(new Response('done'));
    };
    const req = send({ 'content-type': 'application/json' });
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    res.resume();
    await serverClosed; // the connection ends after the answer (no keep-alive agent)
    expect(web?.signal.aborted).toBe(false);
  });
});
