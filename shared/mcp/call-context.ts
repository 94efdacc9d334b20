/**
 * Everything one /mcp request needs to run tools: the caller's Rally link
 * (at most one Firestore read, only when a tool is called), a Rally client bound to
 * it, and the mapping of "Rally is not connected" to a sign-in prompt:
 * URL elicitation (-32042) for clients that declared it, else a link.
 * @module
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { UrlElicitationRequiredError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Deps } from '../app/deps.js';
import type { RequestContext } from '../app/request-context.js';
import { LinkRequiredError } from '../auth/link-required.js';
import { createTokenProvider } from '../auth/token-provider.js';
import { getGrant } from '../storage/grants.repo.js';
import { grantPrincipal, sessionPrincipal, type StoredLink } from '../storage/rally-tokens.store.js';
import { createConnectLink } from '../session/connect.js';
import { registerRallyTools, TOOL_DEFINITIONS } from './tools/register.js';
import type { AuthServices } from '../app/auth-services.js';
import { checkRateLimits } from '../ratelimit/enforce.js';
import type { Policy } from '../policy/policy.js';
import { toolPolicy } from './tool-policy.js';
import { recordToolCall } from '../metrics/summary.js';
import type { ToolContext } from './tools/context.js';
import { challenge, McpAuthError, type McpPrincipal } from './auth.js';
import { supportsUrlElicitation } from './capabilities.js';
import { getSession } from '../session/sessions.repo.js';
import { sessionTools } from '../session/session.tools.js';

export interface CallContext {
  register(server: McpServer): void;
  /** Set when a tool answered "sign in first" during this request (the REST surface turns it into a 401). */
  readonly linkRequired: { url: string | undefined; pendingConfirmation: boolean } | undefined;
  /** Set when a rate limit refused a tool during this request (the REST surface turns it into a 429). */
  readonly rateLimited: { retryAfterSeconds: number } | undefined;
}

/** `deps` must be bound to the request (`forRequest`), so audit events carry its metadata. */
export async function createCallContext(deps: Deps, ctx: RequestContext, principal: McpPrincipal, o: { needsRally: boolean; surface: 'mcp' | 'rest' }): Promise<CallContext> {
  const key = principal.kind === 'grant' ? grantPrincipal(principal.token.grantId) : sessionPrincipal(principal.session.hash);
  const caller = principal.kind === 'grant' ? { clientId: principal.token.clientId, sub: principal.token.sub } : {};
  const services = await deps.auth();
  let link: StoredLink | undefined;
  let linkRequired: CallContext['linkRequired'];
  let rateLimited: CallContext['rateLimited'];
  if (o.needsRally) {
    link = await services.tokens.read(key);
    if (!link && principal.kind === 'grant') {
      // No tokens: either the user disconnected (re-link) or the grant was revoked (401, the client signs in again).
      const grant = await getGrant(await deps.db(), principal.token.grantId, deps.clock.now());
      if (grant?.status !== 'active') {
        throw new McpAuthError('invalid_token', 401, 'This authorization was revoked.', challenge(deps, { error: 'invalid_token', error_description: 'The grant was revoked' }));
      }
    }
  }
  const tokenProvider = o.needsRally
    ? createTokenProvider(services.tokens, link, (rt) => services.refreshRally(rt), deps.clock)
    : { accessToken: () => Promise.reject(new LinkRequiredError('not_linked')), refreshAfterUnauthorized: () => Promise.reject(new LinkRequiredError('not_linked')) };
  const rally = services.rallyClient({
    tokens: tokenProvider,
    labels: { requestId: ctx.requestId, ...(ctx.correlationId ? { correlationId: ctx.correlationId } : {}) },
    limiterKey: link ? `rally-user:${link.rallyUser.objectId}` : key,
    log: ctx.log,
  });
  const toolContext: ToolContext = {
    rally,
    requestId: ctx.requestId,
    log: ctx.log,
    clock: deps.clock,
    rallyWebBaseUrl: deps.config.RALLY_BASE_URL,
    disconnect: async () => {
      await services.tokens.remove(key);
      deps.audit('rally_disconnected', { mode: principal.kind, ...caller });
    },
    ...guards(deps, ctx, services, await toolPolicy(deps), caller, principal.kind === 'session' ? principal.session.hash : undefined, () => link?.rallyUser.userName, (s) => {
      rateLimited = { retryAfterSeconds: s };
    }),
  };

  const linkPrompt = async (linkErr: LinkRequiredError): Promise<CallToolResult> => {
    let err = linkErr;
    if (principal.kind === 'session' && err.reason === 'not_linked') {
      const session = await getSession(await deps.db(), principal.session.hash);
      if (session?.pending && session.pending.expiresAt > deps.clock.now()) err = new LinkRequiredError('pending_confirmation');
    }
    if (err.reason === 'pending_confirmation') {
      linkRequired = { url: undefined, pendingConfirmation: true };
      return promptText('Rally sign-in is waiting for confirmation. Ask the user for the 6-digit code shown in their browser after signing in to Rally, then call confirm_rally_link with it, then retry this request.');
    }
    const target = principal.kind === 'grant'
      ? {
          kind: 'relink' as const, grantId: principal.token.grantId, sub: principal.token.sub,
          clientName: (await getGrant(await deps.db(), principal.token.grantId, deps.clock.now()))?.clientName ?? 'Your MCP client',
        }
      : { kind: 'session' as const, sessionHash: principal.session.hash, clientName: 'An agent session (session-link mode)' };
    const connect = await createConnectLink(deps, target, ctx.agentId);
    linkRequired = { url: connect.url, pendingConfirmation: false };
    deps.audit('sign_in_started', { mode: target.kind, reason: err.reason, ...caller });
    const message = `Sign in to Rally to let this agent read and update your work items. Verification code: ${connect.verificationCode}.`;
    if (o.surface === 'mcp' && (await supportsUrlElicitation(deps, principal))) {
      throw new UrlElicitationRequiredError([{ mode: 'url', elicitationId: connect.elicitationId, url: connect.url, message }], 'Rally is not connected for this user.');
    }
    return promptText(
      `Rally is not connected. Open this link to sign in: [Connect Rally](${connect.url}) — check that the page shows the verification code ${connect.verificationCode}. ` +
      (principal.kind === 'session' ? 'After signing in, give the agent the 6-digit confirmation code from the page, then retry.' : 'After signing in, retry this request.'),
    );
  };

  return {
    get linkRequired() {
      return linkRequired;
    },
    get rateLimited() {
      return rateLimited;
    },
    register(server: McpServer) {
      registerRallyTools(server, toolContext, {
        onLinkRequired: linkPrompt,
        ...(principal.kind === 'session' ? { extraTools: sessionTools(deps, principal.session.hash) } : {}),
      });
    },
  };
}

