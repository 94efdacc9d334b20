/**
 * The one upstream token store, per provider (Rally, GitHub, …: shared/upstream/provider.ts),
 * used by default mode (per grant) and session-link mode (per session). Tokens are sealed as JWE
 * bound to their document (E1, R3, ./token-codec.ts); refresh is single-flight across instances
 * through a lease kept on the same document (./refresh-lease.ts), and the provider is never
 * called inside a transaction (D1–D5, F4). Where each provider's records live:
 * shared/store/upstream-tokens.repo.ts (Rally's in `rally_tokens`, as before issue 19).
 *
 * A usable link an instance has read is reused for `cacheSeconds` (default 5) without reading
 * Firestore again (./link-cache.ts): a burst of tool calls costs one read, not one per call;
 * after the window, one read of the link epoch (./link-epoch.ts) confirms every link the
 * instance holds; and a principal that keeps calling has its link confirmed beside its calls
 * near the end of the window, so none of them waits for the read. Whatever this instance
 * changes (refresh, disconnect, re-link, a failed refresh) updates or drops its copy at once; a
 * disconnect and a failed refresh also replace the epoch's tag in the same write (D10), as a
 * revocation does (shared/store/link-epoch.repo.ts), so a change made by another instance or
 * function reaches this one within `cacheSeconds` (RFC 7009 §2.2 propagation delay). Absence and
 * unusable links are never cached, so a fresh sign-in is seen at once.
 * @module
 */
import type { DocumentReference, Firestore } from '@google-cloud/firestore';
import { sha256Id, randomToken } from '../kernel/hash.js';
import type { Sealer } from '../crypto/sealer.js';
import {
  tokenRecords,
  type LinkPrecondition,
  type TokenRecord,
  type TokenRecords,
} from '../store/upstream-tokens.repo.js';
import {
  UpstreamRefreshRejected,
  type UpstreamProviderId,
  type UpstreamTokens,
  type UpstreamUser,
} from '../upstream/provider.js';
import { addSeconds, isExpired, type Clock } from '../kernel/clock.js';
import type { Logger } from '../logging/logger.js';
import { LinkRequiredError } from '../upstream/link-required.js';
import { stripUndefined } from '../store/clients.repo.js';
import { transact, withStoreRetry } from '../store/firestore-utils.js';
import type { DocumentReader } from '../store/firestore-rest.js';
import { LINK_TOKENS } from './token-codec.js';
import { LinkCache, type ReadMark } from './link-cache.js';
import { LinkEpoch } from './link-epoch.js';
import { markLinkEnded } from '../store/link-epoch.repo.js';
import { acquireRefreshLease, LEASE_RELEASED, releaseRefreshLease } from './refresh-lease.js';
import { LinkUserMismatchError } from './errors.js';

export interface StoredLink {
  readonly provider: UpstreamProviderId;
  readonly principal: string;
  readonly status: 'linked' | 'refresh_failed';
  /** Who signed in at the provider. */
  readonly user: UpstreamUser;
  readonly version: number;
  /** Absent when the record is unusable (refresh failed, or it would not open). */
  readonly tokens: UpstreamTokens | undefined;
}

/** The refresh call to the provider; throws UpstreamRefreshRejected when it refuses the refresh token for good. */
export type UpstreamRefresher = (refreshToken: string) => Promise<UpstreamTokens>;

export interface UpstreamTokenStoreOptions {
  /** Whose tokens this store keeps. */
  readonly provider: UpstreamProviderId;
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
  /** The instance's view of the link epoch, shared by its stores (one read confirms every provider's links). */
  readonly epoch?: LinkEpoch;
}

type UsableLink = StoredLink & { readonly tokens: UpstreamTokens };

/** When a read or write of a record began, and the link epoch's tag known then: what a copy of its outcome is dated with. */
interface Stamp {
  readonly at: number;
  readonly epoch: string | undefined;
}

/** A record read and opened: the link to answer with, and the copy to keep (usable links only). */
type Opened =
  | { readonly link: StoredLink | undefined; readonly keep?: undefined }
  | { readonly link: UsableLink; readonly keep: UsableLink; readonly expiresAt: Date };
const NOTHING: Opened = { link: undefined };

export class UpstreamTokenStore {
  readonly #o: Required<Omit<UpstreamTokenStoreOptions, 'epoch'>>;
  /** Undefined when nothing is cached (`cacheSeconds` 0). */
  readonly #epoch: LinkEpoch | undefined;
  readonly #records: TokenRecords;
  readonly #holder = randomToken(9);
  /** Usable links by document id: reused without a read for `cacheSeconds`, and without unsealing while the version is unchanged. */
  readonly #cache: LinkCache<UsableLink>;
  readonly #refreshing = new Map<string, Promise<StoredLink>>();

