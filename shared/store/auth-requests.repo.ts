/**
 * Validated /authorize requests waiting for the user's consent. Single use:
 * the consent POST consumes the record in a transaction. Doc id = sha256(request id).
 * @module
 */
import type { Firestore } from '@google-cloud/firestore';
import { z } from 'zod';
import { sha256Id } from '../kernel/hash.js';
import { isExpired } from '../kernel/clock.js';
import { COLLECTIONS } from './collections.js';
import { stripUndefined } from './clients.repo.js';
import { CorruptRecordError, withStoreRetry, writeIfUnchanged, zTimestamp } from './firestore-utils.js';

export const AuthRequestDoc = z.object({
  clientId: z.string(),
  clientName: z.string(),
  redirectUri: z.string(),
  codeChallenge: z.string(),
  scopes: z.array(z.string()),
  resource: z.string(),
  csrfHash: z.string(),
  /** The client's `state`, sealed to this document (it is echoed back, never stored readable). */
  sealedState: z.string().optional(),
  createdAt: zTimestamp,
  expiresAt: zTimestamp,
});
export type AuthRequest = z.infer<typeof AuthRequestDoc>;

export const authRequestPath = (requestId: string) => `${COLLECTIONS.authRequests}/${sha256Id(requestId)}`;

export async function createAuthRequest(db: Firestore, requestId: string, doc: AuthRequest): Promise<void> {
  await withStoreRetry(() => db.doc(authRequestPath(requestId)).create(stripUndefined(doc)));
}

export type ConsumeAuthRequestResult =
  { ok: true; request: AuthRequest } | { ok: false; reason: 'missing' | 'expired' | 'csrf_mismatch' };

/** Consumes the request exactly once, if the CSRF token matches and it has not expired (C10). */
export async function consumeAuthRequest(
  db: Firestore,
  requestId: string,
  csrf: string,
  now: Date,
): Promise<ConsumeAuthRequestResult> {
  const ref = db.doc(authRequestPath(requestId));
  const snap = await withStoreRetry(() => ref.get());
  if (!snap.exists || !snap.updateTime) return { ok: false, reason: 'missing' };
  const parsed = AuthRequestDoc.safeParse(snap.data());
  if (!parsed.success) throw new CorruptRecordError(COLLECTIONS.authRequests);
  if (parsed.data.csrfHash !== sha256Id(csrf)) return { ok: false, reason: 'csrf_mismatch' };
  if (!(await writeIfUnchanged(ref, snap.updateTime, { delete: true }))) return { ok: false, reason: 'missing' };
  if (isExpired(parsed.data.expiresAt, now)) return { ok: false, reason: 'expired' };
  return { ok: true, request: parsed.data };
}
