/**
 * Validated /authorize requests waiting for the user's consent. Single use:
 * the consent POST consumes the record in a transaction. Doc id = sha256(request id).
 * @module
 */
import type { Firestore } from '@google-cloud/firestore';
import { z } from 'zod';
import { sha256Id } from '../kernel/hash.js';
import { COLLECTIONS } from './collections.js';
import { stripUndefined } from './clients.repo.js';
import { withStoreRetry, zTimestamp } from './firestore-utils.js';
import { consumeOnce, docType, isExpiredDoc } from './documents.js';

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
const AUTH_REQUEST = docType(COLLECTIONS.authRequests, AuthRequestDoc);

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
  const missing = { ok: false, reason: 'missing' } as const;
  return consumeOnce<AuthRequest, ConsumeAuthRequestResult>(
    db.doc(authRequestPath(requestId)),
    AUTH_REQUEST,
    missing,
    (request) => {
      if (request.csrfHash !== sha256Id(csrf)) return { keep: { ok: false, reason: 'csrf_mismatch' } };
      // An expired request is spent as well: it is refused either way, and never offered again.
      const won: ConsumeAuthRequestResult = isExpiredDoc(request, now)
        ? { ok: false, reason: 'expired' }
        : { ok: true, request };
      return { spend: 'delete', won, lost: missing };
    },
  );
}