  constructor(options: UpstreamTokenStoreOptions) {
    this.#o = { leaseSeconds: 15, waitForRefreshMs: 10_000, cacheSeconds: 5, ...options };
    this.#records = tokenRecords(options.provider);
    this.#epoch =
      this.#o.cacheSeconds > 0 ? (options.epoch ?? new LinkEpoch(options.documents, options.clock)) : undefined;
    this.#cache = new LinkCache(this.#o.clock, this.#o.cacheSeconds, { epoch: this.#epoch });
  }

  get provider(): UpstreamProviderId {
    return this.#o.provider;
  }

  async #ref(principal: string): Promise<DocumentReference> {
    return (await this.#o.db()).doc(this.#records.path(principal));
  }

  /**
   * At most one Firestore read (none while a usable copy is fresh; one read of the link epoch,
   * shared by every link of the instance, when a copy's window has run out and it carries the
   * current tag). Undefined when the principal has no link. A copy near the end of its window is
   * still served, and confirmed beside the call.
   */
  async read(principal: string): Promise<StoredLink | undefined> {
    const key = sha256Id(principal);
    const cached = this.#cache.fresh(key) ?? (await this.#confirmThroughEpoch(key));
    if (cached) {
      const mark = this.#cache.dueForReread(key);
      if (mark) void this.#reread(principal, key, mark);
      else if (this.#cache.epochDue(key)) void this.#checkEpoch();
      return cached;
    }
    const stamp = this.#stamp();
    const expired = this.#cache.has(key);
    const found = await this.#load(principal);
    this.#keep(key, found, stamp);
    if (expired) this.#learnEpoch();
    return found.link;
  }

  #stamp(): Stamp {
    return { at: this.#o.clock.now().getTime(), epoch: this.#cache.epochTag() };
  }

  /** A copy past its window that carries the current tag is fresh again if the epoch is unchanged. */
  async #confirmThroughEpoch(key: string): Promise<UsableLink | undefined> {
    if (!this.#cache.renewable(key)) return undefined;
    await this.#checkEpoch();
    return this.#cache.fresh(key);
  }

  /**
   * An instance reads the epoch for the first time when one of its copies first needs confirming
   * (never on a cold start's first call): copies read after that carry its tag.
   */
  #learnEpoch(): void {
    if (this.#epoch && this.#epoch.tag === undefined) void this.#checkEpoch();
  }

  /** A failed read of the epoch confirms nothing: the link's own record is read instead. */
  #checkEpoch(): Promise<void> {
    return this.#epoch ? this.#epoch.check().catch(() => {}) : Promise.resolve();
  }

