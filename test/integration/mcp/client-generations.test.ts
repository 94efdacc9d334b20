/**
 * One end-to-end suite, three client generations, over real HTTP on the local
 * stack: the MCP SDK's v1 client speaking 2025-06-18 and 2025-11-25, and its
 * v2 client speaking 2026-07-28. Each signs in with the SDK's own OAuth client
 * (discovery, registration, PKCE, `iss` checked by v2; the browser leg goes
 * through our consent page and the Rally sandbox's pages over HTTP), lists the
 * tools, calls every tool, meets the re-link prompt after Rally refused its
 * tokens the way its revision shows it, completes it and retries:
 *
 * | client | revision | re-link prompt |
 * |---|---|---|
 * | v1 | 2025-06-18 | the clickable link in the tool result |
 * | v1 | 2025-11-25, URL elicitation declared | error -32042 with the link |
 * | v2 | 2026-07-28, URL elicitation declared | `input_required` with a URL elicitation and a sealed `requestState`; the client's elicitation handler opens the link and the SDK retries |
 */
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
  UnauthorizedError as UnauthorizedErrorV2,
} from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { COLLECTIONS } from '../../../shared/store/collections.js';
import { depsFor, startTestStack, type TestStack } from '../../helpers/stack.js';
import { browse, DEFAULT_REDIRECT } from '../../helpers/oauth-flow.js';
import { TestProvider } from '../../helpers/sdk-oauth-provider.js';

interface ToolResult {
  readonly isError?: boolean | undefined;
  readonly content?: unknown;
  readonly structuredContent?: Record<string, unknown> | undefined;
}

/** What the suite needs of a connected client, whatever its generation. */
interface Session {
  readonly negotiated: string | undefined;
  listTools(): Promise<string[]>;
  callTool(name: string, args: Record<string, unknown>): Promise<ToolResult>;
  close(): Promise<void>;
}

/** The tests' SDK OAuth provider, plus what the v2 client keeps (SEP-2352: the authorization server the flow started with). */
class Provider extends TestProvider {
  discovery: unknown;
  saveDiscoveryState(state: unknown) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery as never;
  }
}

const LINK_IN_TEXT = /\[Connect Rally\]\((https?:\/\/[^)\s]+\/connect\/[A-Za-z0-9_-]{43})\)/;
const textOf = (r: ToolResult) => (r.content as Array<{ text?: string }> | undefined)?.[0]?.text ?? '';

/** The browser leg of a re-link: the user opens the link and signs in to Rally as `username`. */
async function completeRelink(url: string, username: string): Promise<void> {
  const done = await browse(url, { username, stopAt: 'never' });
  if (!done.body.includes('Rally is connected.')) throw new Error(`re-link did not finish: ${done.steps.join(', ')}`);
}

interface Generation {
  readonly label: string;
  readonly revision: string;
  /** Connects (and, given an authorization code, finishes sign-in) the way this generation does. */
  connect(
    provider: Provider,
    hooks: GenerationHooks,
  ): Promise<Session & { finishAuth(code: URLSearchParams): Promise<void> }>;
  /** Whether a 401 on a tool call is this generation's "sign in first". */
  isUnauthorized(err: unknown): boolean;
  /** How this generation meets the re-link prompt: the call that met it, and the link the user opens. */
  readonly prompt: 'link_text' | 'url_elicitation_error' | 'input_required';
}

interface GenerationHooks {
  readonly mcpUrl: string;
  /** v2 only: the elicitation handler's action (it opens the URL first when accepting). */
  onUrlElicitation(url: string, message: string): Promise<'accept' | 'decline'>;
  /** Every request the client sent: revision header and method. */
  readonly seen: Array<{ version: string; method: string; status: number }>;
}

