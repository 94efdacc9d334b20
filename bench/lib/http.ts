/**
 * A light keep-alive HTTP client for the load loops (node:http, so the
 * client costs less than fetch and adds less noise), plus MCP helpers.
 */
import { Agent, request } from 'node:http';

export const agent = new Agent({ keepAlive: true, maxSockets: 256 });

export interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One POST; rejects on network error or after `timeoutMs`. */
export function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs = 30_000,
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: 'POST',
        agent,
        headers: { 'content-length': Buffer.byteLength(body), ...headers },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

export const MCP_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
} as const;

/** Parses an SSE or JSON JSON-RPC answer. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON-RPC answer that the bench reads freely
export function parseRpc(body: string): any {
  const data = body.split('\n').find((l) => l.startsWith('data: '));
  try {
    return JSON.parse(data ? data.slice(6) : body);
  } catch {
    return undefined;
  }
}

export function toolCall(name: string, args: Record<string, unknown>, id = 1): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
}

/** True when a tools/call answer is a successful result. */
export function isToolSuccess(r: HttpResult): boolean {
  if (r.status !== 200) return false;
  const rpc = parseRpc(r.body);
  return Boolean(rpc?.result) && rpc.result.isError !== true;
}