  /**
   * Re-reads a copy that calls keep using, so they never wait for the read: what it finds replaces
   * the copy (or drops it) unless this instance stored or dropped the link meanwhile. A failure
   * changes nothing; the copy's window still ends on time.
   */
  async #reread(principal: string, key: string, mark: ReadMark): Promise<void> {
    this.#learnEpoch();
    try {
      const stamp = this.#stamp();
      const found = await this.#load(principal);
      this.#cache.settle(
        key,
        mark,
        found.keep ? { link: found.keep, expiresAt: found.expiresAt, ...stamp } : undefined,
      );
    } catch {
      this.#cache.settle(key, mark, 'failed');
    }
  }

  /** One read of the record and what it means; the cache is left to the caller. */
  async #load(principal: string): Promise<Opened> {
    const data = await withStoreRetry(() => this.#o.documents.get(this.#records.path(principal)));
    return data === undefined ? NOTHING : this.#interpret(principal, this.#records.parse(data));
  }

  async #open(principal: string, doc: TokenRecord, stamp: Stamp): Promise<StoredLink | undefined> {
    const found = await this.#interpret(principal, doc);
    this.#keep(sha256Id(principal), found, stamp);
    return found.link;
  }

  /** Keeps a usable link just read (dated by `stamp`, taken before the read began), or drops the copy of anything else. */
  #keep(key: string, found: Opened, stamp: Stamp): void {
    if (found.keep) this.#cache.remember(key, found.keep, found.expiresAt, stamp.epoch, stamp.at);
    else this.#cache.drop(key);
  }

  async #interpret(principal: string, doc: TokenRecord): Promise<Opened> {
    const key = sha256Id(principal);
    if (isExpired(doc.expiresAt, this.#o.clock.now())) return NOTHING; // F2: TTL lags; an expired link is no link
    const base = { provider: this.#o.provider, principal, status: doc.status, user: doc.user, version: doc.version };
    if (doc.status !== 'linked' || !doc.sealed) return { link: { ...base, tokens: undefined } };
    const tokens = this.#cache.atVersion(key, doc.version)?.tokens ?? (await this.#unseal(principal, doc));
    if (!tokens) return { link: { ...base, tokens: undefined } };
    const link = { ...base, tokens };
    return { link, keep: link, expiresAt: doc.expiresAt };
  }

  async #unseal(principal: string, doc: TokenRecord): Promise<UpstreamTokens | undefined> {
    try {
      const opened = await LINK_TOKENS.open(this.#o.sealer, doc.sealed ?? '', this.#records.path(principal)); // none: fails like a bad one
      const tokens: UpstreamTokens = {
        ...opened.value,
        accessExpiresAt: doc.accessExpiresAt,
        ...(doc.refreshExpiresAt ? { refreshExpiresAt: doc.refreshExpiresAt } : {}),
      };
      if (opened.needsReseal) void this.#reseal(principal, doc.version, tokens);
      return tokens;
    } catch (err) {
      if ((err as { code?: unknown }).code === 'secret_unavailable') throw err; // 503, never "not linked"
      // E3/E6: a record that will not open reads as "not linked"; logged without content.
      this.#o.log.warn(`${this.#o.provider}_tokens_unseal_failed`, {
        errCode: String((err as { code?: unknown }).code ?? 'unknown'),
      });
      return undefined;
    }
  }

  #seal(principal: string, tokens: UpstreamTokens): Promise<string> {
    return LINK_TOKENS.seal(this.#o.sealer, tokens, this.#records.path(principal));
  }

  /** E6: lazily re-seal a record under the current key version. Best effort. */
  async #reseal(principal: string, version: number, tokens: UpstreamTokens): Promise<void> {
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
   * Stores fresh tokens from a sign-in. A principal already linked to another user of the
   * provider is never silently switched (C7, R5): only a disconnect (which deletes the record)
   * lets another user link. `precondition` reads inside the same transaction, so what it checked
   * still holds when the tokens land.
   */
  async link(
    principal: string,
    kind: 'grant' | 'session',
    tokens: UpstreamTokens,
    user: UpstreamUser,
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
      const existing = snap.exists ? this.#parsed(snap.data()) : undefined;
      if (existing && existing.user.id !== user.id) throw new LinkUserMismatchError();
      const version = existing ? existing.version + 1 : 1;
      t.set(
        ref,
        stripUndefined({
          ...this.#records.userFields(stripUndefined(user)),
          principalKind: kind,
          // A session link keeps its principal, so the "Your access" page can end it; a grant's is found from the grant.
          ...(kind === 'session' ? { principal } : {}),
          status: 'linked' as const,
          sealed,
          accessExpiresAt: this.#records.accessExpiryField(tokens.accessExpiresAt),
          refreshExpiresAt: tokens.refreshExpiresAt,
          version,
          linkedAt: existing ? existing.linkedAt : now,
          updatedAt: now,
          expiresAt: addSeconds(now, this.#o.ttlSeconds),
        }),
      );
    });
    this.#cache.drop(sha256Id(principal)); // the next read sees the new tokens
  }

  /** The stored record, or undefined when it does not validate. */
  #parsed(data: unknown): TokenRecord | undefined {
    try {
      return this.#records.parse(data);
    } catch {
      return undefined;
    }
  }

  /** Forgets the principal's tokens of this provider (D9), and tells every instance through the link epoch. Idempotent. */
  async remove(principal: string): Promise<void> {
    const ref = await this.#ref(principal);
    const db = await this.#o.db();
    await withStoreRetry(() => {
      const batch = db.batch().delete(ref);
      markLinkEnded(batch, db, this.#o.clock.now());
      return batch.commit();
    });
    this.#cache.drop(sha256Id(principal));
  }

  /**
   * Returns fresh tokens for `observed`: refreshes once across all instances
   * (D2), or adopts the tokens another instance stored meanwhile.
   */
  async refresh(observed: StoredLink, refresher: UpstreamRefresher): Promise<StoredLink> {
    const key = sha256Id(observed.principal);
    const inFlight = this.#refreshing.get(key);
    if (inFlight) return inFlight; // same instance: one refresh, everyone waits for it
    const p = this.#refresh(observed, refresher, this.#stamp())
      .catch((err: unknown) => {
        this.#cache.drop(key); // whatever went wrong, the copy we held is no longer to be trusted
        throw err;
      })
      .finally(() => this.#refreshing.delete(key));
    this.#refreshing.set(key, p);
    return p;
  }

  async #refresh(observed: StoredLink, refresher: UpstreamRefresher, stamp: Stamp): Promise<StoredLink> {
    const { principal } = observed;
    const lease = await acquireRefreshLease(await this.#o.db(), await this.#ref(principal), observed.version, {
      records: this.#records,
      holder: this.#holder,
      leaseSeconds: this.#o.leaseSeconds,
      waitMs: this.#o.waitForRefreshMs,
      clock: this.#o.clock,
    });
    if (lease.kind === 'changed') {
      const link = await this.#open(principal, lease.doc, stamp);
      if (link?.tokens) return link;
      throw new LinkRequiredError(this.#o.provider, 'refresh_failed');
    }
    return this.#refreshHoldingLease(principal, lease.doc, refresher, stamp);
  }

  async #refreshHoldingLease(
    principal: string,
    doc: TokenRecord,
    refresher: UpstreamRefresher,
    stamp: Stamp,
  ): Promise<StoredLink> {
    const ref = await this.#ref(principal);
    const current = await this.#unseal(principal, doc);
    // No refresh token (a never-expiring token the provider answered 401 to), or one past its stated expiry.
    if (!current?.refreshToken || (doc.refreshExpiresAt && isExpired(doc.refreshExpiresAt, this.#o.clock.now()))) {
      await this.#markFailed(principal, doc.version, stamp);
      throw new LinkRequiredError(this.#o.provider, 'refresh_failed');
    }
    let fresh: UpstreamTokens;
    try {
      fresh = await refresher(current.refreshToken); // outside any transaction (F4)
    } catch (err) {
      if (err instanceof UpstreamRefreshRejected) {
        // D3: another instance may have rotated meanwhile; only a still-current record is marked failed.
        const adopted = await this.#markFailed(principal, doc.version, stamp);
        if (adopted?.tokens) return adopted;
        throw new LinkRequiredError(this.#o.provider, 'refresh_failed', { cause: err });
      }
      await releaseRefreshLease(ref);
      throw err;
    }
    // D4: the provider may not rotate; keep the old refresh token (and its expiry) then.
    const merged: UpstreamTokens = fresh.refreshToken
      ? fresh
      : { ...fresh, refreshToken: current.refreshToken, refreshExpiresAt: current.refreshExpiresAt };
    const sealed = await this.#seal(principal, merged);
    const now = this.#o.clock.now();
    const stored = await transact(await this.#o.db(), async (t) => {
      const snap = await t.get(ref);
      if (!snap.exists || snap.get('version') !== doc.version) return false;
      t.update(ref, {
        sealed,
        status: 'linked',
        accessExpiresAt: this.#records.accessExpiryField(merged.accessExpiresAt),
        // Touched only when there is or was one (Rally states none, so its records never get the field).
        ...(merged.refreshExpiresAt || doc.refreshExpiresAt
          ? { refreshExpiresAt: merged.refreshExpiresAt ?? null }
          : {}),
        version: doc.version + 1,
        ...LEASE_RELEASED,
        updatedAt: now,
        expiresAt: addSeconds(now, this.#o.ttlSeconds),
      });
      return true;
    });
    if (!stored) throw new LinkRequiredError(this.#o.provider, 'refresh_failed');
    const link: UsableLink = {
      provider: this.#o.provider,
      principal,
      status: 'linked',
      user: doc.user,
      version: doc.version + 1,
      tokens: merged,
    };
    this.#cache.remember(sha256Id(principal), link, addSeconds(now, this.#o.ttlSeconds), stamp.epoch);
    this.#o.log.info(`${this.#o.provider}_token_refreshed`, {});
    return link;
  }

  /** Marks the record unusable (and tells every instance) unless someone stored newer tokens, which are returned instead. */
  async #markFailed(principal: string, version: number, stamp: Stamp): Promise<StoredLink | undefined> {
    const ref = await this.#ref(principal);
    const db = await this.#o.db();
    const newer = await transact(db, async (t) => {
      const snap = await t.get(ref);
      if (!snap.exists) return undefined;
      if (snap.get('version') !== version) return snap.data();
      t.update(ref, { status: 'refresh_failed', sealed: null, ...LEASE_RELEASED });
      markLinkEnded(t, db, this.#o.clock.now());
      return undefined;
    });
    return newer ? this.#open(principal, this.#records.parse(newer), stamp) : undefined;
  }
}
