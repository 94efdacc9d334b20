/**
 * Our authorization codes, stored only as sha256 hashes (E9). A redeemed
 * code is kept (marked used) until it expires, so a second successful
 * redemption is detected and revokes the grant it produced (H14); a failed
 * one leaves the code untouched (L4).
 * @module
 */
import type { Firestore } from '@google-cloud/firestore';
import { z } from 'zod';
import { sha256Id } from '../kernel/hash.js';
import { COLLECTIONS } from './collections.js';
import { withStoreRetry, zTimestamp } from './firestore-utils.js';
import { consumeOnce, docType, isExpiredDoc } from './documents.js';

export const AuthCodeDoc = z.object({
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
const AUTH_CODE = docType(COLLECTIONS.authCodes, AuthCodeDoc);

const codePath = (code: string) => `${COLLECTIONS.authCodes}/${sha256Id(code)}`;

export async function createAuthCode(db: Firestore, code: string, doc: Omit<AuthCode, 'usedAt'>): Promise<void> {
  await withStoreRetry(() => db.doc(codePath(code)).create(doc));
}

/** What the redeeming request must match; the code is consumed only when all of it does (L4). */
export interface RedemptionCheck {
  readonly clientId: string;
  readonly redirectUri: string;
  /** S256 of the presented code_verifier. */
  readonly codeChallenge: string;
}

export type RedeemRefusal = 'missing' | 'expired' | 'wrong_client' | 'wrong_redirect_uri' | 'pkce_mismatch';
export type RedeemCodeResult =
  | { ok: true; code: AuthCode }
  | { ok: false; reason: RedeemRefusal }
  | { ok: false; reason: 'reused'; grantId: string };

/**
 * Marks the code used exactly once, and only for a redemption that passes
 * every check: whoever merely saw the code cannot burn it or revoke its grant
 * with a wrong client, redirect URI or verifier (L4). The checks read the same
 * snapshot the precondition write pins, so check-and-consume is atomic without
 * a transaction's lock queue (F3, F4).
 */
export async function redeemAuthCode(
  db: Firestore,
  code: string,
  expected: RedemptionCheck,
  now: Date,
): Promise<RedeemCodeResult> {
  return consumeOnce<AuthCode, RedeemCodeResult>(
    db.doc(codePath(code)),
    AUTH_CODE,
    { ok: false, reason: 'missing' },
    (stored) => {
      if (isExpiredDoc(stored, now)) return { keep: { ok: false, reason: 'expired' } };
      if (stored.clientId !== expected.clientId) return { keep: { ok: false, reason: 'wrong_client' } };
      if (stored.redirectUri !== expected.redirectUri) return { keep: { ok: false, reason: 'wrong_redirect_uri' } };
      if (stored.codeChallenge !== expected.codeChallenge) return { keep: { ok: false, reason: 'pkce_mismatch' } };
      // Only a redemption that would have succeeded counts as reuse (H14).
      const reused = { ok: false, reason: 'reused', grantId: stored.grantId } as const;
      if (stored.usedAt) return { keep: reused };
      // Exactly one redemption marks the code used; a concurrent second one is a reuse (H14).
      return { spend: { update: { usedAt: now } }, won: { ok: true, code: stored }, lost: reused };
    },
  );
}
