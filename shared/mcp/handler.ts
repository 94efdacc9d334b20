/**
 * The /mcp endpoint, both protocol eras from one URL: 2026-07-28 requests
 * (stateless by design: per-request `_meta`, `server/discover`) and 2025-era
 * ones (stateless Streamable HTTP, a fresh server and transport per request),
 * served by the SDK's `createMcpHandler` behind our gates: the origin check
 * (G4), the protocol revision check before authentication (M5) and
 * authentication (I1–I3). The SDK's handler checks neither tokens nor
 * origins. Bodies were read and bounded by shared/http/body.ts (G7) and are
 * handed over parsed. What a principal may do is decided by the one
 * execution path, shared/mcp/execute.ts; this surface only parses, and its
 * one mapper (shared/mcp/jsonrpc-errors.ts) turns outcomes and errors into
 * JSON-RPC.
 * @module
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import {
  CLIENT_CAPABILITIES_META_KEY,
  createMcpHandler as createSdkHandler,
  inputResponse,
  PROTOCOL_VERSION_META_KEY,
  type McpRequestContext,
  type McpServer,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { forRequest, type Deps } from '../services/deps.js';
import { audit } from '../audit/audit.js';
import { createInstanceLimits } from '../ratelimit/rate-limiter.js';
import { requestContextFor, type RequestContext } from '../http/request-context.js';
import { EdgeError } from '../http/edge-error.js';
import { webExchange } from '../http/fetch-bridge.js';
import { authenticate, McpAuthError, type McpPrincipal } from './principal.js';
import { buildMcpServer, MODERN_PROTOCOL_VERSION, SERVED_PROTOCOL_VERSIONS, type ProtocolEra } from './server.js';
import { anonymousToolList, openExecution } from './execute.js';
import {
  respondRpcError,
  sendRpcEdgeError,
  sendRpcRefusal,
  signInDeclined,
  signInRequired,
  toMcpResult,
  type PromptChannel,
  type RpcRefusal,
} from './jsonrpc-errors.js';
import { registerToolCatalogue } from './tools/register.js';
import { declaresUrlElicitation, rememberClientCapabilities, supportsUrlElicitation } from './capabilities.js';
import {
  createSignInRounds,
  RequestStateError,
  SIGN_IN_INPUT_KEY,
  type RoundBinding,
  type SignInRoundState,
} from './sign-in-round.js';
import { serveToolRest } from './rest.js';
import type { AnyToolSpec } from './tools/spec.js';

interface RpcMessage {
  readonly id?: string | number | null;
  readonly method?: string;
  readonly params?: { readonly name?: unknown; readonly capabilities?: unknown; readonly _meta?: unknown };
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

/**
 * The tools a request's server registers. A request that only calls tools (every 2026-07-28 tool call,
 * and a 2025-era one after its handshake) registers just the visible tools it calls: nothing in it
 * lists tools, the SDK reads only the called tool's registration (its input schema, for the
 * `Mcp-Param-*` header check) and our tools/call handler serves the call. Registering the whole
 * catalogue for each call was most of what a call kept alive while it waited on Rally (issue 16).
 */
function toolsToRegister(msgs: readonly RpcMessage[], visible: readonly AnyToolSpec[]): readonly AnyToolSpec[] {
  if (msgs.length === 0 || !msgs.every((m) => m.method === 'tools/call')) return visible;
  const called = new Set(toolCallsIn(msgs));
  return visible.filter((t) => called.has(t.name));
}

/** Builds this request's server once the SDK has decided its era. */
type ServerFor = (era: ProtocolEra) => McpServer;

/**
 * The SDK's dual-era handler, one per instance. Its factory receives the web
 * request it serves (`requestInfo`, the very object `serve` built) and looks
 * up the server our gates prepared for it; a request nobody prepared is a bug
 * and is refused (the SDK answers 500).
 */
