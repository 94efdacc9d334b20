/**
 * The one signed-in browser of our own pages: "Your access" (`/account`, issue 23) and the
 * connection-token pages (`/connections`, issue 18). Created by the Rally sign-in callback (kind
 * `account` or `console`), found by the hash of its cookie, 15 minutes. Doc id = sha256(cookie
 * value); the cookie value itself is never stored. The CSRF token of both pages' change forms is
 * derived from the cookie value (`browserCsrfToken`), so it is bound to this browser and this user
 * and costs no write. A `console` sign-in also records the user's connections grant (its Rally
 * link serves the tokens created there) and the one-time creation nonce of the token form.
 * @module
 */
import type { Firestore } from '@google-cloud/firestore';
import { z } from 'zod';
import { sha256Id } from '../kernel/hash.js';
import { COLLECTIONS } from './collections.js';
import { stripUndefined } from './clients.repo.js';
import { withStoreRetry, zTimestamp } from './firestore-utils.js';
import { consumeOnce, docType, isExpiredDoc, readDoc } from './documents.js';
import { RallyUser } from './upstream-tokens.repo.js';

export const BrowserSessionDoc = z.object({
  /** `rally:<Rally ObjectID>` of the signed-in user: whose access and tokens the pages show. */
  sub: z.string(),
  rallyUser: RallyUser,
  /** Only after a `console` sign-in: the user's connections grant, which holds the Rally link. */
  grantId: z.string().optional(),
  /** Only on `/connections`: sha256 of the one-time nonce of the current creation form; null once used. */
  createNonceHash: z.string().nullable().optional(),
  createdAt: zTimestamp,
  expiresAt: zTimestamp,
});
export type BrowserSession = z.infer<typeof BrowserSessionDoc>;
const BROWSER_SESSION = docType(COLLECTIONS.browserSessions, BrowserSessionDoc);

const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;
const path = (cookieValue: string) => `${COLLECTIONS.browserSessions}/${sha256Id(cookieValue)}`;

/** The CSRF token of the session whose cookie is `cookieValue`: unguessable without the cookie, different from the doc id. */
export const browserCsrfToken = (cookieValue: string): string => sha256Id(`browser-csrf:${cookieValue}`);

export async function createBrowserSession(db: Firestore, cookieValue: string, doc: BrowserSession): Promise<void> {
  await withStoreRetry(() => db.doc(path(cookieValue)).create(stripUndefined(doc)));
}

/** The signed-in session of this cookie value, or undefined (none, malformed, expired). */
export async function findBrowserSession(
  db: Firestore,
  cookieValue: string | undefined,
  now: Date,
): Promise<BrowserSession | undefined> {
  if (!cookieValue || !COOKIE_VALUE.test(cookieValue)) return undefined;
  return readDoc(db.doc(path(cookieValue)), BROWSER_SESSION, now);
}

/** A fresh creation nonce for the `/connections` page about to be rendered (the previous one stops working). */
export async function rotateCreateNonce(db: Firestore, cookieValue: string, nonce: string): Promise<void> {
  await withStoreRetry(() => db.doc(path(cookieValue)).update({ createNonceHash: sha256Id(nonce) }));
}

/** Spends the creation nonce exactly once: the session on success, undefined if it was used, replaced or never issued. */
export async function consumeCreateNonce(
  db: Firestore,
  cookieValue: string | undefined,
  nonce: string,
  now: Date,
): Promise<BrowserSession | undefined> {
  if (!cookieValue || !COOKIE_VALUE.test(cookieValue)) return undefined;
  return consumeOnce<BrowserSession, BrowserSession | undefined>(
    db.doc(path(cookieValue)),
    BROWSER_SESSION,
    undefined,
    (s) =>
      isExpiredDoc(s, now) || !s.createNonceHash || s.createNonceHash !== sha256Id(nonce)
        ? { keep: undefined }
        : { spend: { update: { createNonceHash: null } }, won: s, lost: undefined },
  );
}

export async function deleteBrowserSession(db: Firestore, cookieValue: string): Promise<void> {
  if (!COOKIE_VALUE.test(cookieValue)) return;
  await withStoreRetry(() => db.doc(path(cookieValue)).delete());
}
