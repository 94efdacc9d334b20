/**
 * One grant per (Rally user, MCP client) authorization. Revoking a grant
 * also deletes its Rally tokens, which is what /mcp reads for a tool call,
 * so a revocation reaches every MCP instance within LINK_CACHE_SECONDS (the
 * token store's per-instance link cache). Doc id = sha256(grant id).
 * @module
 */
import type { Firestore, Transaction } from '@google-cloud/firestore';
import { z } from 'zod';
import { sha256Id } from '../kernel/hash.js';
import { COLLECTIONS } from './collections.js';
import { stripUndefined } from './clients.repo.js';
import { transact, withStoreRetry, zTimestamp } from './firestore-utils.js';
import { docType, readDoc } from './documents.js';
import type { LinkPrecondition } from './upstream-tokens.repo.js';
import { endGrantLinks } from './link-epoch.repo.js';
import { CodedError } from '../kernel/errors.js';
import { grantTokensRevocation } from './connection-tokens.repo.js';

export const GrantDoc = z.object({
  grantId: z.string(),
  sub: z.string(),
  clientId: z.string(),
  clientName: z.string(),
  /** The redirect URI the grant's code went to (the "Your access" page names its host); absent on older grants. */
  redirectUri: z.string().optional(),
  scopes: z.array(z.string()),
  status: z.enum(['active', 'revoked']),
  /** Whether the client declared URL-mode elicitation at initialize (stateless requests cannot ask). */
  elicitationUrl: z.boolean().optional(),
  createdAt: zTimestamp,
  revokedAt: zTimestamp.optional(),
  /** The last refresh, written by the rotation's own grant update (no write of its own); absent until the first. */
  lastUsedAt: zTimestamp.optional(),
  expiresAt: zTimestamp,
});
export type Grant = z.infer<typeof GrantDoc>;
const GRANT = docType(COLLECTIONS.grants, GrantDoc);

export const grantPath = (grantId: string) => `${COLLECTIONS.grants}/${sha256Id(grantId)}`;

/** The grant, or undefined when it does not exist or has expired (F2: TTL deletion lags). */
export async function getGrant(db: Firestore, grantId: string, now: Date): Promise<Grant | undefined> {
  return readDoc(db.doc(grantPath(grantId)), GRANT, now);
}

/**
 * The user's active, unexpired grants, oldest first (the "Your access" page). Two equality
 * filters, served by Firestore's single-field indexes; a corrupt document is left out (every
 * read of it is refused anyway).
 */
export async function listActiveGrants(db: Firestore, sub: string, now: Date): Promise<Grant[]> {
  const snaps = await withStoreRetry(() =>
    db.collection(COLLECTIONS.grants).where('sub', '==', sub).where('status', '==', 'active').get(),
  );
  return snaps.docs
    .flatMap((doc) => {
      const parsed = GrantDoc.safeParse(doc.data());
      return parsed.success && parsed.data.expiresAt > now ? [parsed.data] : [];
    })
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
}

export async function createGrant(db: Firestore, grant: Grant): Promise<void> {
  await withStoreRetry(() => db.doc(grantPath(grant.grantId)).create(stripUndefined(grant)));
}

/**
 * Revokes a grant, deletes its tokens of every upstream provider and revokes its connection tokens
 * (issue 18) in one atomic write. Idempotent.
 */
export async function revokeGrant(db: Firestore, grantId: string, now: Date): Promise<boolean> {
  return transact(db, async (t) => {
    const ref = db.doc(grantPath(grantId));
    const snap = await t.get(ref);
    if (!snap.exists || snap.get('status') === 'revoked') return false;
    const revokeTokens = await grantTokensRevocation(t, db, grantId, now); // reads first, as a transaction must
    t.update(ref, { status: 'revoked', revokedAt: now });
    endGrantLinks(t, db, grantId, now);
    revokeTokens();
    return true;
  });
}

