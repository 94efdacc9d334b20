/**
 * Signed-in browsers of the "Your access" page (`/account`, issue 23): the value of a short-lived
 * cookie → the Rally user who signed in through Rally OAuth (the consent page's sign-in). Doc id
 * = sha256(cookie value); the cookie value itself is never stored. The page's CSRF token is
 * derived from the cookie value (`accountCsrfToken`), so it is bound to this browser and this user
 * and costs no write.
 * @module
 */
import type { Firestore } from '@google-cloud/firestore';
import { z } from 'zod';
import { sha256Id } from '../kernel/hash.js';
import { COLLECTIONS } from './collections.js';
import { withStoreRetry, zTimestamp } from './firestore-utils.js';
import { docType, readDoc } from './documents.js';
import { RallyUser } from './rally-tokens.repo.js';

export const AccountSessionDoc = z.object({
  /** `rally:<Rally ObjectID>`: whose grants the page lists. */
  sub: z.string(),
  rallyUser: RallyUser,
  createdAt: zTimestamp,
  expiresAt: zTimestamp,
});
export type AccountSession = z.infer<typeof AccountSessionDoc>;
const ACCOUNT_SESSION = docType(COLLECTIONS.accountSessions, AccountSessionDoc);

const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;
const path = (cookieValue: string) => `${COLLECTIONS.accountSessions}/${sha256Id(cookieValue)}`;

/** The CSRF token of the session whose cookie is `cookieValue`: unguessable without the cookie, different from the doc id. */
export const accountCsrfToken = (cookieValue: string): string => sha256Id(`account-csrf:${cookieValue}`);

export async function createAccountSession(db: Firestore, cookieValue: string, doc: AccountSession): Promise<void> {
  await withStoreRetry(() => db.doc(path(cookieValue)).create(doc));
}

/** The signed-in session of this cookie value, or undefined (none, malformed, expired). */
export async function findAccountSession(
  db: Firestore,
  cookieValue: string | undefined,
  now: Date,
): Promise<AccountSession | undefined> {
  if (!cookieValue || !COOKIE_VALUE.test(cookieValue)) return undefined;
  return readDoc(db.doc(path(cookieValue)), ACCOUNT_SESSION, now);
}

export async function deleteAccountSession(db: Firestore, cookieValue: string): Promise<void> {
  if (!COOKIE_VALUE.test(cookieValue)) return;
  await withStoreRetry(() => db.doc(path(cookieValue)).delete());
}