function recordingFetch(seen: GenerationHooks['seen'], rewrite?: (body: Record<string, unknown>) => void) {
  return async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    let body = typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : undefined;
    if (body && rewrite) {
      rewrite(body);
      init = { ...init, body: JSON.stringify(body) };
    }
    const res = await fetch(input, init);
    const headers = new Headers(init?.headers);
    if (body)
      seen.push({
        version: headers.get('mcp-protocol-version') ?? '-',
        method: typeof body.method === 'string' ? body.method : '-',
        status: res.status,
      });
    body = undefined;
    return res;
  };
}

function v1Generation(revision: '2025-06-18' | '2025-11-25'): Generation {
  const urlElicitation = revision === '2025-11-25';
  return {
    label: `SDK v1 client, ${revision}`,
    revision,
    prompt: urlElicitation ? 'url_elicitation_error' : 'link_text',
    isUnauthorized: (err) => err instanceof UnauthorizedError,
    async connect(provider, hooks) {
      // The v1 client offers its latest revision; a 2025-06-18 client is the same client asking for that one.
      const pin = (body: Record<string, unknown>) => {
        if (body.method === 'initialize') (body.params as { protocolVersion: string }).protocolVersion = revision;
      };
      const transport = new StreamableHTTPClientTransport(new URL(hooks.mcpUrl), {
        authProvider: provider as never,
        fetch: recordingFetch(hooks.seen, pin),
      });
      const client = new Client(
        { name: `e2e-v1-${revision}`, version: '1.0.0' },
        { capabilities: urlElicitation ? { elicitation: { url: {} } } : {} },
      );
      await client.connect(transport);
      return {
        negotiated: transport.protocolVersion,
        listTools: async () => (await client.listTools()).tools.map((t) => t.name),
        callTool: async (name, args) => (await client.callTool({ name, arguments: args })) as ToolResult,
        close: () => client.close(),
        finishAuth: (params) => transport.finishAuth(params.get('code') ?? ''),
      };
    },
  };
}

const v2Generation: Generation = {
  label: 'SDK v2 client, 2026-07-28',
  revision: '2026-07-28',
  prompt: 'input_required',
  isUnauthorized: (err) => err instanceof UnauthorizedErrorV2,
  async connect(provider, hooks) {
    const transport = new TransportV2(new URL(hooks.mcpUrl), {
      authProvider: provider as never,
      fetch: recordingFetch(hooks.seen),
    });
    const client = new ClientV2(
      { name: 'e2e-v2', version: '1.0.0' },
      { versionNegotiation: { mode: 'auto' }, capabilities: { elicitation: { url: {} } } },
    );
    client.setRequestHandler('elicitation/create', async (request) => {
      const params = request.params as { mode?: string; url?: string; message?: string };
      if (params.mode !== 'url' || !params.url) return { action: 'decline' };
      return { action: await hooks.onUrlElicitation(params.url, params.message ?? '') };
    });
    await client.connect(transport);
    return {
      negotiated: client.getNegotiatedProtocolVersion(),
      listTools: async () => (await client.listTools()).tools.map((t) => t.name),
      callTool: async (name, args) => (await client.callTool({ name, arguments: args })) as ToolResult,
      close: () => client.close(),
      finishAuth: (params) => transport.finishAuth(params), // checks `iss` (RFC 9207) before redeeming
    };
  },
};

const GENERATIONS: readonly Generation[] = [v1Generation('2025-06-18'), v1Generation('2025-11-25'), v2Generation];

/**
 * Every tool of the catalogue, in an order that works on a fresh sandbox; `disconnect_rally`
 * comes last on purpose (the suite checks the prompt after it). A tool missing here fails the suite.
 */
