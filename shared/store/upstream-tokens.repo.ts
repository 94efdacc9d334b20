/**
 * Where an upstream provider's tokens are stored: one document per provider and principal (a
 * grant in default mode, a session in session-link mode). The sealed tokens and the refresh lease
 * live on the same document; shared/upstream-link/link-store.ts is the only writer.
 *
 * - Rally's records are the `rally_tokens` collection, id = sha256(principal), as they were before
 *   there was a second provider (issue 19): existing records stay readable unchanged, and the
 *   user is the field `rallyUser`.
 * - Every other provider's records share the `upstream_tokens` collection, id =
 *   sha256(`<provider>:<principal>`), and say whose they are in `provider`; the user is `user`.
 *
 * A sealed blob is bound to its document's path (shared/crypto/sealer.ts), so one provider's
 * tokens copied into another provider's record do not open (R3).
 * @module
 */
import type { Firestore, Transaction } from '@google-cloud/firestore';
import { CorruptRecordError, withStoreRetry, zTimestamp } from './firestore-utils.js';
import { z } from 'zod';
import { sha256Id } from '../kernel/hash.js';
import {
  UPSTREAM_PROVIDER_IDS,
  type UpstreamProviderId,
  type UpstreamUser as UpstreamUserShape,
} from '../upstream/provider.js';
import { COLLECTIONS, type CollectionName } from './collections.js';
import { parseDoc, docType } from './documents.js';

export const grantPrincipal = (grantId: string) => `grant:${grantId}`;
export const sessionPrincipal = (sessionHash: string) => `session:${sessionHash}`;

export const RallyUser = z.object({ objectId: z.string(), userName: z.string(), displayName: z.string().optional() });
export type RallyUser = z.infer<typeof RallyUser>;

export const UpstreamUser = z.object({ id: z.string(), login: z.string(), displayName: z.string().optional() });

/** Rally's stored user and the provider-neutral one are the same facts under Rally's names. */
export const rallyUserOf = (u: UpstreamUserShape): RallyUser => ({
  objectId: u.id,
  userName: u.login,
  ...(u.displayName !== undefined ? { displayName: u.displayName } : {}),
});
export const upstreamUserOf = (u: RallyUser): UpstreamUserShape => ({
  id: u.objectId,
  login: u.userName,
  ...(u.displayName !== undefined ? { displayName: u.displayName } : {}),
});

/** Fields every provider's record has. */
const RecordFields = {
  principalKind: z.enum(['grant', 'session']),
  /** Session links only: `session:<session hash>`, by which the "Your access" page ends one; absent on older records. */
  principal: z.string().optional(),
  status: z.enum(['linked', 'refresh_failed']),
  sealed: z.string().nullish(),
  /** When the refresh token stops working, if the provider said so (absent or null: it did not). */
  refreshExpiresAt: zTimestamp.nullish(),
  version: z.number().int(),
  leaseHolder: z.string().nullish(),
  leaseUntil: zTimestamp.nullish(),
  linkedAt: zTimestamp,
  updatedAt: zTimestamp,
  expiresAt: zTimestamp,
};

export const RallyTokensDoc = z.object({
  ...RecordFields,
  rallyUser: RallyUser,
  accessExpiresAt: zTimestamp,
});
export type RallyTokensDoc = z.infer<typeof RallyTokensDoc>;

export const UpstreamTokensDoc = z.object({
  provider: z.enum(UPSTREAM_PROVIDER_IDS),
  ...RecordFields,
  user: UpstreamUser,
  /** Null for an access token that does not expire. */
  accessExpiresAt: zTimestamp.nullable(),
});
export type UpstreamTokensDoc = z.infer<typeof UpstreamTokensDoc>;

/** One provider's token record, whichever collection holds it. */
export interface TokenRecord {
  readonly principalKind: 'grant' | 'session';
  readonly principal?: string | undefined;
  readonly status: 'linked' | 'refresh_failed';
  readonly sealed?: string | null | undefined;
  readonly user: UpstreamUserShape;
  readonly accessExpiresAt: Date | undefined;
  readonly refreshExpiresAt?: Date | null | undefined;
  readonly version: number;
  readonly leaseHolder?: string | null | undefined;
  readonly leaseUntil?: Date | null | undefined;
  readonly linkedAt: Date;
  readonly updatedAt: Date;
  readonly expiresAt: Date;
}

/** How one provider's records are found, read and written. */
export interface TokenRecords {
  readonly provider: UpstreamProviderId;
  readonly collection: CollectionName;
  /** The document path of `principal`'s record: also what its seal is bound to. */
  path(principal: string): string;
  /** Validates stored fields (CorruptRecordError otherwise) into the provider-neutral record. */
  parse(data: unknown): TokenRecord;
  /** The fields that say whose record it is and who the user is, as this collection writes them. */
  userFields(user: UpstreamUserShape): Record<string, unknown>;
  /** The access expiry as this collection writes it. */
  accessExpiryField(at: Date | undefined): Date | null;
}

