/**
 * What one request needs to run tools for a principal: its Rally link (at
 * most one Firestore read, only when a tool is called), a Rally client bound
 * to it, a cursor codec bound to it, and the sign-in prompt for "Rally is not
 * connected". Decisions about what the principal may do are not made here:
 * see shared/mcp/execute.ts.
 * @module
 */
import type { Deps } from '../services/deps.js';
import type { RequestContext } from '../http/request-context.js';
import type { AuthServices } from '../services/auth-services.js';
import { LinkRequiredError } from '../rally/link-required.js';
import { createTokenProvider } from '../rally-link/token-provider.js';
import { getGrant } from '../store/grants.repo.js';
import { type StoredLink } from '../rally-link/link-store.js';
import { grantPrincipal, sessionPrincipal } from '../store/rally-tokens.repo.js';
import { createConnectLink } from '../session-link/connect.js';
import { dropPendingLink, getSession } from '../store/sessions.repo.js';
import { sessionTools } from './tools/session.tools.js';
import type { ToolContext } from './tools/context.js';
import type { AnyToolSpec } from './tools/spec.js';
import { createCursorCodec, deriveCursorKey } from './tools/cursor.js';
import { challenge, McpAuthError, type McpPrincipal } from './principal.js';

/** "Rally is not connected", as the surfaces need it: a link to open, or a code to wait for. */
export type LinkPrompt =
  | { readonly kind: 'confirmation_required'; readonly message: string }
  | {
      readonly kind: 'link_required';
      readonly url: string;
      readonly elicitationId: string;
      /** For URL elicitation: what the client shows next to the link. */
      readonly elicitationMessage: string;
      /** For every other client: the same, as a tool result text with a clickable link. */
      readonly message: string;
    };

export interface CallContext {
  readonly tools: ToolContext;
  /** Tools only this principal has (session-link confirmation). */
  readonly extraTools: readonly AnyToolSpec[];
  /** The Rally user name of the link, once read (audit). */
  rallyUser(): string | undefined;
  /** Creates the sign-in prompt for a tool that found no usable Rally link. */
  linkPrompt(err: LinkRequiredError): Promise<LinkPrompt>;
}

const cursorKeys = new WeakMap<AuthServices, Promise<Uint8Array>>();

/** The instance's cursor MAC key, derived once from the current sealing key (no extra secret to provision). */
function cursorKey(deps: Deps, services: AuthServices): Promise<Uint8Array> {
  let key = cursorKeys.get(services);
  if (!key) {
    const version = deps.config.SEALING_KEY_VERSIONS[0] ?? '1';
    key = services.secrets.access(deps.config.SEALING_KEY_NAME, version).then((material) => {
      try {
        return deriveCursorKey(material);
      } finally {
        material.fill(0); // the source hands out copies; drop this one
      }
    });
    key.catch(() => cursorKeys.delete(services)); // a failed load is retried by the next request
    cursorKeys.set(services, key);
  }
  return key;
}

/** `deps` must be bound to the request (`forRequest`), so audit events carry its metadata. */
export async function createCallContext(
  deps: Deps,
  ctx: RequestContext,
  principal: McpPrincipal,
  o: { needsRally: boolean },
): Promise<CallContext> {
  const key =
    principal.kind === 'grant' ? grantPrincipal(principal.token.grantId) : sessionPrincipal(principal.session.hash);
  const caller = principal.kind === 'grant' ? { clientId: principal.token.clientId, sub: principal.token.sub } : {};
  const services = await deps.auth();
  let link: StoredLink | undefined;
  if (o.needsRally) {
    link = await services.tokens.read(key);
    if (!link && principal.kind === 'grant') {
      // No tokens: either the user disconnected (re-link) or the grant was revoked (401, the client signs in again).
      const grant = await getGrant(await deps.db(), principal.token.grantId, deps.clock.now());
      if (grant?.status !== 'active') {
        throw new McpAuthError(
          'invalid_token',
          401,
          'This authorization was revoked.',
          challenge(deps, { error: 'invalid_token', error_description: 'The grant was revoked' }),
        );
      }
    }
  }
  const tokenProvider = o.needsRally
    ? createTokenProvider(services.tokens, link, (rt) => services.refreshRally(rt), deps.clock)
    : {
        accessToken: () => Promise.reject(new LinkRequiredError('not_linked')),
        refreshAfterUnauthorized: () => Promise.reject(new LinkRequiredError('not_linked')),
      };
  const rally = services.rallyClient({
    tokens: tokenProvider,
    labels: { requestId: ctx.requestId, ...(ctx.correlationId ? { correlationId: ctx.correlationId } : {}) },
    limiterKey: link ? `rally-user:${link.rallyUser.objectId}` : key,
    log: ctx.log,
  });
  const tools: ToolContext = {
    rally,
    requestId: ctx.requestId,
    log: ctx.log,
    clock: deps.clock,
    rallyWebBaseUrl: deps.config.RALLY_BASE_URL,
    cursors: createCursorCodec(() => cursorKey(deps, services), key),
    disconnect: async () => {
      await services.tokens.remove(key);
      // A sign-in still waiting for its confirmation code must not link the session after a disconnect (L2).
      if (principal.kind === 'session') await dropPendingLink(await deps.db(), principal.session.hash);
      deps.audit('rally_disconnected', { mode: principal.kind, ...caller });
    },
  };

  const linkPrompt = async (linkErr: LinkRequiredError): Promise<LinkPrompt> => {
    let err = linkErr;
    if (principal.kind === 'session' && err.reason === 'not_linked') {
      const session = await getSession(await deps.db(), principal.session.hash);
      if (session?.pending && session.pending.expiresAt > deps.clock.now())
        err = new LinkRequiredError('pending_confirmation');
    }
    if (err.reason === 'pending_confirmation') {
      return {
        kind: 'confirmation_required',
        message:
          'Rally sign-in is waiting for confirmation. Ask the user for the 6-digit code shown in their browser after signing in to Rally, then call confirm_rally_link with it, then retry this request.',
      };
    }
    const target =
      principal.kind === 'grant'
        ? {
            kind: 'relink' as const,
            grantId: principal.token.grantId,
            sub: principal.token.sub,
            clientName:
              (await getGrant(await deps.db(), principal.token.grantId, deps.clock.now()))?.clientName ??
              'Your MCP client',
          }
        : {
            kind: 'session' as const,
            sessionHash: principal.session.hash,
            clientName: 'An agent session (session-link mode)',
          };
    const connect = await createConnectLink(deps, target, ctx.agentId);
    deps.audit('sign_in_started', { mode: target.kind, reason: err.reason, ...caller });
    return {
      kind: 'link_required',
      url: connect.url,
      elicitationId: connect.elicitationId,
      elicitationMessage: `Sign in to Rally to let this agent read and update your work items. Verification code: ${connect.verificationCode}.`,
      message:
        `Rally is not connected. Open this link to sign in: [Connect Rally](${connect.url}) — check that the page shows the verification code ${connect.verificationCode}. ` +
        (principal.kind === 'session'
          ? 'After signing in, give the agent the 6-digit confirmation code from the page, then retry.'
          : 'After signing in, retry this request.'),
    };
  };

  return {
    tools,
    extraTools: principal.kind === 'session' ? sessionTools(deps, principal.session.hash) : [],
    rallyUser: () => link?.rallyUser.userName,
    linkPrompt,
  };
}
