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
import { randomToken, sha256Id } from '../kernel/hash.js';
import { addSeconds, isExpired } from '../kernel/clock.js';
import { COLLECTIONS } from './collections.js';
import { zTimestamp } from './firestore-utils.js';
import { grantTokenRecordPaths } from './upstream-tokens.repo.js';

/** The one document (its id a hash like every other document's, F6). */
export const LINK_EPOCH_PATH = `${COLLECTIONS.linkEpoch}/${sha256Id('link_epoch')}`;

/** The tag of an absent or expired document: before any link was ended, or after a year without one. */
export const FIRST_LINK_EPOCH = 'none';

/**
 * Like every document, this one expires (TTL): a year after the last link ended. Expiry or
 * deletion reads as the tag `none`, a change like any other, so every copy is read again once.
 */
const EPOCH_TTL_SECONDS = 365 * 24 * 3600;

export const LinkEpochDoc = z.object({
  /** Random, replaced by every write that ends a link. */
  tag: z.string().min(1),
  /** When it was last replaced. */
  changedAt: zTimestamp,
  expiresAt: zTimestamp,
});

/** A transaction or a write batch: either holds the change that ends the link. */
interface AtomicWrite {
  set(ref: DocumentReference, data: DocumentData): unknown;
}

/** The current tag from the document's decoded fields (undefined: absent) at `now`; throws on a malformed one. */
export function parseLinkEpoch(data: Record<string, unknown> | undefined, now: Date): string {
  if (data === undefined) return FIRST_LINK_EPOCH;
  const doc = LinkEpochDoc.parse(data);
  return isExpired(doc.expiresAt, now) ? FIRST_LINK_EPOCH : doc.tag; // F2: TTL deletion lags
}

/** Replaces the tag in the same atomic write as the change that ends a link. */
export function markLinkEnded(write: AtomicWrite, db: Firestore, now: Date): void {
  write.set(db.doc(LINK_EPOCH_PATH), {
    tag: randomToken(16),
    changedAt: now,
    expiresAt: addSeconds(now, EPOCH_TTL_SECONDS),
  });
}

/** Deletes every provider's token record of a grant (revocation) and replaces the tag, in `t`. */
export function endGrantLinks(t: Transaction, db: Firestore, grantId: string, now: Date): void {
  for (const path of grantTokenRecordPaths(grantId)) t.delete(db.doc(path));
  markLinkEnded(t, db, now);
}