function createEraHandler(baseDeps: Deps) {
  const prepared = new WeakMap<globalThis.Request, ServerFor>();
  const handler = createSdkHandler(
    ({ era, requestInfo }: McpRequestContext) => {
      const serverFor = requestInfo && prepared.get(requestInfo);
      if (!serverFor) throw new Error('no server prepared for this request');
      return serverFor(era);
    },
    {
      legacy: 'stateless',
      // Reporting only (the SDK's own protocol refusals and failures); the response is the SDK's.
      onerror: (err) => baseDeps.log.debug('mcp_sdk_error', { errName: err.name }),
    },
  );
  const mcpUrl = new URL('/mcp', baseDeps.config.PUBLIC_BASE_URL).href;
  return async (req: Request, res: Response, parsedBody: unknown, serverFor: ServerFor): Promise<void> => {
    const exchange = webExchange(mcpUrl, req, res);
    prepared.set(exchange.request, serverFor);
    const response = await handler.fetch(exchange.request, { parsedBody });
    await exchange.send(response);
  };
}

type EraHandler = ReturnType<typeof createEraHandler>;

export function createMcpHandler(baseDeps: Deps) {
  const origins = allowedOrigins(baseDeps);
  const eraHandler = createEraHandler(baseDeps);
  const instance = createInstanceLimits({ maxConcurrent: baseDeps.config.MAX_CONCURRENT_REQUESTS });
  // Built on the instance's first request, which is most likely a tool call: it needs both keys.
  void baseDeps.auth().then(
    (s) => s.prefetchKeys(),
    () => {},
  ); // a failure here is reported by the request itself
  return async (req: Request, res: Response): Promise<void> => {
    const ctx = requestContextFor(req, res, baseDeps.log, baseDeps.config.GOOGLE_CLOUD_PROJECT, 'mcp');
    const deps = forRequest(baseDeps, ctx);
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
      else await serve(deps, ctx, req, res, eraHandler);
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

/** A reserved key of a single request's `_meta` envelope (2026-07-28), if the request carries it. */
function envelopeValue(msgs: readonly RpcMessage[], key: string): unknown {
  const [only] = msgs;
  if (msgs.length !== 1 || only === undefined) return undefined;
  const meta = only.params?._meta;
  return typeof meta === 'object' && meta !== null ? (meta as Record<string, unknown>)[key] : undefined;
}

/** The revision a 2026-07-28-style request names in its `_meta` envelope, if it names one. */
function envelopeVersion(msgs: readonly RpcMessage[]): string | undefined {
  const version = envelopeValue(msgs, PROTOCOL_VERSION_META_KEY);
  return typeof version === 'string' ? version : undefined;
}

/**
 * Whether the SDK will serve this request as 2026-07-28: it carries the envelope's version claim,
 * or names the revision in its header (the SDK's routing rule, decided here before authentication).
 */
function claimsModernEra(req: Request, msgs: readonly RpcMessage[]): boolean {
  return envelopeVersion(msgs) !== undefined || req.get('mcp-protocol-version') === MODERN_PROTOCOL_VERSION;
}

/**
 * M5: a protocol revision we do not serve (in the MCP-Protocol-Version header
 * or the request's `_meta` envelope) is answered 400 with the supported ones,
 * before authentication: a client negotiating its version (SDK v2
 * `versionNegotiation: 'auto'`, MCP Inspector) must learn this before it can
 * sign in, or it stops at "requires authorization" instead of falling back.
 * A request in the 2026-07-28 shape is told the revisions it can name (those
 * `server/discover` lists); any other request every revision we serve.
 */
function unsupportedProtocolVersion(req: Request, msgs: readonly RpcMessage[]): RpcRefusal | undefined {
  const envelope = envelopeVersion(msgs);
  const requested = req.get('mcp-protocol-version') ?? envelope;
  if (requested === undefined || SERVED_PROTOCOL_VERSIONS.includes(requested)) return undefined;
  const [only] = msgs;
  const id = msgs.length === 1 && only?.id !== undefined ? only.id : null;
  return { code: 'unsupported_protocol_version', id, requested, envelope: envelope !== undefined };
}

async function principalFor(deps: Deps, req: Request, msgs: readonly RpcMessage[]): Promise<McpPrincipal | undefined> {
  try {
    return await authenticate(deps, req, { sessions: !claimsModernEra(req, msgs) });
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

async function serve(
  deps: Deps,
  ctx: RequestContext,
  req: Request,
  res: Response,
  eraHandler: EraHandler,
): Promise<void> {
  const msgs = messages(req.body);
  const unsupported = unsupportedProtocolVersion(req, msgs);
  if (unsupported) {
    sendRpcRefusal(ctx, res, unsupported);
    return;
  }
  const principal = await principalFor(deps, req, msgs);
  if (req.body === undefined) {
    sendRpcEdgeError(new EdgeError('malformed_json', 'The body is not valid JSON.'), res); // a POST without a body
    return;
  }
  if (!principal) {
    const visible = await anonymousToolList(deps, ctx);
    return eraHandler(req, res, req.body, () =>
      buildMcpServer((s) => registerToolCatalogue(s, visible, () => Promise.reject(signInRequired()))),
    );
  }
  const execution = await openExecution(deps, ctx, principal, { toolCalls: toolCallsIn(msgs) }); // 403 insufficient_scope before anything runs
  const init = msgs.find((m) => m.method === 'initialize');
  if (init && envelopeVersion(msgs) === undefined)
    await rememberClientCapabilities(deps, principal, init.params?.capabilities);
  const rounds = signInRoundsFor(deps, principal, msgs);
  const registered = toolsToRegister(msgs, execution.visibleTools);
  return eraHandler(req, res, req.body, (era) => {
    const channel =
      era === 'legacy'
        ? async (): Promise<PromptChannel> =>
            (await supportsUrlElicitation(deps, principal)) ? { kind: 'url_elicitation_error' } : { kind: 'link_text' }
        : async (): Promise<PromptChannel> =>
            rounds && declaresUrlElicitation(envelopeValue(msgs, CLIENT_CAPABILITIES_META_KEY))
              ? { kind: 'input_required', mintState: rounds.mint }
              : { kind: 'link_text' };
    return buildMcpServer(
      (s) =>
        registerToolCatalogue(s, registered, async (name, args, sdkCtx) => {
          if (era === 'modern' && declinedSignIn(sdkCtx)) {
            deps.audit('sign_in_failed', { reason: 'prompt_declined', tool: name });
            return signInDeclined(ctx.requestId);
          }
          return toMcpResult(await execution.call(name, args), channel);
        }),
      era === 'modern' && rounds ? rounds.verify : undefined,
    );
  });
}

/**
 * The sign-in rounds of a 2026-07-28 tools/call by a grant (the only principal such a request
 * can have): a state minted for a prompt, or one echoed back, is bound to this grant and to
 * this request's tool and arguments.
 */
function signInRoundsFor(deps: Deps, principal: McpPrincipal, msgs: readonly RpcMessage[]) {
  const [only] = msgs;
  if (principal.kind !== 'grant' || msgs.length !== 1 || only?.method !== 'tools/call') return undefined;
  const params = only.params as { name?: unknown; arguments?: unknown } | undefined;
  if (typeof params?.name !== 'string') return undefined; // the SDK refuses it (-32602)
  const { token } = principal;
  const binding: RoundBinding = {
    principal: `grant:${token.grantId}:${token.clientId}:${token.sub}`,
    tool: params.name,
    arguments: params.arguments,
  };
  // Built only when a prompt is minted or a state comes back, never on an ordinary call.
  const rounds = async () =>
    createSignInRounds({ sealer: (await deps.auth()).sealer, clock: deps.clock, db: () => deps.db() });
  return {
    mint: async () => (await rounds()).mint(binding),
    verify: async (state: string): Promise<SignInRoundState> => {
      try {
        return await (await rounds()).verify(state, binding);
      } catch (err) {
        if (err instanceof RequestStateError)
          deps.audit('access_denied', { reason: err.code, clientId: token.clientId, tool: binding.tool });
        throw err; // the SDK answers -32602 "Invalid or expired requestState"
      }
    },
  };
}

/** A retry whose verified state answers our prompt, and whose user declined or cancelled it. */
function declinedSignIn(sdkCtx: ServerContext | undefined): boolean {
  if (!sdkCtx?.mcpReq.requestState<SignInRoundState>()) return false;
  const answer = inputResponse(sdkCtx.mcpReq.inputResponses, SIGN_IN_INPUT_KEY);
  return answer.kind === 'elicit' && answer.action !== 'accept';
}
