/**
 * The one way a grant or a connection token is ended on request. A grant: `POST /revoke` (the
 * client asks), the "Your access" page (the user asks, `/account`), "Revoke all" on
 * `/connections` (the user's connections grant) and the operator's command all come to
 * `endGrant`. The grant's status, its Rally tokens and the connection tokens bound to it change in
 * one transaction (`revokeGrant`), so its access tokens are refused by every MCP instance within
 * LINK_CACHE_SECONDS, its refresh tokens no longer rotate, and a re-link handed out before cannot
 * bring it back (L2). One connection token: `/connections`, `/account` and the operator's
 * command come to `endConnectionToken`. Both idempotent, both audited `token_revoked`.
 * @module
 */
import type { Deps } from '../services/deps.js';
import { revokeGrant } from '../store/grants.repo.js';
import { revokeConnectionToken } from '../store/connection-tokens.repo.js';

/**
 * Who asked: the client (RFC 7009), the user on "Your access", an operator; on `/connections`
 * the owner (one token) or the owner's "Revoke all" (their connections grant).
 */
export type RevokeRequester = 'client_request' | 'user_request' | 'operator_request' | 'owner' | 'owner_all';

export type RevocationDeps = Pick<Deps, 'db' | 'clock' | 'audit'>;

/** Ends the grant; true when this call ended it (false: already ended or unknown). */
export async function endGrant(
  deps: RevocationDeps,
  grant: { readonly grantId: string; readonly clientId: string; readonly sub?: string },
  reason: RevokeRequester,
): Promise<boolean> {
  const ended = await revokeGrant(await deps.db(), grant.grantId, deps.clock.now());
  if (ended)
    deps.audit('token_revoked', {
      reason,
      clientId: grant.clientId,
      grantId: grant.grantId,
      ...(grant.sub !== undefined ? { sub: grant.sub } : {}),
    });
  return ended;
}

/**
 * Ends one connection token; with `sub`, only if it is that user's (another user's id ends
 * nothing). True when this call ended it (false: unknown, someone else's, already revoked).
 */
export async function endConnectionToken(
  deps: RevocationDeps,
  token: { readonly tokenId: string; readonly sub?: string },
  reason: RevokeRequester,
): Promise<boolean> {
  const by = token.sub !== undefined ? { owner: token.sub } : ({ admin: true } as const);
  const ended = await revokeConnectionToken(await deps.db(), token.tokenId, by, deps.clock.now());
  if (ended)
    deps.audit('token_revoked', {
      reason,
      connectionTokenId: token.tokenId,
      ...(token.sub !== undefined ? { sub: token.sub } : {}),
    });
  return ended;
}
