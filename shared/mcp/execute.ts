/**
 * The one place that decides what a principal may do with a tool call (L1).
 *
 * Every surface — /mcp (JSON-RPC), `POST /tools/<tool>` (REST), and any later
 * protocol revision — authenticates with shared/mcp/principal.ts, then calls
 * `openExecution` and `Execution.call`, and only maps the typed
 * `ToolOutcome` to its wire format with its one error mapper. The gates run
 * here, in this order, for every call on every surface:
 *
 *   1. scope      — a write tool needs `rally.write` (I3, L1); `openExecution`
 *                   checks the whole request before anything is read, so /mcp
 *                   can answer 403 before the transport starts;
 *   2. arguments  — the tool's strict schema (J8), before any Rally call;
 *   3. policy     — read-only agents, allowed tools (shared/policy), and a
 *                   connection token's own tool allowlist (issue 18);
 *                   its project allowlist rides into the run: the tool gets a
 *                   Rally client narrowed to those projects, as its spec's
 *                   `projects` declares (shared/rally/project-scope.ts), and a
 *                   refusal there is a policy refusal like the others;
 *   4. rate limits — per agent, user and session; the session is the one
 *                   identity of shared/http/session-id.ts (L12);
 *   5. run and audit — `tool_executed` for every run, `access_denied`,
 *                   `policy_denied`, `rate_limited` for every refusal.
 *
 * A surface never checks a scope, a policy or a limit itself, and never reads
 * side flags: everything it needs to answer is in the outcome.
 * @module
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { Deps } from '../services/deps.js';
import type { RequestContext } from '../http/request-context.js';
import type { AuditEvent, AuditFields } from '../audit/audit.js';
import type { LinkRequiredError } from '../upstream/link-required.js';
import { AddressThrottledError } from '../ratelimit/address-throttle.js';
import { scopeToProjects } from '../rally/project-scope.js';
import { recordToolCall } from '../metrics/summary.js';
import type { Policy } from '../policy/policy.js';
import { checkRateLimits, type LimitCheck } from '../ratelimit/enforce.js';
import { challenge, McpAuthError, type McpPrincipal } from './principal.js';
import { createCallContext } from './call-context.js';
import type { LinkPrompt } from './link-prompt.js';
import { toolPolicy } from './tool-policy.js';
import type { ToolContext } from './tools/context.js';
import { ALL_TOOLS, enabledTools, parseToolArgs, runTool } from './tools/register.js';
import type { AnyToolSpec } from './tools/spec.js';

export const READ_SCOPE = 'rally.read';
export const WRITE_SCOPE = 'rally.write';

/** Everything a surface needs to answer one tool call; nothing else is passed on the side. */
export type ToolOutcome =
  | { readonly kind: 'result'; readonly result: CallToolResult }
  | { readonly kind: 'unknown_tool' }
  | { readonly kind: 'insufficient_scope'; readonly needed: readonly string[]; readonly missing: readonly string[] }
  | { readonly kind: 'invalid_arguments'; readonly message: string }
  | { readonly kind: 'policy_denied'; readonly message: string }
  | { readonly kind: 'rate_limited'; readonly retryAfterSeconds: number; readonly message: string }
  | LinkPrompt;

export interface Execution {
  /** The tools this principal may see (policy): tools/list. */
  readonly visibleTools: readonly AnyToolSpec[];
  /** Runs one tool call through every gate. Never throws for a refusal; throws only for failures (e.g. Firestore down). */
  call(name: string, rawArgs: unknown): Promise<ToolOutcome>;
}

/** Who is calling, as the gates see it. */
export interface ExecutionCaller {
  /** Scopes of a bearer token; undefined for principals without scopes (session-link sessions). */
  readonly scopes: readonly string[] | undefined;
  readonly clientId?: string | undefined;
  readonly sub?: string | undefined;
  readonly agentId?: string | undefined;
  /** Toolsets the client asked to list (X-Rally-Toolsets); shapes tools/list only. */
  readonly requestedToolsets?: readonly string[] | undefined;
  /** A connection token's id (issue 18): named in every audit line of its calls. */
  readonly connectionTokenId?: string | undefined;
  /** A connection token's tool allowlist; undefined: no list beyond scopes and policy. */
  readonly toolAllowlist?: readonly string[] | undefined;
  /** A connection token's project allowlist (Rally project ObjectIDs); undefined: every project the user sees. */
  readonly projectAllowlist?: readonly string[] | undefined;
}

/** The ports the gates use; `openExecution` builds the production ones, tests may build their own. */
export interface ExecutionParts {
  readonly caller: ExecutionCaller;
  readonly catalogue: readonly AnyToolSpec[];
  readonly tools: ToolContext;
  readonly policy: Policy;
  consumeRateLimits(): Promise<LimitCheck>;
  audit(event: AuditEvent, fields: AuditFields): void;
  linkPrompt(err: LinkRequiredError): Promise<LinkPrompt>;
  rallyUser(): string | undefined;
}

const isWriteTool = (name: string): boolean => !(ALL_TOOLS.find((t) => t.name === name)?.readOnly ?? true);