/**
 * H21: a new consent by the same user for the same client revokes the grants
 * created before it. Called when the new grant's code is redeemed, not when it
 * is issued, so a sign-in through a crafted /authorize whose code is never
 * redeemed cannot end a working grant (L16). Only older grants go: of two
 * consents redeemed in either order, the newer one survives.
 */
export async function revokeOlderGrants(
  db: Firestore,
  sub: string,
  clientId: string,
  keepGrantId: string,
  now: Date,
): Promise<number> {
  const snaps = await withStoreRetry(() =>
    db
      .collection(COLLECTIONS.grants)
      .where('sub', '==', sub)
      .where('clientId', '==', clientId)
      .where('status', '==', 'active')
      .get(),
  );
  const active = snaps.docs.flatMap((doc) => {
    const parsed = GrantDoc.safeParse(doc.data());
    return parsed.success ? [parsed.data] : []; // a corrupt grant is refused on every read anyway
  });
  const kept = active.find((g) => g.grantId === keepGrantId);
  if (!kept) return 0; // already revoked by a newer consent
  let revoked = 0;
  for (const g of active) {
    if (g.grantId !== keepGrantId && g.createdAt < kept.createdAt && (await revokeGrant(db, g.grantId, now))) revoked++;
  }
  return revoked;
}

export async function recordElicitationSupport(db: Firestore, grantId: string, elicitationUrl: boolean): Promise<void> {
  await withStoreRetry(() => db.doc(grantPath(grantId)).update({ elicitationUrl }));
}

/** The grant was revoked, has expired or does not exist: nothing may be linked to it (L2). */
export class GrantNotActiveError extends CodedError<'grant_not_active'> {
  constructor() {
    super('grant_not_active', 'the grant is not active');
    this.name = 'GrantNotActiveError';
  }
}

async function readActiveGrant(
  t: Transaction,
  db: Firestore,
  grantId: string,
  now: Date,
  sub: string | undefined,
): Promise<void> {
  const grant = await readDoc(db.doc(grantPath(grantId)), GRANT, now, t);
  if (grant?.status !== 'active' || (sub !== undefined && grant.sub !== sub)) throw new GrantNotActiveError();
}

/**
 * L2: upstream tokens may be stored for a grant only while it is active, read in the transaction
 * that stores them. revokeGrant writes the status and deletes the tokens in one transaction, so
 * either the revocation sees the new tokens and deletes them, or the link sees `revoked` and
 * stores nothing; a revoked grant never comes back. With `sub`, the grant must also still be that
 * user's (R2: a second provider's link lands only on a grant of the user who proved who they are).
 */
export const requireActiveGrant =
  (grantId: string, now: Date, sub?: string): LinkPrecondition =>
  (t, db) =>
    readActiveGrant(t, db, grantId, now, sub);

/** The same check outside a transaction, for a page that must not offer a dead link (advisory only). */
export async function isGrantActive(db: Firestore, grantId: string, now: Date): Promise<boolean> {
  return (await getGrant(db, grantId, now))?.status === 'active';
}

/** The newest active grant of `sub` for `clientId` (the connections grant of issue 18), if any. */
export async function findActiveGrant(
  db: Firestore,
  sub: string,
  clientId: string,
  now: Date,
): Promise<Grant | undefined> {
  const snaps = await withStoreRetry(() =>
    db.collection(COLLECTIONS.grants).where('sub', '==', sub).where('clientId', '==', clientId).get(),
  );
  return snaps.docs
    .flatMap((doc) => {
      const parsed = GrantDoc.safeParse(doc.data());
      return parsed.success && parsed.data.status === 'active' && parsed.data.expiresAt > now ? [parsed.data] : [];
    })
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())[0];
}

/** Moves an active grant's expiry forward (never back), so it outlives the tokens bound to it. */
export async function extendGrant(db: Firestore, grantId: string, expiresAt: Date): Promise<void> {
  await transact(db, async (t) => {
    const ref = db.doc(grantPath(grantId));
    const grant = await readDoc(ref, GRANT, new Date(0), t);
    if (grant?.status === 'active' && grant.expiresAt < expiresAt) t.update(ref, { expiresAt });
  });
}
