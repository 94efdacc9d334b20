/**
 * The 2026-07-28 path: the tools/call request the SDK's v2 client
 * (`@modelcontextprotocol/client`) really sends, recorded from a real client
 * once per run and replayed by the load loops with each user's arguments,
 * and the check that an answer is a successful tool result of that revision.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { parseRpc, type HttpResult } from './http.js';

export const MODERN_VERSION = '2026-07-28';

/** Request headers that are ours to add per server (credentials), never part of the recorded request. */
const PER_SERVER_HEADERS = new Set(['authorization', 'x-bench-rally-token']);

/** One recorded tools/call: its headers (without credentials) and its JSON-RPC body. */
export interface ModernRequest {
  readonly headers: Record<string, string>;
  readonly body: { readonly params: { readonly arguments?: unknown } & Record<string, unknown> } & Record<
    string,
    unknown
  >;
}

export interface Recorded {
  /** The revision the client negotiated. */
  readonly negotiated: string | undefined;
  /** The methods the client sent, in order. */
  readonly methods: string[];
  readonly toolCall: ModernRequest;
  /** What the client's callTool returned (after its own validation). */
  readonly result: { isError?: boolean | undefined; content?: unknown; structuredContent?: unknown };
}

/**
 * Connects the v2 client to `url` (version negotiation on, as a 2026-07-28
 * client does), calls `name` once and records the tools/call it sent.
 */
export async function recordModernToolCall(
  url: string,
  credentials: Record<string, string>,
  name: string,
  args: Record<string, unknown>,
): Promise<Recorded> {
  const methods: string[] = [];
  let toolCall: ModernRequest | undefined;
  const client = new Client({ name: 'rally-bench', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: credentials },
      fetch: async (input, init) => {
        const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as ModernRequest['body']) : undefined;
        const method = typeof body?.method === 'string' ? body.method : '-';
        methods.push(method);
        if (method === 'tools/call' && body) {
          const headers: Record<string, string> = {};
          new Headers(init?.headers).forEach((v, k) => {
            if (!PER_SERVER_HEADERS.has(k)) headers[k] = v;
          });
          toolCall = { headers, body };
        }
        return fetch(input, init);
      },
    }),
  );
  try {
    const result = await client.callTool({ name, arguments: args });
    if (toolCall === undefined) throw new Error('the v2 client sent no tools/call');
    return { negotiated: client.getNegotiatedProtocolVersion(), methods, toolCall, result };
  } finally {
    await client.close();
  }
}

/** The recorded request with other arguments: body and headers for `post`. */
export function modernToolCall(
  recorded: ModernRequest,
  args: Record<string, unknown>,
): { body: string; headers: Record<string, string> } {
  return {
    body: JSON.stringify({ ...recorded.body, params: { ...recorded.body.params, arguments: args } }),
    headers: recorded.headers,
  };
}

/** True when an answer is a successful 2026-07-28 tool result: HTTP 200, `resultType: "complete"`, not isError. */
export function isModernToolSuccess(r: HttpResult): boolean {
  if (r.status !== 200) return false;
  const rpc = parseRpc(r.body);
  return rpc?.result?.resultType === 'complete' && rpc.result.isError !== true;
}
