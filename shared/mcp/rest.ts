/**
 * The designed plain-HTTP shape: `POST /tools/<tool_name>` with the JSON
 * arguments as the body. Parse → authenticate → the one execution path
 * (shared/mcp/execute.ts: scope, arguments, policy, limits, audit) → map the
 * typed outcome to HTTP here, in this surface's one mapper (refuseRest,
 * respondOutcome, respondRestError, sendRestEdgeError): 401 + authUrl when
 * Rally is not linked, 403 insufficient_scope, 429 + Retry-After, 400
 * invalid_arguments.
 * @module
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import type { Deps } from '../services/deps.js';
import type { RequestContext } from '../http/request-context.js';
import type { EdgeError } from '../http/edge-error.js';
import { isUnavailable, respondUnavailable } from '../http/unavailable.js';
import { AddressThrottledError } from '../ratelimit/address-throttle.js';
import { authenticate, challenge, McpAuthError } from './principal.js';
import { insufficientScopeError, openExecution, type ToolOutcome } from './execute.js';
import { TOOL_DEFINITIONS } from './tools/register.js';
import { CONFIRM_TOOL } from './tools/session.tools.js';
import { errorResult } from './tools/tool-errors.js';

const TOOL_NAME = /^[a-z_]{1,64}$/;

export async function serveToolRest(deps: Deps, ctx: RequestContext, req: Request, res: Response): Promise<void> {
  const name = req.path.slice('/tools/'.length);
  if (req.method !== 'POST') return refuseRest(ctx, res, 'method_not_allowed');
  if (!TOOL_NAME.test(name) || (!TOOL_DEFINITIONS.some((t) => t.name === name) && name !== CONFIRM_TOOL))
    return refuseRest(ctx, res, 'unknown_tool');
  if (!req.is('application/json') || typeof req.body !== 'object' || req.body === null || Array.isArray(req.body))
    return refuseRest(ctx, res, 'invalid_body');
  try {
    const principal = await authenticate(deps, req);
    const execution = await openExecution(deps, ctx, principal, { toolCalls: [name] });
    respondOutcome(deps, ctx, res, await execution.call(name, req.body));
  } catch (err) {
    respondRestError(ctx, res, err);
  }
}

type RestRefusal = 'method_not_allowed' | 'unknown_tool' | 'invalid_body';

/** What the REST shape refuses before authentication. */
function refuseRest(ctx: RequestContext, res: Response, refusal: RestRefusal): void {
  switch (refusal) {
    case 'method_not_allowed':
      res.status(405).set('Allow', 'POST').json({ error: 'method_not_allowed' });
      return;
    case 'unknown_tool':
      res.status(404).json({ error: 'unknown_tool', message: 'No such tool.' });
      return;
    case 'invalid_body':
      res.status(400).json({
        error: 'invalid_request',
        message: 'The body must be a JSON object with the tool arguments.',
        requestId: ctx.requestId,
      });
      return;
  }
}

/** A body refused before the handler (bad encoding, size, JSON): 400, 413 or 415. */
export function sendRestEdgeError(err: EdgeError, res: Response): void {
  res
    .status(err.status)
    .set('Cache-Control', 'no-store')
    .json({ error: 'invalid_request', message: err.publicMessage });
}

function respondOutcome(deps: Deps, ctx: RequestContext, res: Response, outcome: ToolOutcome): void {
  const requestId = ctx.requestId;
  res.set('Cache-Control', 'no-store');
  switch (outcome.kind) {
    case 'result':
    case 'policy_denied': // a refusal the agent should read, as on /mcp: an isError tool result
      res.status(200).json(outcome.kind === 'result' ? outcome.result : errorResult(outcome.message));
      return;
    case 'unknown_tool': // a grant asking for a session-only tool
      return refuseRest(ctx, res, 'unknown_tool');
    case 'invalid_arguments':
      res.status(400).json({ error: 'invalid_arguments', message: outcome.message, requestId });
      return;
    case 'insufficient_scope':
      respondRestError(ctx, res, insufficientScopeError(deps, outcome.needed, outcome.missing));
      return;
    case 'rate_limited':
      res
        .status(429)
        .set('Retry-After', String(outcome.retryAfterSeconds))
        .json({ error: 'rate_limited', message: outcome.message, requestId });
      return;
    case 'link_required':
      res
        .status(401)
        .set(
          'WWW-Authenticate',
          challenge(deps, { error: 'invalid_token', error_description: 'Rally is not connected' }),
        )
        .json({ error: 'authorization_required', authUrl: outcome.url, message: outcome.message, requestId });
      return;
    case 'confirmation_required':
      res.status(401).json({ error: 'confirmation_required', message: outcome.message, requestId });
      return;
    default: {
      const never: never = outcome;
      throw new Error(`unhandled outcome ${JSON.stringify(never)}`);
    }
  }
}

/** The REST surface's error mapper: 400/401/403 with WWW-Authenticate for auth, 503 for outages, else a generic 500. */
export function respondRestError(ctx: RequestContext, res: Response, err: unknown): void {
  if (res.headersSent) {
    ctx.log.error('rest_request_failed_after_headers', { errName: err instanceof Error ? err.name : typeof err });
    return;
  }
  res.set('Cache-Control', 'no-store');
  if (err instanceof McpAuthError) {
    if (err.wwwAuthenticate) res.set('WWW-Authenticate', err.wwwAuthenticate);
    res.status(err.status).json({ error: err.code, message: err.publicMessage, requestId: ctx.requestId });
    return;
  }
  if (err instanceof AddressThrottledError) {
    res
      .status(429)
      .set('Retry-After', String(err.retryAfterSeconds))
      .json({ error: 'rate_limited', message: err.message, requestId: ctx.requestId }); // O24
    return;
  }
  if (isUnavailable(err)) {
    return respondUnavailable(res, ctx.log, err, (message) =>
      res.json({ error: 'temporarily_unavailable', message, requestId: ctx.requestId }),
    );
  }
  ctx.log.error('rest_request_failed', { errName: err instanceof Error ? err.name : typeof err });
  res.status(500).json({ error: 'server_error', message: 'Internal error.', requestId: ctx.requestId });
}
