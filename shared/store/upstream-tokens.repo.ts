/**
 * The `rally_tokens` collection: one document per principal (a grant in default mode, a session
 * in session-link mode), id = sha256(principal). The sealed tokens and the refresh lease live on
 * the same document; shared/upstream-link/link-store.ts is the only writer.
 * @module
 */
import type { Firestore, Transaction } from '@google-cloud/firestore';
import { withStoreRetry, zTimestamp } from './firestore-utils.js';
import { z } from 'zod';
import { sha256Id } from '../kernel/hash.js';
import { COLLECTIONS } from './collections.js';
import { docType } from './documents.js';

export const grantPrincipal = (grantId: string) => `grant:${grantId}`;
export const sessionPrincipal = (sessionHash: string) => `session:${sessionHash}`;
export const rallyTokensPath = (principal: string) => `${COLLECTIONS.rallyTokens}/${sha256Id(principal)}`;

export const RallyUser = z.object({ objectId: z.string(), userName: z.string(), displayName: z.string().optional() });
export type RallyUser = z.infer<typeof RallyUser>;

export const RallyTokensDoc = z.object({
  principalKind: z.enum(['grant', 'session']),
  /** Session links only: `session:<session hash>`, by which the "Your access" page ends one; absent on older records. */
  principal: z.string().optional(),
  status: z.enum(['linked', 'refresh_failed']),
  sealed: z.string().nullish(),
  rallyUser: RallyUser,
  accessExpiresAt: zTimestamp,
  version: z.number().int(),
  leaseHolder: z.string().nullish(),
  leaseUntil: zTimestamp.nullish(),
  linkedAt: zTimestamp,
  updatedAt: zTimestamp,
  expiresAt: zTimestamp,
});
export type RallyTokensDoc = z.infer<typeof RallyTokensDoc>;
export const RALLY_TOKENS_DOC = docType(COLLECTIONS.rallyTokens, RallyTokensDoc);

/**
 * A read that must hold for a link to be stored, run inside the same transaction as the write
 * (e.g. "the grant is still active", L2): it throws to refuse, and a concurrent change to what it
 * read makes Firestore retry the whole transaction.
 */
export type LinkPrecondition = (t: Transaction, db: Firestore) => Promise<void>;

/** A Rally user's linked agent sessions (session-link mode), for the "Your access" page. */
export interface SessionLinkRecord {
  readonly sessionHash: string;
  readonly rallyUser: RallyUser;
  readonly linkedAt: Date;
  /** The last Rally token refresh (or the link): as close to "last used" as a stored write gets. */
  readonly updatedAt: Date;
}

/**
 * Session links of the Rally user `objectId` that are still alive. Two equality filters (single-
 * field indexes); records written before `principal` was kept cannot be ended by id and are left
 * out, as are corrupt and expired ones.
 */
export async function listSessionLinks(db: Firestore, objectId: string, now: Date): Promise<SessionLinkRecord[]> {
  const snaps = await withStoreRetry(() =>
    db
      .collection(COLLECTIONS.rallyTokens)
      .where('principalKind', '==', 'session')
      .where('rallyUser.objectId', '==', objectId)
      .get(),
  );
  return snaps.docs.flatMap((doc) => {
    const parsed = RallyTokensDoc.safeParse(doc.data());
    if (!parsed.success || parsed.data.expiresAt <= now || !parsed.data.principal?.startsWith('session:')) return [];
    const { principal, rallyUser, linkedAt, updatedAt } = parsed.data;
    return [{ sessionHash: principal.slice('session:'.length), rallyUser, linkedAt, updatedAt }];
  });
}
