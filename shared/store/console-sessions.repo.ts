/**
 * The signed-in browser of the connection-token pages (issue 18): created by the Rally sign-in
 * callback, found by the hash of its cookie, short-lived. It carries a CSRF token (hash) for the
 * revoke forms and a one-time creation nonce (hash) that a token creation consumes, so a repeated
 * or replayed creation POST creates nothing and shows nothing. Doc id = sha256(cookie value).
 * @module
 */
import type { Firestore } from '@google-cloud/firestore';
import { z } from 'zod';
import { sha256Id } from '../kernel/hash.js';
import { COLLECTIONS } from './collections.js';
import { stripUndefined } from './clients.repo.js';
import { withStoreRetry, zTimestamp } from './firestore-utils.js';
import { consumeOnce, docType, isExpiredDoc, readDoc } from './documents.js';

export const ConsoleSessionDoc = z.object({
  /** `rally:<Rally ObjectID>` of the signed-in user. */
  sub: z.string(),
  rallyUser: z.string(),
  /** The user's connections grant (its Rally link serves the tokens created here). */
  grantId: z.string(),
  /** sha256 of the CSRF token of this session's forms. */
  csrfHash: z.string(),
  /** sha256 of the one-time nonce of the current creation form; null once used. */
  createNonceHash: z.string().nullable(),
  createdAt: zTimestamp,
  expiresAt: zTimestamp,
});
export type ConsoleSession = z.infer<typeof ConsoleSessionDoc>;
const CONSOLE_SESSION = docType(COLLECTIONS.consoleSessions, ConsoleSessionDoc);

const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;
const path = (cookieValue: string) => `${COLLECTIONS.consoleSessions}/${sha256Id(cookieValue)}`;

export async function createConsoleSession(db: Firestore, cookieValue: string, doc: ConsoleSession): Promise<void> {
  await withStoreRetry(() => db.doc(path(cookieValue)).create(stripUndefined(doc)));
}

export async function findConsoleSession(
  db: Firestore,
  cookieValue: string | undefined,
  now: Date,
): Promise<ConsoleSession | undefined> {
  if (!cookieValue || !COOKIE_VALUE.test(cookieValue)) return undefined;
  return readDoc(db.doc(path(cookieValue)), CONSOLE_SESSION, now);
}

/** A fresh creation nonce and CSRF token for the page about to be rendered (the previous ones stop working). */
export async function rotateCreateNonce(
  db: Firestore,
  cookieValue: string,
  nonce: string,
  csrfHash: string,
): Promise<void> {
  await withStoreRetry(() => db.doc(path(cookieValue)).update({ createNonceHash: sha256Id(nonce), csrfHash }));
}

/** Spends the creation nonce exactly once: the session on success, undefined if it was used, replaced or never issued. */
export async function consumeCreateNonce(
  db: Firestore,
  cookieValue: string | undefined,
  nonce: string,
  now: Date,
): Promise<ConsoleSession | undefined> {
  if (!cookieValue || !COOKIE_VALUE.test(cookieValue)) return undefined;
  return consumeOnce<ConsoleSession, ConsoleSession | undefined>(
    db.doc(path(cookieValue)),
    CONSOLE_SESSION,
    undefined,
    (s) =>
      isExpiredDoc(s, now) || s.createNonceHash === null || s.createNonceHash !== sha256Id(nonce)
        ? { keep: undefined }
        : { spend: { update: { createNonceHash: null } }, won: s, lost: undefined },
  );
}

export async function deleteConsoleSession(db: Firestore, cookieValue: string): Promise<void> {
  if (!COOKIE_VALUE.test(cookieValue)) return;
  await withStoreRetry(() => db.doc(path(cookieValue)).delete());
}