const RALLY_TOKENS_DOC = docType(COLLECTIONS.rallyTokens, RallyTokensDoc);
const UPSTREAM_TOKENS_DOC = docType(COLLECTIONS.upstreamTokens, UpstreamTokensDoc);

const RALLY_RECORDS: TokenRecords = {
  provider: 'rally',
  collection: COLLECTIONS.rallyTokens,
  path: (principal) => `${COLLECTIONS.rallyTokens}/${sha256Id(principal)}`,
  parse(data) {
    const { rallyUser, ...doc } = parseDoc(RALLY_TOKENS_DOC, data);
    return { ...doc, user: upstreamUserOf(rallyUser) };
  },
  userFields: (user) => ({ rallyUser: rallyUserOf(user) }),
  accessExpiryField(at) {
    if (at === undefined) throw new Error('a Rally access token always has an expiry'); // rally_tokens requires one
    return at;
  },
};

function upstreamRecords(provider: UpstreamProviderId): TokenRecords {
  return {
    provider,
    collection: COLLECTIONS.upstreamTokens,
    path: (principal) => `${COLLECTIONS.upstreamTokens}/${sha256Id(`${provider}:${principal}`)}`,
    parse(data) {
      const { provider: owner, accessExpiresAt, ...doc } = parseDoc(UPSTREAM_TOKENS_DOC, data);
      // A record of another provider at this one's path was not written by us: it is corrupt.
      if (owner !== provider) throw new CorruptRecordError(COLLECTIONS.upstreamTokens);
      return { ...doc, accessExpiresAt: accessExpiresAt ?? undefined };
    },
    userFields: (user) => ({ provider, user }),
    accessExpiryField: (at) => at ?? null,
  };
}

const BY_PROVIDER: Readonly<Record<UpstreamProviderId, TokenRecords>> = Object.fromEntries(
  UPSTREAM_PROVIDER_IDS.map((id) => [id, id === 'rally' ? RALLY_RECORDS : upstreamRecords(id)]),
) as Record<UpstreamProviderId, TokenRecords>;

/** The records of `provider`. */
export const tokenRecords = (provider: UpstreamProviderId): TokenRecords => BY_PROVIDER[provider];

/** The path of `provider`'s token record for `principal`. */
export const tokenRecordPath = (provider: UpstreamProviderId, principal: string): string =>
  tokenRecords(provider).path(principal);

/**
 * Every provider's token record of a grant: revoking the grant deletes them all in its transaction
 * (a delete of a record that does not exist is a no-op), whichever providers are enabled now.
 */
export const grantTokenRecordPaths = (grantId: string): string[] =>
  UPSTREAM_PROVIDER_IDS.map((p) => tokenRecordPath(p, grantPrincipal(grantId)));

/** `provider`'s record of `principal` as stored (no unsealing), or undefined when absent or expired at `now`. */
export async function readTokenRecord(
  db: Firestore,
  provider: UpstreamProviderId,
  principal: string,
  now: Date,
): Promise<TokenRecord | undefined> {
  const records = tokenRecords(provider);
  const snap = await withStoreRetry(() => db.doc(records.path(principal)).get());
  if (!snap.exists) return undefined;
  const record = records.parse(snap.data());
  return record.expiresAt <= now ? undefined : record;
}

/**
 * A read that must hold for a link to be stored, run inside the same transaction as the write
 * (e.g. "the grant is still active", L2): it throws to refuse, and a concurrent change to what it
 * read makes Firestore retry the whole transaction.
 */
export type LinkPrecondition = (t: Transaction, db: Firestore) => Promise<void>;

/** A Rally user's linked agent sessions (session-link mode), for the "Your access" page. */
export interface SessionLinkRecord {
  readonly sessionHash: string;
  readonly rallyUser: RallyUser;
  readonly linkedAt: Date;
  /** The last Rally token refresh (or the link): as close to "last used" as a stored write gets. */
  readonly updatedAt: Date;
}

/**
 * Session links of the Rally user `objectId` that are still alive. Two equality filters (single-
 * field indexes); records written before `principal` was kept cannot be ended by id and are left
 * out, as are corrupt and expired ones. Session-link mode links the primary provider (Rally) only.
 */
export async function listSessionLinks(db: Firestore, objectId: string, now: Date): Promise<SessionLinkRecord[]> {
  const snaps = await withStoreRetry(() =>
    db
      .collection(COLLECTIONS.rallyTokens)
      .where('principalKind', '==', 'session')
      .where('rallyUser.objectId', '==', objectId)
      .get(),
  );
  return snaps.docs.flatMap((doc) => {
    const parsed = RallyTokensDoc.safeParse(doc.data());
    if (!parsed.success || parsed.data.expiresAt <= now || !parsed.data.principal?.startsWith('session:')) return [];
    const { principal, rallyUser, linkedAt, updatedAt } = parsed.data;
    return [{ sessionHash: principal.slice('session:'.length), rallyUser, linkedAt, updatedAt }];
  });
}
