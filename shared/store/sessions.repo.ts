/**
 * Session-link mode records, by session hash (the raw session id is never
 * stored): the client's declared capabilities, and a sign-in waiting for
 * out-of-band confirmation (C3–C5) with its attempt counter.
 * @module
 */
import type { Firestore } from '@google-cloud/firestore';
import { z } from 'zod';
import { sha256Id } from '../kernel/hash.js';
import { addSeconds, isExpired } from '../kernel/clock.js';
import { COLLECTIONS } from './collections.js';
import { RallyUser } from './upstream-tokens.repo.js';
import { statusOf, transact, withStoreRetry, zTimestamp } from './firestore-utils.js';
import { docType, getDoc } from './documents.js';

export const MAX_CONFIRMATION_ATTEMPTS = 5;
const SESSION_TTL_SECONDS = 30 * 86_400;

const Pending = z.object({
  sealed: z.string(),
  rallyUser: RallyUser,
  codeHash: z.string(),
  attempts: z.number().int(),
  expiresAt: zTimestamp,
});
export const SessionDoc = z.object({
  elicitationUrl: z.boolean().optional(),
  pending: Pending.nullish(),
  createdAt: zTimestamp.optional(),
  expiresAt: zTimestamp,
});
export type SessionRecord = z.infer<typeof SessionDoc>;
const SESSION = docType(COLLECTIONS.sessions, SessionDoc);

export const sessionPath = (sessionHash: string) => `${COLLECTIONS.sessions}/${sessionHash}`;
/** What a pending sign-in's sealed tokens are bound to. */
export const pendingBinding = (sessionHash: string) => `${sessionPath(sessionHash)}#pending`;

export async function getSession(db: Firestore, sessionHash: string): Promise<SessionRecord | undefined> {
  return (await getDoc(db.doc(sessionPath(sessionHash)), SESSION))?.data;
}

export async function recordSessionCapabilities(
  db: Firestore,
  sessionHash: string,
  elicitationUrl: boolean,
  now: Date,
): Promise<void> {
  await withStoreRetry(() =>
    db
      .doc(sessionPath(sessionHash))
      .set({ elicitationUrl, expiresAt: addSeconds(now, SESSION_TTL_SECONDS) }, { merge: true }),
  );
}

export async function storePendingLink(
  db: Firestore,
  sessionHash: string,
  pending: { sealed: string; rallyUser: RallyUser; code: string; ttlSeconds: number },
  now: Date,
): Promise<void> {
  await withStoreRetry(() =>
    db.doc(sessionPath(sessionHash)).set(
      {
        pending: {
          sealed: pending.sealed,
          rallyUser: pending.rallyUser,
          codeHash: sha256Id(`confirm:${sessionHash}:${pending.code}`),
          attempts: 0,
          expiresAt: addSeconds(now, pending.ttlSeconds),
        },
        expiresAt: addSeconds(now, SESSION_TTL_SECONDS),
      },
      { merge: true },
    ),
  );
}

export type ConfirmResult =
  | { ok: true; sealed: string; rallyUser: RallyUser }
  | { ok: false; reason: 'none' | 'locked' }
  | { ok: false; reason: 'mismatch'; remaining: number };

/** Drops a pending, unconfirmed sign-in (disconnect): its confirmation code can no longer link the session (L2). */
export async function dropPendingLink(db: Firestore, sessionHash: string): Promise<void> {
  try {
    await withStoreRetry(() => db.doc(sessionPath(sessionHash)).update({ pending: null }));
  } catch (err) {
    if (statusOf(err) !== 5) throw err; // NOT_FOUND: no session, nothing pending
  }
}

/** Checks the code submitted over this session; five misses destroy the pending sign-in (C4). */
export function confirmPendingLink(
  db: Firestore,
  sessionHash: string,
  code: string,
  now: Date,
): Promise<ConfirmResult> {
  const ref = db.doc(sessionPath(sessionHash));
  return transact(db, async (t) => {
    const pending = (await getDoc(ref, SESSION, t))?.data.pending;
    if (!pending || isExpired(pending.expiresAt, now)) return { ok: false, reason: 'none' } as const;
    if (sha256Id(`confirm:${sessionHash}:${code}`) !== pending.codeHash) {
      const attempts = pending.attempts + 1;
      if (attempts >= MAX_CONFIRMATION_ATTEMPTS) {
        t.update(ref, { pending: null });
        return { ok: false, reason: 'locked' } as const;
      }
      t.update(ref, { 'pending.attempts': attempts });
      return { ok: false, reason: 'mismatch', remaining: MAX_CONFIRMATION_ATTEMPTS - attempts } as const;
    }
    t.update(ref, { pending: null });
    return { ok: true, sealed: pending.sealed, rallyUser: pending.rallyUser } as const;
  });
}