/** Scopes the named tool calls need: any write tool needs rally.write as well as rally.read. */
export function scopesFor(toolNames: readonly string[]): string[] {
  if (toolNames.length === 0) return [];
  return toolNames.some(isWriteTool) ? [READ_SCOPE, WRITE_SCOPE] : [READ_SCOPE];
}

const missingFrom = ({ scopes }: ExecutionCaller, needed: readonly string[]): string[] =>
  scopes === undefined ? [] : needed.filter((s) => !scopes.includes(s));

function callerOf(principal: McpPrincipal, ctx: RequestContext): ExecutionCaller {
  return principal.kind === 'grant'
    ? {
        scopes: principal.token.scopes,
        clientId: principal.token.clientId,
        sub: principal.token.sub,
        agentId: ctx.agentId,
        requestedToolsets: ctx.toolsets,
        ...(principal.connection
          ? {
              connectionTokenId: principal.connection.tokenId,
              toolAllowlist: principal.connection.tools,
              projectAllowlist: principal.connection.projects,
            }
          : {}),
      }
    : { scopes: undefined, agentId: ctx.agentId, requestedToolsets: ctx.toolsets };
}

/** The refusal every surface sends for a missing scope (403 + WWW-Authenticate, MCP authorization §Scope Challenge Handling). */
export function insufficientScopeError(
  deps: Pick<Deps, 'config'>,
  needed: readonly string[],
  missing: readonly string[],
): McpAuthError {
  return new McpAuthError(
    'insufficient_scope',
    403,
    `This tool needs the ${missing.join(' ')} scope.`,
    challenge(deps, {
      error: 'insufficient_scope',
      scope: needed.join(' '),
      error_description: `Needs ${missing.join(' ')}`,
    }),
  );
}

/**
 * Opens the execution of one request for `principal`: checks the scopes of
 * every tool the request will call (throws the 403 McpAuthError, audited,
 * before any Firestore read), then binds the Rally link, policy and limits.
 */
export async function openExecution(
  deps: Deps,
  ctx: RequestContext,
  principal: McpPrincipal,
  o: { toolCalls: readonly string[] },
): Promise<Execution> {
  const caller = callerOf(principal, ctx);
  const needed = scopesFor(o.toolCalls);
  const missing = missingFrom(caller, needed);
  if (missing.length) {
    deps.audit('access_denied', {
      reason: 'insufficient_scope',
      scope: missing.join(' '),
      ...(caller.clientId !== undefined ? { clientId: caller.clientId } : {}),
      ...(caller.connectionTokenId !== undefined ? { connectionTokenId: caller.connectionTokenId } : {}),
    });
    throw insufficientScopeError(deps, needed, missing);
  }
  const call = await createCallContext(deps, ctx, principal, { needsRally: o.toolCalls.length > 0 });
  const policy = await toolPolicy(deps);
  const services = await deps.auth();
  return createExecution({
    caller,
    catalogue: [...enabledTools(deps.config.UPSTREAM_PROVIDERS), ...call.extraTools],
    tools: call.tools,
    policy,
    consumeRateLimits: () =>
      checkRateLimits(services.rateLimiter, policy.limitsFor(caller), {
        agentId: ctx.agentId,
        userKey: caller.sub ?? (principal.kind === 'session' ? principal.session.hash : undefined),
        sessionHash: ctx.sessionHash,
      }),
    audit: (event, fields) => deps.audit(event, fields),
    linkPrompt: (err) => call.linkPrompt(err),
    rallyUser: () => call.rallyUser(),
  });
}

