/**
 * The link epoch: one document whose random `tag` is replaced in the same write that ends any
 * upstream link (a grant revoked, a disconnect, a refresh the provider refused). An instance
 * that has read the tag, then read a link, knows the link is unchanged in every way that matters
 * for as long as the tag stays the same: one read confirms every link it holds
 * (shared/upstream-link/link-epoch.ts). A write that ends a link without going through here
 * (a document deleted by hand in the console) is still seen, within the link cache's record age
 * limit (docs/operating.md, Link cache).
 *
 * The tag is random rather than a counter so writers never read the document: concurrent
 * revocations are blind writes that cannot make each other's transactions retry.
 * @module
 */
import type { DocumentData, DocumentReference, Firestore, Transaction } from '@google-cloud/firestore';
import { z } from 'zod';
import { randomToken } from '../kernel/hash.js';
import { COLLECTIONS } from './collections.js';
import { zTimestamp } from './firestore-utils.js';
import { grantTokenRecordPaths } from './upstream-tokens.repo.js';

export const LINK_EPOCH_PATH = `${COLLECTIONS.linkEpoch}/current`;

/** The tag before any link was ever ended (the document does not exist yet). */
export const FIRST_LINK_EPOCH = 'none';

export const LinkEpochDoc = z.object({
  /** Random, replaced by every write that ends a link. */
  tag: z.string().min(1),
  /** When it was last replaced. */
  changedAt: zTimestamp,
});

/** A transaction or a write batch: either holds the change that ends the link. */
interface AtomicWrite {
  set(ref: DocumentReference, data: DocumentData): unknown;
}

/** The current tag from the document's decoded fields (undefined: not written yet); throws on a malformed one. */
export function parseLinkEpoch(data: Record<string, unknown> | undefined): string {
  return data === undefined ? FIRST_LINK_EPOCH : LinkEpochDoc.parse(data).tag;
}

/** Replaces the tag in the same atomic write as the change that ends a link. */
export function markLinkEnded(write: AtomicWrite, db: Firestore, now: Date): void {
  write.set(db.doc(LINK_EPOCH_PATH), { tag: randomToken(16), changedAt: now });
}

/** Deletes every provider's token record of a grant (revocation) and replaces the tag, in `t`. */
export function endGrantLinks(t: Transaction, db: Firestore, grantId: string, now: Date): void {
  for (const path of grantTokenRecordPaths(grantId)) t.delete(db.doc(path));
  markLinkEnded(t, db, now);
}
