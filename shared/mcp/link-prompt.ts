/**
 * "Rally is not connected" (or "GitHub is not connected": the provider the LinkRequiredError
 * names), as the surfaces need it: for a session whose sign-in waits for its confirmation code,
 * the request to ask the user for it; otherwise a fresh single-use connect link
 * (shared/session-link/connect.ts) for that provider to open, with its verification code.
 * @module
 */
import type { Deps } from '../services/deps.js';
import type { RequestContext } from '../http/request-context.js';
import { LinkRequiredError } from '../upstream/link-required.js';
import { createConnectLink, type ConnectFor, type ConnectLinkDeps } from '../session-link/connect.js';
import { getGrant } from '../store/grants.repo.js';
import { getSession } from '../store/sessions.repo.js';
import { PRIMARY_PROVIDER, PROVIDER_LABELS } from '../upstream/provider.js';
import type { McpPrincipal } from './principal.js';

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

const CONFIRMATION_REQUIRED =
  'Rally sign-in is waiting for confirmation. Ask the user for the 6-digit code shown in their browser after signing in to Rally, then call confirm_rally_link with it, then retry this request.';

/** What the prompt uses: a connect link, and the audit trail. */
export type LinkPromptDeps = ConnectLinkDeps & Pick<Deps, 'audit'>;

/** `deps` must be bound to the request (`forRequest`): the prompt audits and is throttled by address (L20). */
export async function linkPromptFor(
  deps: LinkPromptDeps,
  ctx: RequestContext,
  principal: McpPrincipal,
  linkErr: LinkRequiredError,
): Promise<LinkPrompt> {
  let err = linkErr;
  if (principal.kind === 'session' && err.reason === 'not_linked') {
    const session = await getSession(await deps.db(), principal.session.hash);
    if (session?.pending && session.pending.expiresAt > deps.clock.now())
      err = new LinkRequiredError(err.provider, 'pending_confirmation');
  }
  if (err.reason === 'pending_confirmation') return { kind: 'confirmation_required', message: CONFIRMATION_REQUIRED };
  const { provider } = err;
  if (principal.kind === 'session' && provider !== PRIMARY_PROVIDER)
    throw new Error(`session-link mode links ${PRIMARY_PROVIDER} only`); // call-context never asks (sessionCannotLink)
  const grantFields = async () => {
    const { grantId, sub } = principal.kind === 'grant' ? principal.token : { grantId: '', sub: '' };
    const clientName = (await getGrant(await deps.db(), grantId, deps.clock.now()))?.clientName ?? 'Your MCP client';
    return { grantId, sub, clientName };
  };
  const target: ConnectFor =
    principal.kind === 'grant'
      ? provider === PRIMARY_PROVIDER
        ? { kind: 'relink', ...(await grantFields()) }
        : { kind: 'connect', provider, ...(await grantFields()) }
      : {
          kind: 'session',
          sessionHash: principal.session.hash,
          clientName: 'An agent session (session-link mode)',
        };
  const connect = await createConnectLink(deps, target, ctx.agentId);
  const caller = principal.kind === 'grant' ? { clientId: principal.token.clientId, sub: principal.token.sub } : {};
  deps.audit('sign_in_started', { mode: target.kind, reason: err.reason, provider, ...caller });
  const { name, purpose } = PROVIDER_LABELS[provider];
  return {
    kind: 'link_required',
    url: connect.url,
    elicitationId: connect.elicitationId,
    elicitationMessage: `Sign in to ${name} to let this agent ${purpose}. Verification code: ${connect.verificationCode}.`,
    message:
      `${name} is not connected. Open this link to sign in: [Connect ${name}](${connect.url}) — check that the page shows the verification code ${connect.verificationCode}. ` +
      (principal.kind === 'session'
        ? 'After signing in, give the agent the 6-digit confirmation code from the page, then retry.'
        : 'After signing in, retry this request.'),
  };
}