function everyToolCall(tag: string) {
  return [
    {
      // Issue 18: a link to /connections only; the token itself never reaches the client.
      name: 'create_connection_token',
      args: {},
      check: (r: ToolResult) =>
        expect(r.structuredContent).toMatchObject({ url: expect.stringMatching(/\/connections$/) as unknown }),
    },
    {
      name: 'get_rally_user',
      args: {},
      check: (r: ToolResult) => expect(JSON.stringify(r.structuredContent)).toContain('alice@example.com'),
    },
    {
      name: 'list_rally_projects',
      args: {},
      check: (r: ToolResult) => expect(r.structuredContent).toHaveProperty('projects'),
    },
    {
      name: 'list_rally_iterations',
      args: {},
      check: (r: ToolResult) => expect(r.structuredContent).toHaveProperty('iterations'),
    },
    {
      name: 'search_rally_items',
      args: { types: ['story'] },
      check: (r: ToolResult) => expect(r.structuredContent).toHaveProperty('items'),
    },
    {
      name: 'get_rally_issue',
      args: { id: 'US1' },
      check: (r: ToolResult) => expect(r.structuredContent).toMatchObject({ item: { formattedId: 'US1' } }),
    },
    {
      name: 'create_rally_story',
      args: { name: `Story from ${tag}`, planEstimate: 3 },
      check: (r: ToolResult) =>
        expect(r.structuredContent).toMatchObject({ created: { formattedId: expect.stringMatching(/^US\d+$/) } }),
    },
    {
      name: 'create_rally_defect',
      args: { name: `Defect from ${tag}` },
      check: (r: ToolResult) =>
        expect(r.structuredContent).toMatchObject({ created: { formattedId: expect.stringMatching(/^DE\d+$/) } }),
    },
    {
      name: 'create_rally_task',
      args: { workProduct: 'US1', name: `Task from ${tag}` },
      check: (r: ToolResult) =>
        expect(r.structuredContent).toMatchObject({ created: { formattedId: expect.stringMatching(/^TA\d+$/) } }),
    },
    {
      name: 'update_rally_item',
      args: { id: 'US1', blocked: true, blockedReason: `Held by ${tag}` },
      check: (r: ToolResult) => expect(r.structuredContent).toMatchObject({ applied: false }),
    },
    {
      name: 'update_rally_item',
      args: { id: 'US1', blocked: false, confirm: true },
      check: (r: ToolResult) => expect(r.structuredContent).toMatchObject({ applied: true }),
    },
    {
      name: 'add_rally_comment',
      args: { id: 'US1', text: `Comment from ${tag}` },
      check: (r: ToolResult) => expect(r.structuredContent).toHaveProperty('postObjectId'),
    },
    {
      name: 'disconnect_rally',
      args: {},
      check: (r: ToolResult) => expect(r.structuredContent).toMatchObject({ disconnected: true }),
    },
  ];
}

