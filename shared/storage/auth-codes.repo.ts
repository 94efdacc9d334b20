/**
 * Our authorization codes, stored only as sha256 hashes (E9). A redeemed
 * code is kept (marked used) until it expires, so a second redemption is
 * detected and revokes the grant it produced (H14).
 * @module
 */
import type { Firestore } from '@google-cloud/firestore';
import { z } from 'zod';
import { sha256Id } from '../crypto/hash.js';
import { isExpired } from '../app/clock.js';
import { COLLECTIONS } from './collections.js';
import { CorruptRecordError, withStoreRetry, writeIfUnchanged, zTimestamp } from './firestore-utils.js';

const AuthCodeDoc = z.object({
  grantId: z.string(),
  sub: z.string(),
  clientId: z.string(),
  redirectUri: z.string(),
  codeChallenge: z.string(),
  scopes: z.array(z.string()),
  resource: z.string(),
  createdAt: zTimestamp,
  expiresAt: zTimestamp,
  usedAt: zTimestamp.optional(),
});
export type AuthCode = z.infer<typeof AuthCodeDoc>;

const codePath = (code: string) => `${COLLECTIONS.authCodes}/${sha256Id(code)}`;

export async function createAuthCode(db: Firestore, code: string, doc: Omit<AuthCode, 'usedAt'>): Promise<void> {
  await withStoreRetry(() => db.doc(codePath(code)).create(doc));
}

export type RedeemCodeResult = { ok: true; code: AuthCode } | { ok: false; reason: 'missing' | 'expired' } | { ok: false; reason: 'reused'; grantId: string };

/** Marks the code used exactly once. */
export async function redeemAuthCode(db: Firestore, code: string, now: Date): Promise<RedeemCodeResult> {
  const ref = db.doc(codePath(code));
  const snap = await withStoreRetry(() => ref.get());
  if (!snap.exists || !snap.updateTime) return { ok: false, reason: 'missing' };
  const parsed = AuthCodeDoc.safeParse(snap.data());
  if (!parsed.success) throw new CorruptRecordError(COLLECTIONS.authCodes);
  if (isExpired(parsed.data.expiresAt, now)) return { ok: false, reason: 'expired' };
  const reused = { ok: false, reason: 'reused', grantId: parsed.data.grantId } as const;
  if (parsed.data.usedAt) return reused;
  // Exactly one redemption marks the code used; a concurrent second one is a reuse (H14).
  return (await writeIfUnchanged(ref, snap.updateTime, { update: { usedAt: now } })) ? { ok: true, code: parsed.data } : reused;
}
