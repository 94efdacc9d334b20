/**
 * Audit events: one structured log line per security-relevant action, with a
 * stable snake_case `event`, `audit: true`, and a routing label so a log sink
 * can send them to their own bucket. Cloud Functions write to stdout, where
 * `logName` cannot be set, so routing uses the special labels field:
 *   sink filter: labels.log="rally-mcp-audit"   (or jsonPayload.audit=true)
 * Copilot correlation labels travel under `metadata.copilot_*` so log-based
 * metrics can extract them (ops/metrics/*.yaml). The session id is only ever
 * the hash prefix from the request context, never the raw header value.
 * @module
 */
import type { Logger, LogFields } from '../logging/logger.js';
import { UPSTREAM_PROVIDER_IDS, type UpstreamProviderId } from '../upstream/provider.js';

/** A link to an upstream provider was removed on request: `rally_disconnected`, `github_disconnected`. */
export type DisconnectedEvent = `${UpstreamProviderId}_disconnected`;
export const disconnectedEvent = (provider: UpstreamProviderId): DisconnectedEvent => `${provider}_disconnected`;

export type AuditEvent =
  | 'tool_executed'
  | 'sign_in_started'
  | 'sign_in_completed'
  | 'consent_granted'
  | 'token_issued'
  | 'token_refreshed'
  | 'token_revoked'
  | 'access_denied'
  | 'rate_limited'
  | 'policy_denied'
  | DisconnectedEvent
  | 'session_linked'
  | 'sign_in_failed'
  | 'client_registered';

export const AUDIT_EVENTS: readonly AuditEvent[] = [
  'tool_executed',
  'sign_in_started',
  'sign_in_completed',
  'consent_granted',
  'token_issued',
  'token_refreshed',
  'token_revoked',
  'access_denied',
  'rate_limited',
  'policy_denied',
  ...UPSTREAM_PROVIDER_IDS.map(disconnectedEvent),
  'session_linked',
  'sign_in_failed',
  'client_registered',
];

export type AuditOutcome = 'success' | 'error' | 'denied' | 'rate_limited';

/** The label operators route on (`labels.log` in Cloud Logging). */
export const AUDIT_LOG_LABEL = 'rally-mcp-audit';

/** What the event is about. Every value is a label, id or number, never a secret. */
export interface AuditFields {
  readonly clientId?: string;
  readonly sub?: string;
  readonly rallyUser?: string;
  /** Which upstream provider a sign-in, link or disconnect is about (issue 19): `rally`, `github`. */
  readonly provider?: UpstreamProviderId;
  /** The login of the user at a provider other than Rally (Rally's is `rallyUser`). */
  readonly upstreamUser?: string;
  readonly tool?: string;
  readonly outcome?: AuditOutcome;
  readonly durationMs?: number;
  /** e.g. a FormattedID ("US123") or "defect/123456". */
  readonly rallyObject?: string;
  readonly errCode?: string;
  /** Short machine reason, e.g. "read_only", "insufficient_scope", "refresh_reuse". */
  readonly reason?: string;
  readonly mode?: string;
  readonly scope?: string;
  readonly grantId?: string;
  /** A connection token's public id (issue 18), never its secret. */
  readonly connectionTokenId?: string;
  readonly count?: number;
  /** rate_limited: which limit tripped, its value, window and the advised wait. */
  readonly limitKind?: 'agent' | 'user' | 'session' | 'address';
  readonly limit?: number;
  readonly windowSeconds?: number;
  readonly retryAfterSeconds?: number;
  /** Policy fingerprint (policy_denied). */
  readonly policy?: string;
}

/** The per-request labels; `RequestContext` (shared/http/request-context.ts) satisfies this. */
export interface AuditContext {
  readonly requestId?: string | undefined;
  readonly correlationId?: string | undefined;
  readonly agentId?: string | undefined;
  /** 16-character hash prefix of the session id (see request-context.ts). */
  readonly sessionHash?: string | undefined;
}

// A session hash is the 16-char base64url prefix; anything else is refused so a raw value can never slip in.
const SESSION_HASH = /^[A-Za-z0-9_-]{16}$/;
const MAX_LABEL = 200;

const clip = (v: string | undefined): string | undefined => (v === undefined ? undefined : v.slice(0, MAX_LABEL));

function metadataOf(ctx: AuditContext): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (k: string, v: string | undefined) => {
    if (v !== undefined && v !== '') out[k] = v.slice(0, MAX_LABEL);
  };
  put('copilot_agent_id', ctx.agentId);
  put('copilot_correlation_id', ctx.correlationId);
  put('copilot_client_request_id', ctx.requestId);
  put(
    'copilot_session_id',
    ctx.sessionHash !== undefined && SESSION_HASH.test(ctx.sessionHash) ? ctx.sessionHash : undefined,
  );
  return out;
}

/** WARNING for refusals and failures, INFO otherwise (so severity filters catch denials). */
export function severityOf(event: AuditEvent, outcome: AuditOutcome | undefined): 'info' | 'warn' {
  if (event === 'access_denied' || event === 'rate_limited' || event === 'policy_denied' || event === 'sign_in_failed')
    return 'warn';
  return outcome === undefined || outcome === 'success' ? 'info' : 'warn';
}

/** Builds the fields of one audit line (exported for tests and for callers that need the object). */
export function auditFields(event: AuditEvent, fields: AuditFields, ctx: AuditContext): LogFields {
  const defaultOutcome: Partial<Record<AuditEvent, AuditOutcome>> = {
    access_denied: 'denied',
    policy_denied: 'denied',
    sign_in_failed: 'error',
    rate_limited: 'rate_limited',
  };
  return {
    audit: true,
    'logging.googleapis.com/labels': { log: AUDIT_LOG_LABEL },
    metadata: metadataOf(ctx),
    clientId: clip(fields.clientId),
    sub: clip(fields.sub),
    rallyUser: clip(fields.rallyUser),
    provider: fields.provider,
    upstreamUser: clip(fields.upstreamUser),
    tool: clip(fields.tool),
    outcome: fields.outcome ?? defaultOutcome[event],
    durationMs: fields.durationMs === undefined ? undefined : Math.max(0, Math.round(fields.durationMs)),
    rallyObject: clip(fields.rallyObject),
    errCode: clip(fields.errCode),
    reason: clip(fields.reason),
    mode: clip(fields.mode),
    scope: clip(fields.scope),
    grantId: clip(fields.grantId),
    connectionTokenId: clip(fields.connectionTokenId),
    count: fields.count,
    limitKind: fields.limitKind,
    limit: fields.limit,
    windowSeconds: fields.windowSeconds,
    retryAfterSeconds: fields.retryAfterSeconds,
    policy: clip(fields.policy),
  };
}

/** Writes one audit line through the (request) logger. Never throws. */
export function audit(log: Logger, event: AuditEvent, fields: AuditFields, ctx: AuditContext): void {
  try {
    log[severityOf(event, fields.outcome)](event, auditFields(event, fields, ctx));
  } catch {
    // Logging must never break a request.
  }
}
