/**
 * The one mapper for JSON-RPC errors on /mcp: the transport's refusals
 * (origin, method, busy, protocol revision), the errors a request can end
 * with (authentication, address limit, outage, a bug), the edge's refusals
 * of a body, and the mapping of a tool outcome (shared/mcp/execute.ts) to a
 * tool result, -32602 for bad arguments, or URL elicitation (-32042) for
 * clients that declared it. Refusals the agent should read (policy, rate
 * limit, sign-in) are isError results with a clear text. Nothing else in
 * shared/ writes a `{ jsonrpc: '2.0', error }` or raises a ProtocolError.
 * @module
 */
import type { Response } from '@google-cloud/functions-framework';
import {
  inputRequired,
  ProtocolError,
  ProtocolErrorCode,
  UrlElicitationRequiredError,
  type CallToolResult,
  type InputRequiredResult,
} from '@modelcontextprotocol/server';
import type { EdgeError } from '../http/edge-error.js';
import type { RequestContext } from '../http/request-context.js';
import { isUnavailable, respondUnavailable } from '../http/unavailable.js';
import { AddressThrottledError } from '../ratelimit/address-throttle.js';
import type { ToolOutcome } from './execute.js';
import { McpAuthError } from './principal.js';
import { MODERN_SERVED_PROTOCOL_VERSIONS, SERVED_PROTOCOL_VERSIONS } from './server.js';
import { errorResult } from './tools/tool-errors.js';
import { SIGN_IN_INPUT_KEY } from './sign-in-round.js';

type RpcId = string | number | null;

/** Our server-defined error (JSON-RPC reserves -32000..-32099 for them); -32001 is "authentication". */
const SERVER_ERROR = -32000;
const AUTHENTICATION_ERROR = -32001;
/** JSON-RPC UnsupportedProtocolVersion (MCP 2026-07-28; SDK v2 clients read `data.supported`). */
const UNSUPPORTED_PROTOCOL_VERSION = -32022;

function jsonRpcError(id: RpcId, code: number, message: string, data?: unknown) {
  return { jsonrpc: '2.0' as const, id, error: { code, message, ...(data === undefined ? {} : { data }) } };
}

/** What the /mcp transport refuses before any MCP processing. */
export type RpcRefusal =
  /** G4: a browser origin we do not serve. */
  | { readonly code: 'origin_not_allowed' }
  /** Stateless server: no SSE stream to resume and no session to delete (405, not 401: Copilot Studio probes with GET). */
  | { readonly code: 'method_not_allowed' }
  /** The instance is at its concurrency limit. */
  | { readonly code: 'busy' }
  /**
   * M5: a protocol revision we do not serve, answered before authentication with the ones we do: to a
   * request in the 2026-07-28 shape (`envelope`), those it can name, as `server/discover` lists them.
   */
  | {
      readonly code: 'unsupported_protocol_version';
      readonly id: RpcId;
      readonly requested: string;
      readonly envelope: boolean;
    };

export function sendRpcRefusal(ctx: RequestContext, res: Response, refusal: RpcRefusal): void {
  switch (refusal.code) {
    case 'origin_not_allowed':
      res.status(403).json(jsonRpcError(null, SERVER_ERROR, 'Origin not allowed.'));
      return;
    case 'method_not_allowed':
      res
        .status(405)
        .set('Allow', 'POST')
        .json(jsonRpcError(null, SERVER_ERROR, 'Method not allowed.'));
      return;
    case 'busy':
      res
        .status(503)
        .set('Retry-After', '1')
        .json(jsonRpcError(null, SERVER_ERROR, `The server is busy. Try again shortly. (Request ID ${ctx.requestId})`));
      return;
    case 'unsupported_protocol_version': {
      const shown = refusal.requested.slice(0, 40);
      const supported = refusal.envelope ? MODERN_SERVED_PROTOCOL_VERSIONS : SERVED_PROTOCOL_VERSIONS;
      res
        .status(400)
        .set('Cache-Control', 'no-store')
        .json(
          jsonRpcError(
            refusal.id,
            UNSUPPORTED_PROTOCOL_VERSION,
            `Unsupported protocol version: ${shown} (supported versions: ${supported.join(', ')})`,
            { supported, requested: shown },
          ),
        );
      return;
    }
    default: {
      const never: never = refusal;
      throw new Error(`unhandled refusal ${JSON.stringify(never)}`);
    }
  }
}

/** A body refused before the handler: -32700 when it does not parse, -32600 otherwise. */
export function sendRpcEdgeError(err: EdgeError, res: Response): void {
  res
    .status(err.status)
    .set('Cache-Control', 'no-store')
    .json(
      jsonRpcError(
        null,
        err.code === 'malformed_json' ? ProtocolErrorCode.ParseError : ProtocolErrorCode.InvalidRequest,
        err.publicMessage,
      ),
    );
}

