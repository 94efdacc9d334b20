/**
 * /connect/<id> transactions: the opaque, single-use, 10-minute link a user
 * opens to (re)connect Rally. The URL carries only the id; the record holds
 * who asked. Doc id = sha256(id).
 * @module
 */
import type { Firestore } from '@google-cloud/firestore';
import { z } from 'zod';
import { sha256Id } from '../kernel/hash.js';
import { isExpired } from '../kernel/clock.js';
import { COLLECTIONS } from './collections.js';
import { stripUndefined } from './clients.repo.js';
import { CorruptRecordError, withStoreRetry, writeIfUnchanged, zTimestamp } from './firestore-utils.js';

export const ConnectTxDoc = z.object({
  kind: z.enum(['relink', 'session']),
  grantId: z.string().optional(),
  sub: z.string().optional(),
  sessionHash: z.string().optional(),
  clientName: z.string(),
  agentId: z.string().optional(),
  /** Short code shown both in the chat message and on the page (a comparison aid, not a credential). */
  verificationCode: z.string(),
  createdAt: zTimestamp,
  expiresAt: zTimestamp,
});
export type ConnectTransaction = z.infer<typeof ConnectTxDoc>;

const path = (id: string) => `${COLLECTIONS.connectTransactions}/${sha256Id(id)}`;
const ID = /^[A-Za-z0-9_-]{32,64}$/;

export async function createConnectTransaction(db: Firestore, id: string, doc: ConnectTransaction): Promise<void> {
  await withStoreRetry(() => db.doc(path(id)).create(stripUndefined(doc)));
}

export async function findConnectTransaction(
  db: Firestore,
  id: string,
  now: Date,
): Promise<ConnectTransaction | undefined> {
  if (!ID.test(id)) return undefined;
  const snap = await withStoreRetry(() => db.doc(path(id)).get());
  if (!snap.exists) return undefined;
  const parsed = ConnectTxDoc.safeParse(snap.data());
  if (!parsed.success) throw new CorruptRecordError(COLLECTIONS.connectTransactions);
  return isExpired(parsed.data.expiresAt, now) ? undefined : parsed.data;
}

/** Consumes the link exactly once (A6: unknown, expired or used → undefined). */
export async function consumeConnectTransaction(
  db: Firestore,
  id: string,
  now: Date,
): Promise<ConnectTransaction | undefined> {
  if (!ID.test(id)) return undefined;
  const ref = db.doc(path(id));
  const snap = await withStoreRetry(() => ref.get());
  if (!snap.exists || !snap.updateTime) return undefined;
  const parsed = ConnectTxDoc.safeParse(snap.data());
  if (!parsed.success) throw new CorruptRecordError(COLLECTIONS.connectTransactions);
  if (!(await writeIfUnchanged(ref, snap.updateTime, { delete: true }))) return undefined;
  return isExpired(parsed.data.expiresAt, now) ? undefined : parsed.data;
}
