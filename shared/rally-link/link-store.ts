/**
 * The one Rally token store, used by default mode (per grant) and
 * session-link mode (per session). Tokens are sealed as JWE bound to their
 * document (E1); refresh is single-flight across instances through a lease
 * kept on the same document, and Rally is never called inside a transaction
 * (D1–D5, F4). Doc id = sha256("grant:<id>" | "session:<hash>").
 *
 * A usable link an instance has read is reused for `cacheSeconds` (default 5)
 * without reading Firestore again: a burst of tool calls costs one read, not
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
import { rallyTokensPath, RallyTokensDoc, type LinkPrecondition, type RallyUser } from '../store/rally-tokens.repo.js';
import { RallyRefreshRejected, type RallyTokens } from '../rally/oauth.js';
import { addSeconds, isExpired, type Clock } from '../kernel/clock.js';
import type { Logger } from '../logging/logger.js';
import { LinkRequiredError } from '../rally/link-required.js';
import { COLLECTIONS } from '../store/collections.js';
import { stripUndefined } from '../store/clients.repo.js';
import { CorruptRecordError, transact, withStoreRetry } from '../store/firestore-utils.js';
import type { DocumentReader } from '../store/firestore-rest.js';
import { CodedError } from '../kernel/errors.js';
import { RALLY_TOKENS } from './token-codec.js';

export interface StoredLink {
  readonly principal: string;
  readonly status: 'linked' | 'refresh_failed';
  readonly rallyUser: RallyUser;
  readonly version: number;
  /** Absent when the record is unusable (refresh failed, or it would not open). */
  readonly tokens: RallyTokens | undefined;
}

export class LinkUserMismatchError extends CodedError<'link_user_mismatch'> {
  constructor() {
    super('link_user_mismatch', 'this link belongs to a different Rally user');
    this.name = 'LinkUserMismatchError';
  }
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

/** Links kept per instance (oldest dropped first). */
const CACHE_LIMIT = 2000;

type UsableLink = StoredLink & { readonly tokens: RallyTokens };

interface CachedLink {
  readonly link: UsableLink;
  /** When this copy was read or written (ms since epoch, injected clock). */
  readonly at: number;
  /** The record's own TTL (F2): a cached copy never outlives it. */
  readonly expiresAt: Date;
}

export class RallyTokenStore {
  readonly #o: Required<RallyTokenStoreOptions>;
  readonly #holder = randomToken(9);
  /** Usable links by document id: reused without a read for `cacheSeconds`, and without unsealing while the version is unchanged. */
  readonly #cache = new Map<string, CachedLink>();
  readonly #refreshing = new Map<string, Promise<StoredLink>>();

  constructor(options: RallyTokenStoreOptions) {
    this.#o = { leaseSeconds: 15, waitForRefreshMs: 10_000, cacheSeconds: 5, ...options };
  }

  async #ref(principal: string): Promise<DocumentReference> {
    return (await this.#o.db()).doc(rallyTokensPath(principal));
  }

