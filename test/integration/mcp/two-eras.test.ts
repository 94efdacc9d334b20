/**
 * Both protocol eras from one /mcp endpoint, over real HTTP on the local
 * stack: the SDK's v2 client speaking 2026-07-28 (no initialize:
 * `server/discover`, then per-request `_meta`) next to the v1 client speaking
 * 2025-11-25, each signed in with our OAuth flow, get the same tools and the
 * same result shapes through the one execution path.
 */
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startTestStack, type TestStack } from '../../helpers/stack.js';
import { initializeBody, mcpCall, signIn, type SignedIn } from '../../helpers/oauth-flow.js';

const MODERN = '2026-07-28';

interface Seen {
  readonly version: string;
  readonly method: string;
  readonly status: number;
}

/** What a result looks like apart from its values: the keys, recursively (array items by their first). */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : [shape(value[0])];
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k]) => k !== '_meta')
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, shape(v)]),
    );
  return typeof value;
}

describe('two protocol eras on one /mcp', () => {
  let stack: TestStack;
  let alice: SignedIn;

  beforeAll(async () => {
    stack = await startTestStack({ env: { SESSION_LINK_MODE: 'false' } });
    alice = await signIn(stack.url, 'alice');
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const modernClient = async (token: string) => {
    const seen: Seen[] = [];
    const client = new ClientV2({ name: 'sdk-v2-e2e', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
    await client.connect(
      new TransportV2(new URL(stack.mcpUrl), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
        fetch: async (input, init) => {
          const res = await fetch(input, init);
          const headers = new Headers(init?.headers);
          const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as { method?: string }) : {};
          seen.push({
            version: headers.get('mcp-protocol-version') ?? '-',
            method: body.method ?? '-',
            status: res.status,
          });
          return res;
        },
      }),
    );
    return { client, seen };
  };

  const legacyClient = async (token: string) => {
    const client = new Client({ name: 'sdk-v1-e2e', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    return client;
  };

  it('the v2 client: server/discover → tools/list → a read and a write tool, as 2026-07-28, with the results the v1 client gets', async () => {
    const { client: v2, seen } = await modernClient(alice.accessToken);
    const v1 = await legacyClient(alice.accessToken);
    try {
      // Discovery, statelessly: no initialize and no session.
      expect(v2.getNegotiatedProtocolVersion()).toBe(MODERN);
      expect(seen[0]).toEqual({ version: MODERN, method: 'server/discover', status: 200 });
      expect(seen.some((s) => s.method === 'initialize')).toBe(false);
      expect(v2.getServerVersion()).toMatchObject({ name: 'rally-mcp' });
      expect(v1.getServerVersion()).toMatchObject({ name: 'rally-mcp' });

      const [modernTools, legacyTools] = [(await v2.listTools()).tools, (await v1.listTools()).tools];
      const summary = (tools: Array<{ name: string; title?: string | undefined; annotations?: unknown }>) =>
        tools.map((t) => ({ name: t.name, title: t.title, annotations: t.annotations }));
      expect(modernTools).toHaveLength(12); // the eleven Rally tools and create_connection_token (issue 18)
      expect(summary(modernTools)).toEqual(summary(legacyTools));
      for (const t of modernTools) {
        const same = legacyTools.find((l) => l.name === t.name)!;
        expect(Object.keys(t.inputSchema.properties ?? {})).toEqual(Object.keys(same.inputSchema.properties ?? {}));
      }

      // A read tool: the same result through both eras.
      const read = { name: 'get_rally_issue', arguments: { id: 'US1' } };
      const [modernRead, legacyRead] = [await v2.callTool(read), await v1.callTool(read)];
      expect(modernRead.isError).toBeFalsy();
      expect(modernRead.structuredContent).toEqual(legacyRead.structuredContent);
      expect(modernRead.content).toEqual(legacyRead.content);
      expect(modernRead.structuredContent).toMatchObject({ item: { formattedId: 'US1', kind: 'story' } });

      // A write tool: one story each, with the same shape of result.
      const write = (name: string) => ({ name: 'create_rally_story', arguments: { name, planEstimate: 2 } });
      const modernWrite = await v2.callTool(write('Two-eras story (2026-07-28)'));
      const legacyWrite = await v1.callTool(write('Two-eras story (2025-11-25)'));
      expect(modernWrite.isError).toBeFalsy();
      expect(shape(modernWrite)).toEqual(shape(legacyWrite));
      const created = (modernWrite.structuredContent as { created: { formattedId: string } }).created;
      expect(created.formattedId).toMatch(/^US\d+$/);
      expect(stack.sandbox!.items('hierarchicalrequirement').map((i) => i.Name)).toEqual(
        expect.arrayContaining(['Two-eras story (2026-07-28)', 'Two-eras story (2025-11-25)']),
      );

      // Every request of the 2026-07-28 client was served in that revision, none refused.
      expect(seen.every((s) => s.version === MODERN && s.status === 200)).toBe(true);
      expect(seen.map((s) => s.method)).toEqual(
        expect.arrayContaining(['server/discover', 'tools/list', 'tools/call']),
      );
    } finally {
      await v2.close();
      await v1.close();
    }
  });

  it('invalid arguments are -32602 in both eras, before any Rally request', async () => {
    const { client: v2 } = await modernClient(alice.accessToken);
    const v1 = await legacyClient(alice.accessToken);
    try {
      stack.sandbox!.clearRequests();
      const bad = { name: 'get_rally_issue', arguments: { id: 'US1', extra: true } };
      const codes = await Promise.all(
        [v2.callTool(bad), v1.callTool(bad)].map((p) =>
          p.then(
            () => undefined,
            (e: unknown) => (e as { code?: number }).code,
          ),
        ),
      );
      expect(codes).toEqual([-32602, -32602]);
      expect(stack.sandbox!.requests().filter((r) => r.url.startsWith('/slm/'))).toEqual([]);
    } finally {
      await v2.close();
      await v1.close();
    }
  });

  it('N9: a 2026-07-28 client never gets -32042 (that revision removed it): one that declares no URL elicitation gets the clickable link, even when the grant declared it in a 2025 initialize', async () => {
    const bob = await signIn(stack.url, 'bob');
    // A 2025-era client on the same grant declares URL elicitation (remembered per grant).
    const init = await mcpCall(stack.mcpUrl, initializeBody({ elicitation: { url: {} } }), {
      authorization: `Bearer ${bob.accessToken}`,
    });
    expect(init.status).toBe(200);
    const { client: v2 } = await modernClient(bob.accessToken);
    try {
      const bye = await v2.callTool({ name: 'disconnect_rally', arguments: {} });
      expect(bye.structuredContent).toMatchObject({ disconnected: true });
      const next = await v2.callTool({ name: 'get_rally_user', arguments: {} });
      expect(next.isError).toBe(true);
      expect((next.content as Array<{ text?: string }>)[0]?.text).toMatch(
        /\[Connect Rally\]\(http:\/\/127\.0\.0\.1:\d+\/connect\/[A-Za-z0-9_-]{43}\)/,
      );
    } finally {
      await v2.close();
    }
  });
});
