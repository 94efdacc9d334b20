/**
 * The request context, built once at the edge: ids and labels from Copilot
 * Studio / W3C / Cloud headers, validated and never trusted for
 * authentication (they are labels), plus a child logger that carries them
 * and the Cloud Logging trace fields.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { Request, Response } from '@google-cloud/functions-framework';
import type { Logger } from '../logging/logger.js';
import { sessionIdentityOf } from './session-id.js';

/** Printable, no spaces or separators that could split a log field or header. */
const LABEL = /^[A-Za-z0-9._:@-]{1,128}$/;

export interface RequestContext {
  readonly requestId: string;
  readonly correlationId: string | undefined;
  readonly agentId: string | undefined;
  /** Toolsets the client asks to list (`X-Rally-Toolsets: planning,portfolio` or `all`): a listing preference, never a permission. */
  readonly toolsets?: readonly string[] | undefined;
  /** 16-character label of the request's session (shared/http/session-id.ts, the one derivation); raw values are never kept. */
  readonly sessionHash: string | undefined;
  readonly traceId: string | undefined;
  readonly spanId: string | undefined;
  /** X-Forwarded-For as received and the TCP peer: where the client address is read from (never logged). */
  readonly forwardedFor: string | undefined;
  readonly peerAddress: string | undefined;
  readonly log: Logger;
}

const label = (v: string | undefined): string | undefined =>
  v !== undefined && LABEL.test(v.trim()) ? v.trim() : undefined;

/** `X-Rally-Toolsets`: up to 10 lower-case names separated by commas; anything else is ignored. */
export function parseToolsets(v: string | undefined): readonly string[] | undefined {
  if (v === undefined || v.length > 200) return undefined;
  const names = v
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => /^[a-z]{1,30}$/.test(s));
  return names.length > 0 ? names.slice(0, 10) : undefined;
}

/** W3C traceparent (`00-<32 hex>-<16 hex>-<2 hex>`) or X-Cloud-Trace-Context (`<32 hex>/<decimal span>;o=1`). */
export function parseTrace(req: Request): { traceId?: string; spanId?: string } {
  const tp = req.get('traceparent');
  const m = tp ? /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/.exec(tp.trim()) : null;
  const [, traceId, spanId] = m ?? [];
  if (traceId !== undefined && spanId !== undefined) return { traceId, spanId };
  const cloud = req.get('x-cloud-trace-context');
  const c = cloud ? /^([0-9a-f]{32})(?:\/(\d{1,20}))?/.exec(cloud.trim()) : null;
  const [, cloudTraceId, cloudSpan] = c ?? [];
  if (cloudTraceId !== undefined)
    return {
      traceId: cloudTraceId,
      ...(cloudSpan ? { spanId: BigInt(cloudSpan).toString(16).padStart(16, '0') } : {}),
    };
  return {};
}

export function buildRequestContext(
  req: Request,
  base: Logger,
  projectId: string,
  functionName: string,
): RequestContext {
  const requestId = label(req.get('x-ms-client-request-id')) ?? randomUUID();
  const trace = parseTrace(req);
  const correlationId = label(req.get('x-ms-correlation-id')) ?? trace.traceId;
  const agentId = label(req.get('x-ms-copilot-agent-id'));
  const sessionHash = sessionIdentityOf(req)?.label;
  const log = base.child({
    function: functionName,
    requestId,
    correlationId,
    agentId,
    sessionHash,
    ...(trace.traceId ? { 'logging.googleapis.com/trace': `projects/${projectId}/traces/${trace.traceId}` } : {}),
    ...(trace.spanId ? { 'logging.googleapis.com/spanId': trace.spanId } : {}),
  });
  const toolsets = parseToolsets(req.get('x-rally-toolsets'));
  return {
    requestId,
    correlationId,
    agentId,
    ...(toolsets ? { toolsets } : {}),
    sessionHash,
    traceId: trace.traceId,
    spanId: trace.spanId,
    forwardedFor: req.get('x-forwarded-for'),
    peerAddress: req.socket?.remoteAddress,
    log,
  };
}

const contexts = new WeakMap<Request, RequestContext>();

/**
 * The request's context, built once per request so the function's entry and its handler log the
 * same id, and that id sent as `X-Request-Id` on whatever answers the request: every response of
 * every function, a refusal before the handler runs included, names the id its log lines carry.
 */
export function requestContextFor(
  req: Request,
  res: Response,
  base: Logger,
  projectId: string,
  functionName: string,
): RequestContext {
  let ctx = contexts.get(req);
  if (!ctx) contexts.set(req, (ctx = buildRequestContext(req, base, projectId, functionName)));
  if (!res.headersSent) res.set('X-Request-Id', ctx.requestId);
  return ctx;
}