  /** At most one Firestore read (none while a usable copy is fresh). Undefined when the principal has no link. */
  async read(principal: string): Promise<StoredLink | undefined> {
    const key = sha256Id(principal);
    const cached = this.#cache.get(key);
    if (cached && this.#isFresh(cached)) return cached.link;
    const data = await withStoreRetry(() => this.#o.documents.get(rallyTokensPath(principal)));
    if (data === undefined) {
      this.#cache.delete(key);
      return undefined;
    }
    return this.#open(principal, data);
  }

  #isFresh(c: CachedLink): boolean {
    const now = this.#o.clock.now();
    const age = now.getTime() - c.at;
    return age >= 0 && age < this.#o.cacheSeconds * 1000 && !isExpired(c.expiresAt, now);
  }

  async #open(principal: string, data: unknown): Promise<StoredLink | undefined> {
    const parsed = RallyTokensDoc.safeParse(data);
    if (!parsed.success) throw new CorruptRecordError(COLLECTIONS.rallyTokens);
    const doc = parsed.data;
    const key = sha256Id(principal);
    if (isExpired(doc.expiresAt, this.#o.clock.now())) {
      this.#cache.delete(key);
      return undefined; // F2: TTL lags; an expired link is no link
    }
    const base = { principal, status: doc.status, rallyUser: doc.rallyUser, version: doc.version };
    if (doc.status !== 'linked' || !doc.sealed) {
      this.#cache.delete(key);
      return { ...base, tokens: undefined };
    }
    const cached = this.#cache.get(key);
    const tokens = cached?.link.version === doc.version ? cached.link.tokens : await this.#unseal(principal, doc);
    if (!tokens) {
      this.#cache.delete(key);
      return { ...base, tokens: undefined };
    }
    const link = { ...base, tokens };
    this.#remember(key, link, doc.expiresAt);
    return link;
  }

  async #unseal(principal: string, doc: RallyTokensDoc): Promise<RallyTokens | undefined> {
    try {
      const opened = await RALLY_TOKENS.open(this.#o.sealer, doc.sealed!, rallyTokensPath(principal));
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

  #remember(key: string, link: UsableLink, expiresAt: Date): void {
    this.#cache.delete(key); // re-insert: the map's order is the eviction order
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(key, { link, at: this.#o.clock.now().getTime(), expiresAt });
  }

  async #seal(principal: string, tokens: RallyTokens): Promise<string> {
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
      const existing = snap.exists ? RallyTokensDoc.safeParse(snap.data()) : undefined;
      if (existing?.success && existing.data.rallyUser.objectId !== rallyUser.objectId)
        throw new LinkUserMismatchError();
      const version = existing?.success ? existing.data.version + 1 : 1;
      t.set(
        ref,
        stripUndefined({
          principalKind: kind,
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
    this.#cache.delete(sha256Id(principal)); // the next read sees the new tokens
  }

  /** Forgets the principal's Rally tokens (D9). Idempotent. */
  async remove(principal: string): Promise<void> {
    const ref = await this.#ref(principal);
    await withStoreRetry(() => ref.delete());
    this.#cache.delete(sha256Id(principal));
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
        this.#cache.delete(key); // whatever went wrong, the copy we held is no longer to be trusted
        throw err;
      })
      .finally(() => this.#refreshing.delete(key));
    this.#refreshing.set(key, p);
    return p;
  }

  async #refresh(observed: StoredLink, refresher: RallyRefresher): Promise<StoredLink> {
    const { principal } = observed;
    const ref = await this.#ref(principal);
    const deadline = Date.now() + this.#o.waitForRefreshMs;
    for (;;) {
      const now = this.#o.clock.now();
      const step = await transact(await this.#o.db(), async (t) => {
        const snap = await t.get(ref);
        if (!snap.exists) return { kind: 'gone' } as const;
        const parsed = RallyTokensDoc.safeParse(snap.data());
        if (!parsed.success) throw new CorruptRecordError(COLLECTIONS.rallyTokens);
        const doc = parsed.data;
        if (doc.version !== observed.version) return { kind: 'changed', data: snap.data() } as const;
        if (doc.status !== 'linked') return { kind: 'gone' } as const;
        if (doc.leaseUntil && doc.leaseUntil > now && doc.leaseHolder !== this.#holder)
          return { kind: 'busy' } as const;
        t.update(ref, { leaseHolder: this.#holder, leaseUntil: addSeconds(now, this.#o.leaseSeconds) });
        return { kind: 'acquired', doc } as const;
      });
      if (step.kind === 'gone') throw new LinkRequiredError('refresh_failed');
      if (step.kind === 'changed') {
        const link = await this.#open(principal, step.data);
        if (link?.tokens) return link;
        throw new LinkRequiredError('refresh_failed');
      }
      if (step.kind === 'busy') {
        if (Date.now() > deadline) throw new LinkRefreshBusyError();
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 150));
        continue;
      }
      return this.#refreshHoldingLease(principal, step.doc, refresher);
    }
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
      await withStoreRetry(() => ref.update({ leaseHolder: null, leaseUntil: null })).catch(() => {});
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
        leaseHolder: null,
        leaseUntil: null,
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
    this.#remember(sha256Id(principal), link, addSeconds(now, this.#o.ttlSeconds));
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
      t.update(ref, { status: 'refresh_failed', sealed: null, leaseHolder: null, leaseUntil: null });
      return undefined;
    });
    return newer ? this.#open(principal, newer) : undefined;
  }
}

/** Another instance holds the refresh lease for too long: the caller should retry shortly. */
export class LinkRefreshBusyError extends CodedError<'refresh_busy'> {
  constructor() {
    super('refresh_busy', 'a Rally token refresh is in progress elsewhere');
    this.name = 'LinkRefreshBusyError';
  }
}
