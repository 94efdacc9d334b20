/**
 * Our refresh tokens, stored only as sha256 hashes (E9), rotated on every
 * use. A rotated-out token may be presented once more within a short grace
 * window while its successor is unused (a lost response); the successor it
 * displaces is kept as a tombstone, and any other reuse, of a tombstone
 * included, revokes the whole grant (RFC 9700 §4.14, cases H18 and L3).
 * @module
 */
import type { DocumentSnapshot, Firestore } from '@google-cloud/firestore';
import { z } from 'zod';
import { sha256Id } from '../kernel/hash.js';
import { addSeconds, isExpired } from '../kernel/clock.js';
import { COLLECTIONS } from './collections.js';
import { stripUndefined } from './clients.repo.js';
import { transact, withStoreRetry, zTimestamp } from './firestore-utils.js';
import { docType, getDoc } from './documents.js';
import { grantPath } from './grants.repo.js';
import { endGrantLinks } from './link-epoch.repo.js';

export const RefreshDoc = z.object({
  grantId: z.string(),
  sub: z.string(),
  clientId: z.string(),
  scopes: z.array(z.string()),
  createdAt: zTimestamp,
  expiresAt: zTimestamp,
  /** Hash of the token that replaced this one. */
  supersededBy: z.string().optional(),
  supersededAt: zTimestamp.optional(),
  /** When this token's one lost-response retry was spent: any later use is reuse (L3). */
  retriedAt: zTimestamp.optional(),
  /** When a retry of the predecessor displaced this token: a tombstone whose use is reuse (L3). */
  displacedAt: zTimestamp.optional(),
});
export type RefreshRecord = z.infer<typeof RefreshDoc>;
const REFRESH_TOKEN = docType(COLLECTIONS.refreshTokens, RefreshDoc);

const refreshPath = (hash: string) => `${COLLECTIONS.refreshTokens}/${hash}`;

export async function createRefreshToken(
  db: Firestore,
  token: string,
  doc: Omit<RefreshRecord, 'supersededBy' | 'supersededAt' | 'retriedAt' | 'displacedAt'>,
): Promise<void> {
  await withStoreRetry(() => db.doc(refreshPath(sha256Id(token))).create(doc));
}

export async function findRefreshToken(db: Firestore, token: string): Promise<RefreshRecord | undefined> {
  return (await getDoc(db.doc(refreshPath(sha256Id(token))), REFRESH_TOKEN))?.data;
}

export type RotateResult =
  | { ok: true; record: RefreshRecord }
  | { ok: false; reason: 'missing' | 'expired' | 'wrong_client' | 'grant_inactive' | 'scope_not_granted' }
  | { ok: false; reason: 'reused'; grantId: string };

export interface RotateOptions {
  readonly clientId: string;
  readonly now: Date;
  readonly graceSeconds: number;
  readonly ttlSeconds: number;
  /** Scopes the refresh asks for; checked before anything is written, so a refused refresh burns nothing (L17). */
  readonly requestedScopes?: readonly string[];
}

/**
 * Whether presenting `old` (already rotated out) is the one allowed retry of
 * a lost response: its successor never reached the client, so it is unused,
 * the retry was not spent yet, and the grace window is still open.
 */
function isLostResponseRetry(old: RefreshRecord, successor: DocumentSnapshot | undefined, o: RotateOptions): boolean {
  return (
    old.retriedAt === undefined &&
    successor?.exists === true &&
    successor.get('supersededBy') === undefined &&
    successor.get('displacedAt') === undefined &&
    old.supersededAt !== undefined &&
    !isExpired(addSeconds(old.supersededAt, o.graceSeconds), o.now)
  );
}

/**
 * Replaces `oldToken` by `newToken` atomically. Only the newest token of a
 * chain rotates; the one exception is a single retry of a lost response
 * (H18). That retry cannot delete the successor it displaces, because the
 * successor may be the legitimate client's and the retry a thief's (L3): the
 * successor stays as a tombstone, and presenting it, or any other token that
 * is not the newest, revokes the whole grant (RFC 9700 §4.14.2).
 */
export function rotateRefreshToken(
  db: Firestore,
  oldToken: string,
  newToken: string,
  o: RotateOptions,
): Promise<RotateResult> {
  const oldRef = db.doc(refreshPath(sha256Id(oldToken)));
  const newHash = sha256Id(newToken);
  return transact(db, async (t) => {
    const old = (await getDoc(oldRef, REFRESH_TOKEN, t))?.data;
    if (!old) return { ok: false, reason: 'missing' } as const;
    if (old.clientId !== o.clientId) return { ok: false, reason: 'wrong_client' } as const;
    if (isExpired(old.expiresAt, o.now)) return { ok: false, reason: 'expired' } as const;
    const grantRef = db.doc(grantPath(old.grantId));
    const grant = await t.get(grantRef);
    const successorRef = old.supersededBy ? db.doc(refreshPath(old.supersededBy)) : undefined;
    const successor = successorRef ? await t.get(successorRef) : undefined;
    if (!grant.exists || grant.get('status') !== 'active') return { ok: false, reason: 'grant_inactive' } as const;

    const retry = old.supersededBy !== undefined && isLostResponseRetry(old, successor, o);
    if (old.displacedAt !== undefined || (old.supersededBy !== undefined && !retry)) {
      // A token that is not the newest of its chain: assume theft, revoke everything (RFC 9700 §4.14.2).
      t.update(grantRef, { status: 'revoked', revokedAt: o.now });
      endGrantLinks(t, db, old.grantId, o.now);
      return { ok: false, reason: 'reused', grantId: old.grantId } as const;
    }
    if (o.requestedScopes && !o.requestedScopes.every((s) => old.scopes.includes(s))) {
      return { ok: false, reason: 'scope_not_granted' } as const;
    }
    if (retry && successorRef) t.update(successorRef, { displacedAt: o.now });
    t.update(oldRef, { supersededBy: newHash, supersededAt: o.now, ...(retry ? { retriedAt: o.now } : {}) });
    const record: RefreshRecord = stripUndefined({
      grantId: old.grantId,
      sub: old.sub,
      clientId: old.clientId,
      scopes: old.scopes,
      createdAt: o.now,
      expiresAt: addSeconds(o.now, o.ttlSeconds),
    });
    t.create(db.doc(refreshPath(newHash)), record);
    // lastUsedAt rides on the update the rotation makes anyway ("Your access" page; no write of its own).
    t.update(grantRef, { expiresAt: addSeconds(o.now, o.ttlSeconds), lastUsedAt: o.now });
    return { ok: true, record } as const;
  });
}
