/**
 * Verifies a connection token (issue 18) presented on /mcp or /tools/<tool>: its shape, its
 * record (a per-instance copy is reused for LINK_CACHE_SECONDS, the same window within which a
 * revoked grant's Rally link stops working), its secret (constant time), status and expiry. What
 * it yields is a grant principal like an access token's, so every gate of shared/mcp/execute.ts
 * applies unchanged; principal.ts turns a refusal into the 401.
 * @module
 */
import type { Deps } from '../services/deps.js';
import type { VerifiedAccessToken } from '../crypto/access-token.js';
import { CONNECTION_TOKEN_CLIENT_ID, parseConnectionToken, secretMatches } from '../crypto/connection-token.js';
import { evictOldest } from '../kernel/lru.js';
import {
  LAST_USED_EVERY_SECONDS,
  noteConnectionTokenUse,
  projectOids,
  readConnectionToken,
  type ConnectionToken,
} from '../store/connection-tokens.repo.js';
import type { DocumentReader } from '../store/firestore-rest.js';

/** The header for clients that can set custom headers but not `Authorization` (README "Copilot coding agent"). */
export const CONNECTION_TOKEN_HEADER = 'x-rally-mcp-token';

/** What a connection token adds to a grant principal: its id (audit), its tool and project allowlists (execute.ts). */
export interface ConnectionTokenLimits {
  readonly tokenId: string;
  /** undefined: every tool its scopes allow. */
  readonly tools: readonly string[] | undefined;
  /** Rally project ObjectIDs; undefined (a token made without a list, or before lists existed): every project. */
  readonly projects: readonly string[] | undefined;
}

export type ConnectionAuth =
  | { readonly kind: 'ok'; readonly token: VerifiedAccessToken; readonly connection: ConnectionTokenLimits }
  | { readonly kind: 'refused'; readonly reason: 'off' | 'malformed' | 'unknown' | 'secret' | 'revoked' };

interface Cached {
  readonly doc: ConnectionToken;
  readonly at: number;
}
const CACHE_LIMIT = 2000;
const caches = new WeakMap<DocumentReader, Map<string, Cached>>();

function cacheOf(documents: DocumentReader): Map<string, Cached> {
  let cache = caches.get(documents);
  if (!cache) caches.set(documents, (cache = new Map()));
  return cache;
}

async function lookup(
  deps: Pick<Deps, 'config' | 'clock' | 'documents'>,
  tokenId: string,
): Promise<ConnectionToken | undefined> {
  const cache = cacheOf(deps.documents);
  const now = deps.clock.now();
  const hit = cache.get(tokenId);
  const age = hit ? now.getTime() - hit.at : -1;
  if (hit && age >= 0 && age < deps.config.LINK_CACHE_SECONDS * 1000) return hit.doc;
  const doc = await readConnectionToken(deps.documents, tokenId, now);
  cache.delete(tokenId);
  if (doc?.status === 'active') {
    evictOldest(cache, CACHE_LIMIT);
    cache.set(tokenId, { doc, at: now.getTime() });
  }
  return doc;
}

/**
 * `lastUsedAt` for the owner's list, at most once per LAST_USED_EVERY_SECONDS: the stored value
 * (refreshed with the record every LINK_CACHE_SECONDS) says whether any instance wrote it lately,
 * and this instance's copy is moved first, so its concurrent calls do not write again. A failed
 * write is logged and costs the call nothing.
 */
async function noteUse(
  deps: Pick<Deps, 'clock' | 'documents' | 'db' | 'log'>,
  doc: ConnectionToken,
  now: Date,
): Promise<void> {
  if (doc.lastUsedAt && now.getTime() - doc.lastUsedAt.getTime() < LAST_USED_EVERY_SECONDS * 1000) return;
  const cache = cacheOf(deps.documents);
  const hit = cache.get(doc.tokenId);
  if (hit) cache.set(doc.tokenId, { ...hit, doc: { ...hit.doc, lastUsedAt: now } });
  try {
    await noteConnectionTokenUse(await deps.db(), doc.tokenId, now);
  } catch (err) {
    deps.log.warn('connection_token_use_not_recorded', {
      errCode: String((err as { code?: unknown }).code ?? 'error'),
    });
  }
}

export async function verifyConnectionToken(
  deps: Pick<Deps, 'config' | 'clock' | 'documents' | 'db' | 'log'>,
  presented: string,
): Promise<ConnectionAuth> {
  if (!deps.config.CONNECTION_TOKENS) return { kind: 'refused', reason: 'off' };
  const parsed = parseConnectionToken(presented);
  if (!parsed) return { kind: 'refused', reason: 'malformed' };
  const doc = await lookup(deps, parsed.id);
  if (!doc) return { kind: 'refused', reason: 'unknown' };
  if (!secretMatches(parsed.secret, doc.secretHash)) return { kind: 'refused', reason: 'secret' };
  const now = deps.clock.now();
  if (doc.status !== 'active' || doc.expiresAt <= now) return { kind: 'refused', reason: 'revoked' };
  await noteUse(deps, doc, now);
  return {
    kind: 'ok',
    token: {
      sub: doc.sub,
      clientId: CONNECTION_TOKEN_CLIENT_ID,
      scopes: [...doc.scopes],
      grantId: doc.grantId,
      expiresAt: Math.floor(doc.expiresAt.getTime() / 1000),
      jti: doc.tokenId,
    },
    connection: { tokenId: doc.tokenId, tools: doc.tools, projects: projectOids(doc) },
  };
}