/** Whatever a /mcp request ended with, as HTTP + JSON-RPC: 401/403 with WWW-Authenticate, 429, 503, else 500. */
export function respondRpcError(ctx: RequestContext, res: Response, err: unknown): void {
  if (res.headersSent) {
    ctx.log.error('mcp_request_failed_after_headers', { errName: err instanceof Error ? err.name : typeof err });
    return;
  }
  if (err instanceof McpAuthError) {
    if (err.wwwAuthenticate) res.set('WWW-Authenticate', err.wwwAuthenticate);
    res
      .status(err.status)
      .set('Cache-Control', 'no-store')
      .json(jsonRpcError(null, AUTHENTICATION_ERROR, `${err.publicMessage} (Request ID ${ctx.requestId})`));
    return;
  }
  if (err instanceof AddressThrottledError) {
    res
      .status(429)
      .set({ 'Retry-After': String(err.retryAfterSeconds), 'Cache-Control': 'no-store' })
      .json(jsonRpcError(null, SERVER_ERROR, `${err.message} (Request ID ${ctx.requestId})`, err.data)); // L20
    return;
  }
  if (isUnavailable(err)) {
    return respondUnavailable(res, ctx.log, err, (message) =>
      res.json(jsonRpcError(null, ProtocolErrorCode.InternalError, `${message} (Request ID ${ctx.requestId})`)),
    );
  }
  ctx.log.error('mcp_request_failed', { errName: err instanceof Error ? err.name : typeof err });
  res
    .status(500)
    .json(jsonRpcError(null, ProtocolErrorCode.InternalError, `Internal error. (Request ID ${ctx.requestId})`));
}

/** A tools/call without a principal (the catalogue is public, calling is not): the client signs in. */
export const signInRequired = (): ProtocolError =>
  new ProtocolError(ProtocolErrorCode.InvalidRequest, 'Sign-in required.');

/** How one request can show the sign-in prompt, by protocol revision and declared capabilities. */
export type PromptChannel =
  /** A 2025-11-25 client that declared URL elicitation at initialize: error -32042. */
  | { readonly kind: 'url_elicitation_error' }
  /** A 2026-07-28 client that declares URL elicitation: `input_required` with a sealed `requestState`. */
  | { readonly kind: 'input_required'; mintState(): Promise<string> }
  /** Every other client: the clickable link in the tool result. */
  | { readonly kind: 'link_text' };

/**
 * This surface's mapping of the one execution path's outcome: a tool result,
 * -32602, or the sign-in prompt in the form the request can show
 * (`promptChannel`). 2026-07-28 removed -32042: its clients get the link as
 * a URL elicitation inside `input_required` (shared/mcp/sign-in-round.ts).
 */
export async function toMcpResult(
  outcome: ToolOutcome,
  promptChannel: () => Promise<PromptChannel>,
): Promise<CallToolResult | InputRequiredResult> {
  switch (outcome.kind) {
    case 'result':
      return outcome.result;
    case 'unknown_tool':
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'Unknown tool.');
    case 'invalid_arguments':
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, outcome.message);
    case 'insufficient_scope': // not reached: openExecution answered 403 for the whole request
      return errorResult(`This tool needs the ${outcome.missing.join(' ')} scope.`);
    case 'policy_denied':
    case 'rate_limited':
    case 'confirmation_required':
      return errorResult(outcome.message);
    case 'link_required': {
      const channel = await promptChannel();
      if (channel.kind === 'url_elicitation_error') {
        throw new UrlElicitationRequiredError(
          [
            {
              mode: 'url',
              elicitationId: outcome.elicitationId,
              url: outcome.url,
              message: outcome.elicitationMessage,
            },
          ],
          'Rally is not connected for this user.',
        );
      }
      if (channel.kind === 'input_required') {
        return inputRequired({
          inputRequests: {
            [SIGN_IN_INPUT_KEY]: inputRequired.elicitUrl({ url: outcome.url, message: outcome.elicitationMessage }),
          },
          requestState: await channel.mintState(),
        });
      }
      return errorResult(outcome.message);
    }
    default:
      return assertNever(outcome);
  }
}

/** A 2026-07-28 retry whose user declined or cancelled the sign-in: the tool does not run. */
export const signInDeclined = (requestId: string): CallToolResult =>
  errorResult(
    `The Rally sign-in was declined, so the tool did not run. Call it again to get a new sign-in link. (Request ID ${requestId})`,
  );

function assertNever(x: never): never {
  throw new Error(`unhandled outcome ${JSON.stringify(x)}`);
}
