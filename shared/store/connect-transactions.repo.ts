/**
 * /connect/<id> transactions: the opaque, single-use, 10-minute link a user
 * opens to (re)connect an upstream provider. The URL carries only the id; the
 * record holds who asked, and for which provider. Doc id = sha256(id).
 * @module
 */
import type { Firestore } from '@google-cloud/firestore';
import { z } from 'zod';
import { sha256Id } from '../kernel/hash.js';
import { COLLECTIONS } from './collections.js';
import { stripUndefined } from './clients.repo.js';
import { withStoreRetry, zTimestamp } from './firestore-utils.js';
import { consumeOnce, docType, isExpiredDoc, readDoc } from './documents.js';
import { UPSTREAM_PROVIDER_IDS } from '../upstream/provider.js';

export const ConnectTxDoc = z.object({
  /** relink: the primary provider (Rally) again; session: session-link mode; connect: another provider for a grant (issue 19). */
  kind: z.enum(['relink', 'session', 'connect']),
  /** The provider to connect; absent on records from before issue 19: `rally`. */
  provider: z.enum(UPSTREAM_PROVIDER_IDS).optional(),
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
const CONNECT_TX = docType(COLLECTIONS.connectTransactions, ConnectTxDoc);

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
  return readDoc(db.doc(path(id)), CONNECT_TX, now);
}

/** Consumes the link exactly once (A6: unknown, expired or used → undefined). */
export async function consumeConnectTransaction(
  db: Firestore,
  id: string,
  now: Date,
): Promise<ConnectTransaction | undefined> {
  if (!ID.test(id)) return undefined;
  // An expired link is spent as well: it is refused either way.
  return consumeOnce<ConnectTransaction, ConnectTransaction | undefined>(
    db.doc(path(id)),
    CONNECT_TX,
    undefined,
    (tx) => ({
      spend: 'delete',
      won: isExpiredDoc(tx, now) ? undefined : tx,
      lost: undefined,
    }),
  );
}
