/**
 * Connection tokens (issue 18): a headless agent's static credential, created by its owner in
 * the browser. Stored only as the SHA-256 of its secret (shared/crypto/connection-token.ts);
 * bound to the owner's connections grant, whose revocation revokes it (`revokeGrant` in
 * grants.repo.ts, same transaction). Doc id = sha256(token id).
 * @module
 */
import type { Firestore, Transaction } from '@google-cloud/firestore';
import { z } from 'zod';
import { sha256Id } from '../kernel/hash.js';
import { COLLECTIONS } from './collections.js';
import { stripUndefined } from './clients.repo.js';
import { transact, withStoreRetry, zTimestamp } from './firestore-utils.js';
import { docType, isExpiredDoc, parseDoc } from './documents.js';
import type { DocumentReader } from './firestore-rest.js';

export const REVOKED_BY = ['owner', 'grant', 'admin'] as const;

/** A project allowlist entry's canonical form, `/project/<ObjectID>` (issue 18, O16). */
export const PROJECT_REF = /^\/project\/([1-9]\d{0,18})$/;
/** The most projects one token may be limited to (each adds a term to every narrowed query). */
export const MAX_TOKEN_PROJECTS = 20;

const AllowedProject = z.object({
  /** `/project/<ObjectID>`: what is enforced. */
  ref: z.string().regex(PROJECT_REF),
  /** The project's name in Rally when the token was made: a label for its owner's lists, never enforced. */
  name: z.string().max(256),
});

export const ConnectionTokenDoc = z.object({
  /** The token's public id (20 hex digits): named in audit lines and on the owner's list. */
  tokenId: z.string(),
  /** base64url(SHA-256(secret)); the secret itself is never stored. */
  secretHash: z.string(),
  /** The owner: `rally:<Rally ObjectID>`. */
  sub: z.string(),
  /** The owner's Rally user name (the admin command finds tokens by it). */
  rallyUser: z.string(),
  /** The owner's connections grant: its Rally link serves the token, its revocation revokes it. */
  grantId: z.string(),
  /** The owner's label, e.g. "Copilot coding agent: acme/web". Escaped wherever it is shown. */
  name: z.string(),
  /** `rally.read`, plus `rally.write` only if the owner opted in at creation. Never widened. */
  scopes: z.array(z.string()),
  /** Optional tool allowlist: the only tools the token may call. */
  tools: z.array(z.string()).optional(),
  /** Optional project allowlist: the only Rally projects the token may reach; absent: every project. */
  projects: z.array(AllowedProject).min(1).max(MAX_TOKEN_PROJECTS).optional(),
  status: z.enum(['active', 'revoked']),
  createdAt: zTimestamp,
  /** When it last authenticated a call, to the hour (written at most once per LAST_USED_EVERY_SECONDS). */
  lastUsedAt: zTimestamp.optional(),
  revokedAt: zTimestamp.optional(),
  revokedBy: z.enum(REVOKED_BY).optional(),
  expiresAt: zTimestamp,
});
export type ConnectionToken = z.infer<typeof ConnectionTokenDoc>;
export type AllowedProject = z.infer<typeof AllowedProject>;

/** The ObjectIDs of a token's project allowlist; undefined when it has none (every project). */
export const projectOids = (doc: Pick<ConnectionToken, 'projects'>): string[] | undefined =>
  doc.projects?.map((p) => p.ref.slice('/project/'.length));
const CONNECTION_TOKEN = docType(COLLECTIONS.connectionTokens, ConnectionTokenDoc);

export const connectionTokenPath = (tokenId: string) => `${COLLECTIONS.connectionTokens}/${sha256Id(tokenId)}`;

export async function createConnectionToken(db: Firestore, doc: ConnectionToken): Promise<void> {
  await withStoreRetry(() => db.doc(connectionTokenPath(doc.tokenId)).create(stripUndefined(doc)));
}

/**
 * The token, or undefined when it does not exist or has expired (revoked tokens are returned:
 * callers check `status`). Read over Firestore's REST API (shared/store/firestore-rest.ts), for
 * /mcp: a request with a connection token then loads no client library, like the warm tool
 * call's link read.
 */
export async function readConnectionToken(
  documents: DocumentReader,
  tokenId: string,
  now: Date,
): Promise<ConnectionToken | undefined> {
  const data = await withStoreRetry(() => documents.get(connectionTokenPath(tokenId)));
  if (data === undefined) return undefined;
  const doc = parseDoc(CONNECTION_TOKEN, data);
  return isExpiredDoc(doc, now) ? undefined : doc;
}

/** A token's `lastUsedAt` is written at most this often: a warm call writes nothing. */
export const LAST_USED_EVERY_SECONDS = 3600;

/** Records a use (`lastUsedAt`); a token deleted meanwhile is left alone (update needs the document). */
export async function noteConnectionTokenUse(db: Firestore, tokenId: string, at: Date): Promise<void> {
  await withStoreRetry(() => db.doc(connectionTokenPath(tokenId)).update({ lastUsedAt: at }));
}

const parseAll = (docs: ReadonlyArray<{ data(): unknown }>): ConnectionToken[] =>
  docs.flatMap((d) => {
    const parsed = ConnectionTokenDoc.safeParse(d.data());
    return parsed.success ? [parsed.data] : [];
  });

/** Every token of an owner (any status, expired ones included), newest first. */
export async function listConnectionTokens(
  db: Firestore,
  by: { sub: string } | { rallyUser: string },
): Promise<ConnectionToken[]> {
  const [field, value] = 'sub' in by ? ['sub', by.sub] : ['rallyUser', by.rallyUser];
  const snaps = await withStoreRetry(() => db.collection(COLLECTIONS.connectionTokens).where(field, '==', value).get());
  return parseAll(snaps.docs).sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
}

/**
 * Revokes one token; `owner` (a sub) restricts it to that owner's tokens. False when there is no
 * such active token (unknown, someone else's, already revoked). Idempotent.
 */
export async function revokeConnectionToken(
  db: Firestore,
  tokenId: string,
  by: { readonly owner: string } | { readonly admin: true },
  now: Date,
): Promise<boolean> {
  return transact(db, async (t) => {
    const ref = db.doc(connectionTokenPath(tokenId));
    const snap = await t.get(ref);
    if (!snap.exists) return false;
    const doc = parseDoc(CONNECTION_TOKEN, snap.data());
    if (doc.status !== 'active' || ('owner' in by && doc.sub !== by.owner)) return false;
    t.update(ref, { status: 'revoked', revokedAt: now, revokedBy: 'owner' in by ? 'owner' : 'admin' });
    return true;
  });
}

/**
 * Inside a grant's revocation: reads the grant's active tokens (call before any write of `t`)
 * and returns the write that revokes them, so the grant and its tokens end in one transaction.
 */
export async function grantTokensRevocation(
  t: Transaction,
  db: Firestore,
  grantId: string,
  now: Date,
): Promise<() => number> {
  const snaps = await t.get(db.collection(COLLECTIONS.connectionTokens).where('grantId', '==', grantId));
  const active = snaps.docs.filter((d) => d.get('status') === 'active');
  return () => {
    for (const d of active) t.update(d.ref, { status: 'revoked', revokedAt: now, revokedBy: 'grant' });
    return active.length;
  };
}
