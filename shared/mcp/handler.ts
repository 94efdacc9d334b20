/**
 * The /mcp endpoint: stateless Streamable HTTP (a fresh server and
 * transport per request; bodies were read and bounded by shared/http/body.ts,
 * G7), with the origin check (G4), the protocol
 * revision check before authentication (M5) and authentication (I1–I3).
 * What a principal may do is decided by the one execution path,
 * shared/mcp/execute.ts; this surface only parses, and its one mapper
 * (shared/mcp/jsonrpc-errors.ts) turns outcomes and errors into JSON-RPC.
 * @module
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { forRequest, type Deps } from '../services/deps.js';
import { audit } from '../audit/audit.js';
import { createInstanceLimits } from '../ratelimit/rate-limiter.js';
import { buildRequestContext, type RequestContext } from '../http/request-context.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import { authenticate, McpAuthError, type McpPrincipal } from './principal.js';
import { buildMcpServer } from './server.js';
import { anonymousToolList, openExecution } from './execute.js';
import { respondRpcError, sendRpcRefusal, signInRequired, toMcpResult, type RpcRefusal } from './jsonrpc-errors.js';
import { registerToolCatalogue } from './tools/register.js';
import { rememberClientCapabilities, supportsUrlElicitation } from './capabilities.js';
import { serveToolRest } from './rest.js';

interface RpcMessage {
  readonly id?: string | number | null;
  readonly method?: string;
  readonly params?: { readonly name?: unknown; readonly capabilities?: unknown };
}

function messages(body: unknown): RpcMessage[] {
  const list = Array.isArray(body) ? body : [body];
  return list.filter((m): m is RpcMessage => typeof m === 'object' && m !== null);
}

function allowedOrigins(deps: Deps): Set<string> {
  return new Set([new URL(deps.config.PUBLIC_BASE_URL).origin, ...deps.config.ALLOWED_ORIGINS]);
}

/** The tools a request calls, for the scope check of the one execution path. */
const toolCallsIn = (msgs: readonly RpcMessage[]): string[] =>
  msgs.filter((m) => m.method === 'tools/call').map((m) => (typeof m.params?.name === 'string' ? m.params.name : ''));

export function createMcpHandler(baseDeps: Deps) {
  const origins = allowedOrigins(baseDeps);
  const instance = createInstanceLimits({ maxConcurrent: baseDeps.config.MAX_CONCURRENT_REQUESTS });
  // Built on the instance's first request, which is most likely a tool call: it needs both keys.
  void baseDeps.auth().then(
    (s) => s.prefetchKeys(),
    () => {},
  ); // a failure here is reported by the request itself
  return async (req: Request, res: Response): Promise<void> => {
    const ctx = buildRequestContext(req, baseDeps.log, baseDeps.config.GOOGLE_CLOUD_PROJECT, 'mcp');
    const deps = forRequest(baseDeps, ctx);
    res.set('X-Request-Id', ctx.requestId);
    const origin = req.get('origin');
    if (origin !== undefined && !origins.has(origin)) {
      audit(ctx.log, 'access_denied', { reason: 'origin_not_allowed' }, ctx);
      sendRpcRefusal(ctx, res, { code: 'origin_not_allowed' }); // G4
      return;
    }
    if (req.method !== 'POST') {
      sendRpcRefusal(ctx, res, { code: 'method_not_allowed' });
      return;
    }
    const release = instance.tryAcquire();
    if (!release) {
      ctx.log.warn('instance_busy', { limit: baseDeps.config.MAX_CONCURRENT_REQUESTS });
      sendRpcRefusal(ctx, res, { code: 'busy' });
      return;
    }
    res.once('close', release);
    try {
      if (req.path.startsWith('/tools/')) await serveToolRest(deps, ctx, req, res);
      else await serve(deps, ctx, req, res);
    } catch (err) {
      respondRpcError(ctx, res, err);
    } finally {
      release();
    }
  };
}

/**
 * Methods served without a token: the handshake, discovery and the tool list
 * (public information). Every tools/call needs a principal, so clients meet
 * the 401 (and run the OAuth flow) when they first use a tool.
 */
const ANONYMOUS_METHODS = new Set(['initialize', 'notifications/initialized', 'ping', 'tools/list', 'server/discover']);

/**
 * M5: a protocol revision we do not serve is answered 400 with the supported
 * ones, before authentication: a client negotiating its version (SDK v2
 * `versionNegotiation: 'auto'`, MCP Inspector) must learn this before it can
 * sign in, or it stops at "requires authorization" instead of falling back.
 */
function unsupportedProtocolVersion(req: Request, msgs: readonly RpcMessage[]): RpcRefusal | undefined {
  const requested = req.get('mcp-protocol-version');
  if (requested === undefined || SUPPORTED_PROTOCOL_VERSIONS.includes(requested)) return undefined;
  const id = msgs.length === 1 && msgs[0]!.id !== undefined ? msgs[0]!.id : null;
  return { code: 'unsupported_protocol_version', id, requested };
}

async function principalFor(deps: Deps, req: Request, msgs: readonly RpcMessage[]): Promise<McpPrincipal | undefined> {
  try {
    return await authenticate(deps, req);
  } catch (err) {
    if (
      err instanceof McpAuthError &&
      err.code === 'missing_token' &&
      msgs.length > 0 &&
      msgs.every((m) => ANONYMOUS_METHODS.has(m.method ?? ''))
    ) {
      return undefined;
    }
    throw err;
  }
}

async function serve(deps: Deps, ctx: RequestContext, req: Request, res: Response): Promise<void> {
  const msgs = messages(req.body);
  const unsupported = unsupportedProtocolVersion(req, msgs);
  if (unsupported) {
    sendRpcRefusal(ctx, res, unsupported);
    return;
  }
  const principal = await principalFor(deps, req, msgs);
  if (!principal) {
    const visible = await anonymousToolList(deps, ctx);
    return runServer(
      buildMcpServer((s) => registerToolCatalogue(s, visible, () => Promise.reject(signInRequired()))),
      req,
      res,
    );
  }
  const execution = await openExecution(deps, ctx, principal, { toolCalls: toolCallsIn(msgs) }); // 403 insufficient_scope before anything runs
  const init = msgs.find((m) => m.method === 'initialize');
  if (init) await rememberClientCapabilities(deps, principal, init.params?.capabilities);
  const call = async (name: string, args: unknown) =>
    toMcpResult(await execution.call(name, args), () => supportsUrlElicitation(deps, principal));
  return runServer(
    buildMcpServer((s) => registerToolCatalogue(s, execution.visibleTools, call)),
    req,
    res,
  );
}

async function runServer(server: McpServer, req: Request, res: Response): Promise<void> {
  // Stateless: no sessionIdGenerator, so the transport issues no Mcp-Session-Id.
  const transport = new StreamableHTTPServerTransport({});
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, req.body);
}
