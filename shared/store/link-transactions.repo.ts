/**
 * The OAuth `state` we send to an upstream provider → the pending sign-in it belongs to, and which
 * provider it went to (the callback exchanges the code there and nowhere else, R1).
 * Doc id = sha256(state); single use, consumed atomically at the callback;
 * bound to the browser that approved it by the hash of the binding cookie.
 * @module
 */
import type { Firestore } from '@google-cloud/firestore';
import { z } from 'zod';
import { sha256Id } from '../kernel/hash.js';
import { COLLECTIONS } from './collections.js';
import { stripUndefined } from './clients.repo.js';
import { withStoreRetry, zTimestamp } from './firestore-utils.js';
import { consumeOnce, docType, isExpiredDoc } from './documents.js';
import { UPSTREAM_PROVIDER_IDS } from '../upstream/provider.js';

export const LinkTxDoc = z.object({
  /**
   * authorize: first sign-in of an MCP client; relink: default-mode /connect; session: session-link
   * mode; console: the connection-token pages (issue 18), which keep the Rally tokens on the user's
   * connections grant; account: the "Your access" page (/account, issue 23), which stores no Rally token.
   * Both of the last two start the same browser session (shared/oauth-as/browser-session.ts).
   * connect (issue 19): a grant's link to a provider other than the primary, in two sign-ins: first
   * at the primary provider, which proves the browser belongs to the grant's user (`sub`), then at
   * `connects`, whose tokens are kept.
   */
  kind: z.enum(['authorize', 'relink', 'session', 'console', 'account', 'connect']),
  /** The provider this state was sent to; absent on records from before issue 19: `rally`. */
  provider: z.enum(UPSTREAM_PROVIDER_IDS).optional(),
  /** kind `connect`: the provider being connected. */
  connects: z.enum(UPSTREAM_PROVIDER_IDS).optional(),
  browserHash: z.string(),
  clientId: z.string().optional(),
  clientName: z.string().optional(),
  redirectUri: z.string().optional(),
  codeChallenge: z.string().optional(),
  scopes: z.array(z.string()).optional(),
  resource: z.string().optional(),
  grantId: z.string().optional(),
  sub: z.string().optional(),
  sessionHash: z.string().optional(),
  /** JWE of { clientState?, rallyVerifier } (the PKCE verifier, whichever the provider), bound to this document. */
  sealed: z.string(),
  createdAt: zTimestamp,
  expiresAt: zTimestamp,
});
export type LinkTransaction = z.infer<typeof LinkTxDoc>;
const LINK_TX = docType(COLLECTIONS.linkTransactions, LinkTxDoc);

export const linkTxPath = (state: string) => `${COLLECTIONS.linkTransactions}/${sha256Id(state)}`;

export async function createLinkTransaction(db: Firestore, state: string, doc: LinkTransaction): Promise<void> {
  await withStoreRetry(() => db.doc(linkTxPath(state)).create(stripUndefined(doc)));
}

export type ConsumeLinkTxResult =
  { ok: true; tx: LinkTransaction } | { ok: false; reason: 'missing' | 'expired' | 'browser_mismatch' };

/**
 * Consumes the transaction exactly once (B4, B6, F3). Expired records are
 * deleted and refused even if TTL has not swept them (B5). A wrong or missing
 * browser binding refuses without consuming (B3, C2, C6).
 */
export async function consumeLinkTransaction(
  db: Firestore,
  state: string,
  browserSecret: string | undefined,
  now: Date,
): Promise<ConsumeLinkTxResult> {
  const missing = { ok: false, reason: 'missing' } as const;
  return consumeOnce<LinkTransaction, ConsumeLinkTxResult>(db.doc(linkTxPath(state)), LINK_TX, missing, (tx) => {
    if (isExpiredDoc(tx, now)) {
      const expired = { ok: false, reason: 'expired' } as const;
      return { spend: 'delete', won: expired, lost: expired }; // B5: deleted and refused
    }
    if (!browserSecret || sha256Id(browserSecret) !== tx.browserHash)
      return { keep: { ok: false, reason: 'browser_mismatch' } };
    return { spend: 'delete', won: { ok: true, tx }, lost: missing }; // lost: someone else consumed it
  });
}
