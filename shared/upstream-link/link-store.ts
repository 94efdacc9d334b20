/**
 * The one Rally token store, used by default mode (per grant) and
 * session-link mode (per session). Tokens are sealed as JWE bound to their
 * document (E1, ./token-codec.ts); refresh is single-flight across instances
 * through a lease kept on the same document (./refresh-lease.ts), and Rally is
 * never called inside a transaction (D1–D5, F4). Doc id = sha256("grant:<id>" | "session:<hash>").
 *
 * A usable link an instance has read is reused for `cacheSeconds` (default 5)
 * without reading Firestore again (./link-cache.ts): a burst of tool calls costs one read, not
 * one per call. Whatever this instance changes (refresh, disconnect, re-link,
 * a failed refresh) updates or drops its copy at once; a change made by
 * another instance or function (revocation, disconnect elsewhere) reaches
 * this one within `cacheSeconds` (RFC 7009 §2.2 propagation delay). Absence
 * and unusable links are never cached, so a fresh sign-in is seen at once.
 * @module
 */
import type { DocumentReference, Firestore } from '@google-cloud/firestore';
import { sha256Id, randomToken } from '../kernel/hash.js';
import type { Sealer } from '../crypto/sealer.js';
import {
  rallyTokensPath,
  RALLY_TOKENS_DOC,
  RallyTokensDoc,
  type LinkPrecondition,
  type RallyUser,
} from '../store/upstream-tokens.repo.js';
import { RallyRefreshRejected, type RallyTokens } from '../rally/oauth.js';
import { addSeconds, isExpired, type Clock } from '../kernel/clock.js';
import type { Logger } from '../logging/logger.js';
import { LinkRequiredError } from '../upstream/link-required.js';
import { stripUndefined } from '../store/clients.repo.js';
import { transact, withStoreRetry } from '../store/firestore-utils.js';
import { parseDoc } from '../store/documents.js';
import type { DocumentReader } from '../store/firestore-rest.js';
import { RALLY_TOKENS } from './token-codec.js';
import { LinkCache } from './link-cache.js';
import { acquireRefreshLease, LEASE_RELEASED, releaseRefreshLease } from './refresh-lease.js';
import { LinkUserMismatchError } from './errors.js';

export interface StoredLink {
  readonly principal: string;
  readonly status: 'linked' | 'refresh_failed';
  readonly rallyUser: RallyUser;
  readonly version: number;
  /** Absent when the record is unusable (refresh failed, or it would not open). */
  readonly tokens: RallyTokens | undefined;
}

/** The refresh call to Rally; throws RallyRefreshRejected on invalid_grant. */
export type RallyRefresher = (refreshToken: string) => Promise<RallyTokens>;

export interface RallyTokenStoreOptions {
  /** Writes and transactions; the client library loads on first use (a warm read never needs it). */
  readonly db: () => Promise<Firestore>;
  /** The warm read (REST). */
  readonly documents: DocumentReader;
  readonly sealer: Sealer;
  readonly clock: Clock;
  readonly log: Logger;
  /** How long a link lives without use (TTL field). */
  readonly ttlSeconds: number;
  readonly leaseSeconds?: number;
  /** How long a caller waits for another instance's refresh. */
  readonly waitForRefreshMs?: number;
  /** How long a usable link read from Firestore is reused without reading again; 0 reads on every call. */
  readonly cacheSeconds?: number;
}

type UsableLink = StoredLink & { readonly tokens: RallyTokens };

export class RallyTokenStore {
  readonly #o: Required<RallyTokenStoreOptions>;
  readonly #holder = randomToken(9);
  /** Usable links by document id: reused without a read for `cacheSeconds`, and without unsealing while the version is unchanged. */
  readonly #cache: LinkCache<UsableLink>;
  readonly #refreshing = new Map<string, Promise<StoredLink>>();

  constructor(options: RallyTokenStoreOptions) {
    this.#o = { leaseSeconds: 15, waitForRefreshMs: 10_000, cacheSeconds: 5, ...options };
    this.#cache = new LinkCache(this.#o.clock, this.#o.cacheSeconds);
  }

  async #ref(principal: string): Promise<DocumentReference> {
    return (await this.#o.db()).doc(rallyTokensPath(principal));
  }

