/**
 * A principal's link to an upstream provider as a tool call sees it: whose it is, the one read of
 * it (through the store's per-instance cache), and its removal on disconnect. A grant with no
 * tokens is told apart from a revoked grant here: the first needs a re-link, the second a new
 * sign-in of the client.
 * @module
 */
import type { Firestore } from '@google-cloud/firestore';
import type { Clock } from '../kernel/clock.js';
import { disconnectedEvent, type AuditEvent, type AuditFields } from '../audit/audit.js';
import { getGrant } from '../store/grants.repo.js';
import { grantPrincipal, sessionPrincipal } from '../store/upstream-tokens.repo.js';
import { dropPendingLink } from '../store/sessions.repo.js';
import type { UpstreamTokenStore, StoredLink } from './link-store.js';

/** Whose link: an OAuth grant (default mode) or an agent session (session-link mode). */
export type LinkOwner =
  { readonly kind: 'grant'; readonly grantId: string } | { readonly kind: 'session'; readonly sessionHash: string };

/** The token-record principal of `owner` (shared/store/upstream-tokens.repo.ts). */
export const linkPrincipal = (owner: LinkOwner): string =>
  owner.kind === 'grant' ? grantPrincipal(owner.grantId) : sessionPrincipal(owner.sessionHash);

export interface LinkReadDeps {
  /** The store of the provider whose link is read. */
  readonly tokens: UpstreamTokenStore;
  readonly clock: Clock;
  db(): Promise<Firestore>;
}

export type LinkRead =
  /** `link` is undefined when nothing is linked (yet, or any more): a re-link helps. */
  | { readonly kind: 'read'; readonly link: StoredLink | undefined }
  /** The grant has no tokens because it was revoked (or has expired): the client must sign in again. */
  | { readonly kind: 'grant_revoked' };

/** At most one Firestore read for a linked principal; a grant without tokens costs one more. */
export async function readLink(deps: LinkReadDeps, owner: LinkOwner): Promise<LinkRead> {
  const link = await deps.tokens.read(linkPrincipal(owner));
  if (!link && owner.kind === 'grant') {
    // No tokens: either the user disconnected (re-link) or the grant was revoked.
    const grant = await getGrant(await deps.db(), owner.grantId, deps.clock.now());
    if (grant?.status !== 'active') return { kind: 'grant_revoked' };
  }
  return { kind: 'read', link };
}

/** Forgets the owner's tokens of the store's provider (D9); a session's sign-in still waiting for its code can no longer link it (L2). */
export async function unlink(deps: LinkReadDeps, owner: LinkOwner): Promise<void> {
  await deps.tokens.remove(linkPrincipal(owner));
  if (owner.kind === 'session') await dropPendingLink(await deps.db(), owner.sessionHash);
}

/**
 * The one disconnect: `disconnect_rally` and the "Your access" page's session-link rows both end a
 * link here, the owner's tokens forgotten (`unlink`) and one `<provider>_disconnected` line
 * (`rally_disconnected`).
 */
export async function disconnectLink(
  deps: LinkReadDeps & { audit(event: AuditEvent, fields?: AuditFields): void },
  owner: LinkOwner,
  fields: AuditFields = {},
  mode: string = owner.kind,
): Promise<void> {
  await unlink(deps, owner);
  const provider = deps.tokens.provider;
  deps.audit(disconnectedEvent(provider), { mode, provider, ...fields });
}