/** The gates in order (see the module header); exported so in-process tests run tools through the same path. */
export function createExecution(parts: ExecutionParts): Execution {
  const { caller, policy } = parts;
  const who = { clientId: caller.clientId, agentId: caller.agentId };
  const ids = {
    ...(caller.clientId ? { clientId: caller.clientId } : {}),
    ...(caller.sub ? { sub: caller.sub } : {}),
    ...(caller.connectionTokenId ? { connectionTokenId: caller.connectionTokenId } : {}),
  };
  const rid = `(Request ID ${parts.tools.requestId})`;
  const allowlisted = (tool: string) => caller.toolAllowlist?.includes(tool) ?? true;
  /**
   * The tool's context: under a project allowlist, a fresh narrowed Rally client per call (what it
   * has checked is remembered for that call only). A spec without a declaration counts as `none`.
   */
  const toolsFor = (spec: AnyToolSpec): ToolContext =>
    caller.projectAllowlist === undefined
      ? parts.tools
      : {
          ...parts.tools,
          rally: scopeToProjects(
            parts.tools.rally,
            caller.projectAllowlist,
            (spec.projects as string | undefined) === undefined || spec.projects === 'none' ? 'none' : 'scoped',
          ),
        };
  const visibleTools = parts.catalogue.filter(
    (t) =>
      allowlisted(t.name) &&
      policy.isToolVisible({
        ...who,
        requestedToolsets: caller.requestedToolsets,
        tool: t.name,
        toolIsWrite: !t.readOnly,
        toolset: t.toolset,
      }),
  );

  async function call(name: string, rawArgs: unknown): Promise<ToolOutcome> {
    const spec = parts.catalogue.find((t) => t.name === name);
    if (!spec) return { kind: 'unknown_tool' };
    const needed = scopesFor([name]);
    const missing = missingFrom(caller, needed);
    if (missing.length) {
      parts.audit('access_denied', { reason: 'insufficient_scope', scope: missing.join(' '), ...ids, tool: name });
      return { kind: 'insufficient_scope', needed, missing };
    }
    const parsed = parseToolArgs(spec, rawArgs);
    if (!parsed.ok) return { kind: 'invalid_arguments', message: parsed.message };
    if (!allowlisted(name)) {
      parts.audit('policy_denied', {
        ...ids,
        tool: name,
        reason: 'connection_token_tools',
        policy: policy.fingerprint,
      });
      recordToolCall(name, 'denied', 0);
      return { kind: 'policy_denied', message: `This connection token may not call ${name}. ${rid}` };
    }
    const decision = policy.decide({ ...who, tool: name, toolIsWrite: !spec.readOnly });
    if (!decision.allowed) {
      parts.audit('policy_denied', { ...ids, tool: name, reason: decision.reason, policy: policy.fingerprint });
      recordToolCall(name, 'denied', 0);
      const why =
        decision.reason === 'read_only'
          ? 'This agent is read-only: it cannot change Rally.'
          : `The tool ${name} is not available to this client or agent.`;
      return { kind: 'policy_denied', message: `${why} ${rid}` };
    }
    const limit = await parts.consumeRateLimits();
    if (!limit.allowed) {
      parts.audit('rate_limited', {
        ...ids,
        tool: name,
        limitKind: limit.kind,
        limit: limit.limit,
        windowSeconds: limit.windowSeconds,
        retryAfterSeconds: limit.retryAfterSeconds,
      });
      recordToolCall(name, 'rate_limited', 0);
      return {
        kind: 'rate_limited',
        retryAfterSeconds: limit.retryAfterSeconds,
        message: `Rate limit reached (${limit.limit} calls per minute per ${limit.kind}). Try again in ${limit.retryAfterSeconds} s. ${rid}`,
      };
    }
    const started = performance.now();
    const run = await runTool(spec, parsed.args, toolsFor(spec));
    if (run.kind === 'invalid_arguments') return run; // found while interpreting the arguments (a forged cursor): nothing ran
    const durationMs = performance.now() - started;
    if (run.kind === 'project_denied') {
      parts.audit('policy_denied', {
        ...ids,
        tool: name,
        reason: 'connection_token_projects',
        errCode: run.error.code,
        ...(run.error.rallyObject ? { rallyObject: run.error.rallyObject } : {}),
        policy: policy.fingerprint,
      });
      recordToolCall(name, 'denied', durationMs);
      return { kind: 'policy_denied', message: `${run.error.publicMessage} ${rid}` };
    }
    const user = parts.rallyUser();
    const outcome = run.kind === 'done' ? run.outcome : 'error';
    const errCode = run.kind === 'done' ? run.errCode : run.error.code;
    parts.audit('tool_executed', {
      ...ids,
      ...(user ? { rallyUser: user } : {}),
      tool: name,
      outcome,
      durationMs,
      ...(run.rallyObject ? { rallyObject: run.rallyObject } : {}),
      ...(errCode ? { errCode } : {}),
    });
    recordToolCall(name, outcome, durationMs);
    if (run.kind === 'link_required') return linkPromptOrThrottled(name, run.error);
    return { kind: 'result', result: run.result };
  }

  /** A sign-in prompt writes a connect transaction: an address over its L20 limit gets the rate-limit outcome instead. */
  async function linkPromptOrThrottled(name: string, err: LinkRequiredError): Promise<ToolOutcome> {
    try {
      return await parts.linkPrompt(err);
    } catch (caught) {
      if (!(caught instanceof AddressThrottledError)) throw caught;
      parts.audit('rate_limited', {
        ...ids,
        tool: name,
        limitKind: 'address',
        limit: caught.limit,
        windowSeconds: 60,
        retryAfterSeconds: caught.retryAfterSeconds,
      });
      return { kind: 'rate_limited', retryAfterSeconds: caught.retryAfterSeconds, message: `${caught.message} ${rid}` };
    }
  }

  return { visibleTools, call };
}

/** Policy-filtered tool list for an anonymous tools/list: public information, no Rally access, nothing callable. */
export async function anonymousToolList(deps: Deps, ctx: RequestContext): Promise<readonly AnyToolSpec[]> {
  const policy = await toolPolicy(deps);
  return enabledTools(deps.config.UPSTREAM_PROVIDERS).filter((t) =>
    policy.isToolVisible({
      agentId: ctx.agentId,
      requestedToolsets: ctx.toolsets,
      tool: t.name,
      toolIsWrite: !t.readOnly,
      toolset: t.toolset,
    }),
  );
}
