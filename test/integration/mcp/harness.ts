/**
 * In-process MCP server with the Rally tools, connected to the SDK's real
 * Client over an in-memory transport, with a real Rally client against the
 * real sandbox. Tool calls go through the one execution path
 * (shared/mcp/execute.ts) with a test policy, no limits and no audit.
 */
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { startRallySandbox, type RallySandboxHandle } from '../../../rally-sandbox/index.js';
import { LinkRequiredError } from '../../../shared/upstream/link-required.js';
import { createLogger } from '../../../shared/logging/logger.js';
import { systemClock } from '../../../shared/kernel/clock.js';
import { buildMcpServer } from '../../../shared/mcp/server.js';
import { githubWeb, type ToolContext } from '../../../shared/mcp/tools/context.js';
import type { GitHubClient } from '../../../shared/github/client.js';
import { ALL_TOOLS, enabledTools, registerToolCatalogue } from '../../../shared/mcp/tools/register.js';
import { createCursorCodec } from '../../../shared/mcp/tools/cursor.js';
import { createExecution } from '../../../shared/mcp/execute.js';
import { toMcpResult } from '../../../shared/mcp/jsonrpc-errors.js';
import { createPolicy } from '../../../shared/policy/policy.js';
import { createRallyClient } from '../../../shared/rally/client.js';
import { createConcurrencyLimiter } from '../../../shared/rally/concurrency.js';
import type { RallyTokenProvider } from '../../../shared/rally/ports.js';

export const WEB = 'https://rally.example.test';
/** One cursor MAC key per test process (production derives it from the sealing key). */
const cursorKey = new Uint8Array(randomBytes(32));
export const REQUEST_ID = 'req-test-1';

export function startSandbox(): Promise<RallySandboxHandle> {
  return startRallySandbox({
    clientId: 'test-client',
    clientSecret: 'test-secret',
    redirectUris: ['http://127.0.0.1/cb'],
    autoApprove: true,
  });
}

export interface Connected {
  readonly client: Client;
  readonly logs: string[];
  readonly disconnects: { count: number };
  readonly refreshes: { count: number };
  close(): Promise<void>;
}

/** A tiny token provider over sandbox-issued tokens; refresh re-issues (or fails when told to). */
function sandboxTokens(
  sandbox: RallySandboxHandle,
  user: string,
  refreshes: { count: number },
  canRefresh: boolean,
): RallyTokenProvider {
  let access = sandbox.issueTokens(user).access_token;
  return {
    accessToken: async () => access,
    refreshAfterUnauthorized: async () => {
      refreshes.count++;
      if (!canRefresh) throw new LinkRequiredError('rally', 'revoked');
      access = sandbox.issueTokens(user).access_token;
      return access;
    },
  };
}

export async function connect(
  sandbox: RallySandboxHandle,
  options: {
    user?: string;
    isToolAllowed?: (t: string) => boolean;
    canRefresh?: boolean;
    /** A connection token's project allowlist (ObjectIDs), as its principal carries it (issue 18). */
    projects?: readonly string[];
    /** A GitHub client for the GitHub tools (issue 19), e.g. over the GitHub sandbox. */
    github?: GitHubClient;
    githubWebBaseUrl?: string;
  } = {},
): Promise<Connected> {
  const logs: string[] = [];
  const log = createLogger({ level: 'debug', write: (l) => logs.push(l) });
  const refreshes = { count: 0 };
  const disconnects = { count: 0 };
  const user = options.user ?? 'alice';
  const rallyTokens = sandboxTokens(sandbox, user, refreshes, options.canRefresh ?? true);
  const rally = createRallyClient({
    baseUrl: sandbox.url,
    fetch: globalThis.fetch,
    tokens: rallyTokens,
    labels: { requestId: REQUEST_ID, correlationId: 'corr-1' },
    limiter: createConcurrencyLimiter(4),
    limiterKey: user,
    timeoutMs: 10_000,
    userAgent: 'rally-mcp/0.1.0 (integration test)',
    clock: systemClock,
    log,
    retry: { attempts: 3, baseDelayMs: 1 },
  });
  const ctx: ToolContext = {
    rally,
    requestId: REQUEST_ID,
    log,
    clock: systemClock,
    rallyWebBaseUrl: WEB,
    accessPageUrl: 'https://mcp.example.test/account',
    cursors: createCursorCodec(async () => cursorKey, `test:${user}`),
    upstreamTokens: (provider) => {
      if (provider !== 'rally') throw new Error(`no ${provider} in this harness`);
      return rallyTokens;
    },
    github: () => {
      if (!options.github) throw new Error('no github in this harness');
      return options.github;
    },
    githubWeb: githubWeb(options.githubWebBaseUrl ?? 'https://github.example.test'),
    disconnect: async () => {
      disconnects.count++;
      return { revokedAtProvider: false };
    },
  };
  const allowed = options.isToolAllowed;
  const policy = createPolicy({
    version: 1,
    defaults: allowed ? { allowedTools: ALL_TOOLS.map((t) => t.name).filter(allowed) } : {},
    clients: {},
    agents: {},
  });
  const execution = createExecution({
    caller: { scopes: undefined, ...(options.projects ? { projectAllowlist: options.projects } : {}) },
    // A Rally-only deployment's catalogue, unless the test brings GitHub (issue 19).
    catalogue: options.github ? ALL_TOOLS : enabledTools(['rally']),
    tools: ctx,
    policy,
    consumeRateLimits: async () => ({ allowed: true }),
    audit: () => {},
    linkPrompt: (err) => Promise.reject(err), // reaches the transport as a JSON-RPC error
    rallyUser: () => undefined,
  });
  const server = buildMcpServer((s) =>
    registerToolCatalogue(s, execution.visibleTools, async (name, args) =>
      toMcpResult(await execution.call(name, args), async () => ({ kind: 'link_text' })),
    ),
  );
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  const client = new Client({ name: 'integration-test', version: '1.0.0' });
  await client.connect(clientTransport);
  return {
    client,
    logs,
    disconnects,
    refreshes,
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

export interface ToolHarness {
  sandbox: RallySandboxHandle;
  /** Reconnected with fresh state before every test; a test may replace it (e.g. other options). */
  mcp: Connected;
}

/** One sandbox per test file, reset and reconnected before each test. */
export function useToolHarness(): ToolHarness {
  const h = {} as ToolHarness;
  beforeAll(async () => {
    h.sandbox = await startSandbox();
  });
  afterAll(async () => {
    await h.sandbox.stop();
  });
  beforeEach(async () => {
    h.sandbox.reset();
    h.mcp = await connect(h.sandbox);
  });
  afterEach(async () => {
    await h.mcp.close();
  });
  return h;
}

/** WSAPI requests (not OAuth) the sandbox recorded. */
export const wsapiRequests = (sandbox: RallySandboxHandle) =>
  sandbox.requests().filter((r) => r.url.startsWith('/slm/webservice/'));

export type ToolResult = Awaited<ReturnType<Client['callTool']>>;
export const textOf = (r: ToolResult): string => {
  const c = (r.content as Array<{ type: string; text?: string }>)[0];
  return c?.text ?? '';
};