  /** At most one Firestore read (none while a usable copy is fresh). Undefined when the principal has no link. */
  async read(principal: string): Promise<StoredLink | undefined> {
    const key = sha256Id(principal);
    const cached = this.#cache.fresh(key);
    if (cached) return cached;
    const data = await withStoreRetry(() => this.#o.documents.get(rallyTokensPath(principal)));
    if (data === undefined) {
      this.#cache.drop(key);
      return undefined;
    }
    return this.#open(principal, parseDoc(RALLY_TOKENS_DOC, data));
  }

  async #open(principal: string, doc: RallyTokensDoc): Promise<StoredLink | undefined> {
    const key = sha256Id(principal);
    if (isExpired(doc.expiresAt, this.#o.clock.now())) {
      this.#cache.drop(key);
      return undefined; // F2: TTL lags; an expired link is no link
    }
    const base = { principal, status: doc.status, rallyUser: doc.rallyUser, version: doc.version };
    if (doc.status !== 'linked' || !doc.sealed) {
      this.#cache.drop(key);
      return { ...base, tokens: undefined };
    }
    const tokens = this.#cache.atVersion(key, doc.version)?.tokens ?? (await this.#unseal(principal, doc));
    if (!tokens) {
      this.#cache.drop(key);
      return { ...base, tokens: undefined };
    }
    const link = { ...base, tokens };
    this.#cache.remember(key, link, doc.expiresAt);
    return link;
  }

  async #unseal(principal: string, doc: RallyTokensDoc): Promise<RallyTokens | undefined> {
    try {
      const opened = await RALLY_TOKENS.open(this.#o.sealer, doc.sealed ?? '', rallyTokensPath(principal)); // none: fails like a bad one
      const tokens = { ...opened.value, accessExpiresAt: doc.accessExpiresAt };
      if (opened.needsReseal) void this.#reseal(principal, doc.version, tokens);
      return tokens;
    } catch (err) {
      if ((err as { code?: unknown }).code === 'secret_unavailable') throw err; // 503, never "not linked"
      // E3/E6: a record that will not open reads as "not linked"; logged without content.
      this.#o.log.warn('rally_tokens_unseal_failed', {
        errCode: String((err as { code?: unknown }).code ?? 'unknown'),
      });
      return undefined;
    }
  }

  #seal(principal: string, tokens: RallyTokens): Promise<string> {
    return RALLY_TOKENS.seal(this.#o.sealer, tokens, rallyTokensPath(principal));
  }

  /** E6: lazily re-seal a record under the current key version. Best effort. */
  async #reseal(principal: string, version: number, tokens: RallyTokens): Promise<void> {
    try {
      const sealed = await this.#seal(principal, tokens);
      const ref = await this.#ref(principal);
      await transact(await this.#o.db(), async (t) => {
        const snap = await t.get(ref);
        if (snap.exists && snap.get('version') === version) t.update(ref, { sealed });
      });
    } catch {
      /* the next read tries again */
    }
  }

  /**
   * Stores fresh tokens from a sign-in. A principal already linked to another
   * Rally user is never silently switched (C7). `precondition` reads inside the same
   * transaction, so what it checked still holds when the tokens land.
   */
  async link(
    principal: string,
    kind: 'grant' | 'session',
    tokens: RallyTokens,
    rallyUser: RallyUser,
    precondition?: LinkPrecondition,
  ): Promise<void> {
    const now = this.#o.clock.now();
    const sealed = await this.#seal(principal, tokens);
    const ref = await this.#ref(principal);
    const db = await this.#o.db();
    await transact(db, async (t) => {
      await precondition?.(t, db);
      const snap = await t.get(ref);
      // A record that fails validation is replaced by the fresh sign-in, not refused.
      const existing = snap.exists ? RallyTokensDoc.safeParse(snap.data()) : undefined;
      if (existing?.success && existing.data.rallyUser.objectId !== rallyUser.objectId)
        throw new LinkUserMismatchError();
      const version = existing?.success ? existing.data.version + 1 : 1;
      t.set(
        ref,
        stripUndefined({
          principalKind: kind,
          // A session link keeps its principal, so the "Your access" page can end it; a grant's is found from the grant.
          ...(kind === 'session' ? { principal } : {}),
          status: 'linked' as const,
          sealed,
          rallyUser: stripUndefined(rallyUser),
          accessExpiresAt: tokens.accessExpiresAt,
          version,
          linkedAt: existing?.success ? existing.data.linkedAt : now,
          updatedAt: now,
          expiresAt: addSeconds(now, this.#o.ttlSeconds),
        }),
      );
    });
    this.#cache.drop(sha256Id(principal)); // the next read sees the new tokens
  }

  /** Forgets the principal's Rally tokens (D9). Idempotent. */
  async remove(principal: string): Promise<void> {
    const ref = await this.#ref(principal);
    await withStoreRetry(() => ref.delete());
    this.#cache.drop(sha256Id(principal));
  }

  /**
   * Returns fresh tokens for `observed`: refreshes once across all instances
   * (D2), or adopts the tokens another instance stored meanwhile.
   */
  async refresh(observed: StoredLink, refresher: RallyRefresher): Promise<StoredLink> {
    const key = sha256Id(observed.principal);
    const inFlight = this.#refreshing.get(key);
    if (inFlight) return inFlight; // same instance: one refresh, everyone waits for it
    const p = this.#refresh(observed, refresher)
      .catch((err: unknown) => {
        this.#cache.drop(key); // whatever went wrong, the copy we held is no longer to be trusted
        throw err;
      })
      .finally(() => this.#refreshing.delete(key));
    this.#refreshing.set(key, p);
    return p;
  }

  async #refresh(observed: StoredLink, refresher: RallyRefresher): Promise<StoredLink> {
    const { principal } = observed;
    const lease = await acquireRefreshLease(await this.#o.db(), await this.#ref(principal), observed.version, {
      holder: this.#holder,
      leaseSeconds: this.#o.leaseSeconds,
      waitMs: this.#o.waitForRefreshMs,
      clock: this.#o.clock,
    });
    if (lease.kind === 'changed') {
      const link = await this.#open(principal, lease.doc);
      if (link?.tokens) return link;
      throw new LinkRequiredError('refresh_failed');
    }
    return this.#refreshHoldingLease(principal, lease.doc, refresher);
  }

  async #refreshHoldingLease(principal: string, doc: RallyTokensDoc, refresher: RallyRefresher): Promise<StoredLink> {
    const ref = await this.#ref(principal);
    const current = await this.#unseal(principal, doc);
    if (!current?.refreshToken) {
      await this.#markFailed(principal, doc.version);
      throw new LinkRequiredError('refresh_failed');
    }
    let fresh: RallyTokens;
    try {
      fresh = await refresher(current.refreshToken); // outside any transaction (F4)
    } catch (err) {
      if (err instanceof RallyRefreshRejected) {
        // D3: another instance may have rotated meanwhile; only a still-current record is marked failed.
        const adopted = await this.#markFailed(principal, doc.version);
        if (adopted?.tokens) return adopted;
        throw new LinkRequiredError('refresh_failed', { cause: err });
      }
      await releaseRefreshLease(ref);
      throw err;
    }
    // D4: Rally may not rotate; keep the old refresh token then.
    const merged: RallyTokens = { ...fresh, refreshToken: fresh.refreshToken ?? current.refreshToken };
    const sealed = await this.#seal(principal, merged);
    const now = this.#o.clock.now();
    const stored = await transact(await this.#o.db(), async (t) => {
      const snap = await t.get(ref);
      if (!snap.exists || snap.get('version') !== doc.version) return false;
      t.update(ref, {
        sealed,
        status: 'linked',
        accessExpiresAt: merged.accessExpiresAt,
        version: doc.version + 1,
        ...LEASE_RELEASED,
        updatedAt: now,
        expiresAt: addSeconds(now, this.#o.ttlSeconds),
      });
      return true;
    });
    if (!stored) throw new LinkRequiredError('refresh_failed');
    const link: UsableLink = {
      principal,
      status: 'linked',
      rallyUser: doc.rallyUser,
      version: doc.version + 1,
      tokens: merged,
    };
    this.#cache.remember(sha256Id(principal), link, addSeconds(now, this.#o.ttlSeconds));
    this.#o.log.info('rally_token_refreshed', {});
    return link;
  }

  /** Marks the record unusable unless someone stored newer tokens, which are returned instead. */
  async #markFailed(principal: string, version: number): Promise<StoredLink | undefined> {
    const ref = await this.#ref(principal);
    const newer = await transact(await this.#o.db(), async (t) => {
      const snap = await t.get(ref);
      if (!snap.exists) return undefined;
      if (snap.get('version') !== version) return snap.data();
      t.update(ref, { status: 'refresh_failed', sealed: null, ...LEASE_RELEASED });
      return undefined;
    });
    return newer ? this.#open(principal, parseDoc(RALLY_TOKENS_DOC, newer)) : undefined;
  }
}