describe('one end-to-end suite for every client generation (issue 16)', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack({ env: { SESSION_LINK_MODE: 'false' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  describe.each(GENERATIONS.map((g) => [g.label, g] as const))('%s', (_label, gen) => {
    it('signs in with the SDK OAuth client → tools/list → every tool → re-link prompt after Rally refused the tokens → retry', async () => {
      const seen: GenerationHooks['seen'] = [];
      const elicited: Array<{ url: string; message: string }> = [];
      const hooks: GenerationHooks = {
        mcpUrl: stack.mcpUrl,
        seen,
        onUrlElicitation: async (url, message) => {
          elicited.push({ url, message });
          await completeRelink(url, 'alice');
          return 'accept';
        },
      };
      const spentBefore = (await (await depsFor(stack).db()).collection(COLLECTIONS.spentRequestStates).get()).size;
      const provider = new Provider(DEFAULT_REDIRECT, `E2E ${gen.label}`);
      let session = await gen.connect(provider, hooks);
      expect(session.negotiated).toBe(gen.revision);

      // Sign-in: the catalogue is public, the first tool call meets 401 and the SDK runs OAuth.
      const first = await session.callTool('get_rally_user', {}).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(gen.isUnauthorized(first)).toBe(true);
      const authorizationUrl = provider.authorizationUrls.at(-1);
      expect(authorizationUrl?.searchParams.get('code_challenge_method')).toBe('S256');
      const back = await browse(authorizationUrl!.href, { username: 'alice', stopAt: DEFAULT_REDIRECT });
      const params = new URL(back.url).searchParams;
      expect(params.get('iss')).toBe(stack.url); // RFC 9207 on the authorization response
      await session.finishAuth(params);
      // A client that restarts with its tokens (what VS Code does): initialize now carries them.
      await session.close();
      session = await gen.connect(provider, hooks);

      try {
        // tools/list, then every tool.
        const listed = await session.listTools();
        const calls = everyToolCall(gen.label);
        expect([...new Set(calls.map((c) => c.name))].sort()).toEqual([...listed].sort());
        for (const call of calls) {
          const result = await session.callTool(call.name, call.args);
          expect({
            tool: call.name,
            isError: result.isError ?? false,
            text: result.isError ? textOf(result) : '',
          }).toEqual({ tool: call.name, isError: false, text: '' });
          call.check(result);
        }

        // disconnect_rally was the last tool: the next call needs a re-link, shown the way this revision shows it.
        const retried = await promptAndRetry(session, gen, elicited);
        expect(JSON.stringify(retried.structuredContent)).toContain('alice@example.com');

        // Rally refuses the re-linked tokens as well: the prompt comes again, and works again.
        stack.sandbox!.revokeGrants('alice');
        await stack.clock.advanceSeconds(2); // past the link cache, so the refusal is met at once
        const again = await promptAndRetry(session, gen, elicited);
        expect(again.isError ?? false).toBe(false);

        // What each revision saw on the wire.
        const spent = (await (await depsFor(stack).db()).collection(COLLECTIONS.spentRequestStates).get()).size;
        if (gen.revision === '2026-07-28') {
          expect(spent - spentBefore).toBe(2); // each retry echoed its state, spent once
          expect(elicited).toHaveLength(2);
          expect(elicited[0]!.message).toMatch(/Verification code: [A-Z2-9]{3}-[A-Z2-9]{3}/);
          expect(seen.every((s) => s.method === '-' || s.version === '2026-07-28')).toBe(true);
          expect(seen.some((s) => s.method === 'initialize')).toBe(false);
        } else {
          expect(spent - spentBefore).toBe(0);
          expect(elicited).toHaveLength(0);
          expect(seen.filter((s) => s.method === 'tools/call').every((s) => s.version === gen.revision)).toBe(true);
        }
      } finally {
        await session.close();
      }
    });
  });

  /** Meets the re-link prompt as `gen` shows it, completes it as its user would, and returns the retry's result. */
  async function promptAndRetry(session: Session, gen: Generation, elicited: unknown[]): Promise<ToolResult> {
    const tool = 'get_rally_user';
    if (gen.prompt === 'input_required') {
      // The v2 SDK fulfils `input_required` through the elicitation handler and retries inside this one call.
      const before = elicited.length;
      const result = await session.callTool(tool, {});
      expect(elicited).toHaveLength(before + 1);
      return result;
    }
    let link: string;
    if (gen.prompt === 'url_elicitation_error') {
      const err = (await session.callTool(tool, {}).then(
        () => undefined,
        (e: unknown) => e,
      )) as { code?: number; data?: { elicitations?: Array<{ mode: string; url: string }> } } | undefined;
      expect(err?.code).toBe(-32042);
      expect(err?.data?.elicitations?.[0]?.mode).toBe('url');
      link = err!.data!.elicitations![0]!.url;
    } else {
      const prompt = await session.callTool(tool, {});
      expect(prompt.isError).toBe(true);
      link = LINK_IN_TEXT.exec(textOf(prompt))?.[1] ?? '';
    }
    expect(link).toMatch(/\/connect\/[A-Za-z0-9_-]{43}$/);
    await completeRelink(link, 'alice');
    return session.callTool(tool, {});
  }
});