/**
 * Policy and rate limits for one caller, and the audit of every execution.
 * Client-id rules are enforced by our tokens; agent-id rules rely on a header
 * the client asserts, so they only constrain well-behaved clients.
 */
function guards(
  deps: Deps, ctx: RequestContext, services: AuthServices, policy: Policy, caller: { clientId?: string; sub?: string }, sessionHash: string | undefined,
  rallyUser: () => string | undefined, onRateLimited: (retryAfterSeconds: number) => void,
): Pick<ToolContext, 'isToolAllowed' | 'guard' | 'onExecuted'> {
  const who = { clientId: caller.clientId, agentId: ctx.agentId };
  const isWrite = (name: string) => !(TOOL_DEFINITIONS.find((t) => t.name === name)?.readOnly ?? false);
  return {
    isToolAllowed: (name) => policy.isToolVisible({ ...who, tool: name, toolIsWrite: isWrite(name) }),
    guard: async (tool) => {
      const decision = policy.decide({ ...who, tool: tool.name, toolIsWrite: !tool.readOnly });
      if (!decision.allowed) {
        deps.audit('policy_denied', { ...caller, tool: tool.name, reason: decision.reason, policy: policy.fingerprint });
        recordToolCall(tool.name, 'denied', 0);
        const why = decision.reason === 'read_only' ? 'This agent is read-only: it cannot change Rally.' : 'This tool is not enabled for this agent.';
        return promptText(`${why} (Request ID ${ctx.requestId})`);
      }
      const limit = await checkRateLimits(services.rateLimiter, policy.limitsFor(who), {
        agentId: ctx.agentId, userKey: caller.sub ?? sessionHash, sessionHash: ctx.sessionHash,
      });
      if (!limit.allowed) {
        deps.audit('rate_limited', { ...caller, tool: tool.name, limitKind: limit.kind, limit: limit.limit, windowSeconds: limit.windowSeconds, retryAfterSeconds: limit.retryAfterSeconds });
        recordToolCall(tool.name, 'rate_limited', 0);
        onRateLimited(limit.retryAfterSeconds);
        return promptText(`Rate limit reached (${limit.limit} calls per minute per ${limit.kind}). Try again in ${limit.retryAfterSeconds} s. (Request ID ${ctx.requestId})`);
      }
      return undefined;
    },
    onExecuted: (e) => {
      const user = rallyUser();
      deps.audit('tool_executed', { ...caller, ...(user ? { rallyUser: user } : {}), tool: e.tool, outcome: e.outcome, durationMs: e.durationMs, ...(e.rallyObject ? { rallyObject: e.rallyObject } : {}), ...(e.errCode ? { errCode: e.errCode } : {}) });
      recordToolCall(e.tool, e.outcome, e.durationMs);
    },
  };
}

/** Tools for an anonymous tools/list: same definitions and policy, no Rally access (tools/call is never anonymous). */
export async function anonymousToolList(deps: Deps, ctx: RequestContext): Promise<(server: McpServer) => void> {
  const policy = await toolPolicy(deps);
  const isWrite = (name: string) => !(TOOL_DEFINITIONS.find((t) => t.name === name)?.readOnly ?? false);
  return (server) => registerToolList(server, (name) => policy.isToolVisible({ agentId: ctx.agentId, tool: name, toolIsWrite: isWrite(name) }));
}

function registerToolList(server: McpServer, isToolAllowed: (name: string) => boolean): void {
  const refuse = () => Promise.reject(new LinkRequiredError('not_linked'));
  registerRallyTools(server, {
    isToolAllowed,
    rally: new Proxy({}, { get: () => refuse }) as ToolContext['rally'],
    requestId: 'anonymous',
    log: { debug() {}, info() {}, warn() {}, error() {}, child() { return this; } },
    clock: { now: () => new Date() },
    rallyWebBaseUrl: '',
    disconnect: refuse,
  });
}

function promptText(text: string): CallToolResult {
  return { isError: true, content: [{ type: 'text', text }] };
}
