/**
 * The one way a grant is ended on request: `POST /revoke` (the client asks), the "Your access"
 * page (the user asks, `/account`) and the operator's command all come here. The grant's status and
 * its Rally tokens change in one transaction (`revokeGrant`), so its access tokens are refused
 * by every MCP instance within LINK_CACHE_SECONDS, its refresh tokens no longer rotate, and a
 * re-link handed out before cannot bring it back (L2). Idempotent.
 * @module
 */
import type { Deps } from '../services/deps.js';
import { revokeGrant } from '../store/grants.repo.js';

/** Who asked: the client (RFC 7009), the user on the "Your access" page, or an operator. */
export type RevokeRequester = 'client_request' | 'user_request' | 'operator_request';

export type RevocationDeps = Pick<Deps, 'db' | 'clock' | 'audit'>;

/** Ends the grant; true when this call ended it (false: already ended or unknown). */
export async function endGrant(
  deps: RevocationDeps,
  grant: { readonly grantId: string; readonly clientId: string },
  reason: RevokeRequester,
): Promise<boolean> {
  const ended = await revokeGrant(await deps.db(), grant.grantId, deps.clock.now());
  if (ended) deps.audit('token_revoked', { reason, clientId: grant.clientId, grantId: grant.grantId });
  return ended;
}
