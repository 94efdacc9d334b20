/**
 * The per-instance copy of usable links, so a burst of tool calls costs no Firestore read. A copy
 * is reused without a read for `cacheSeconds` after it was last confirmed (never past the record's
 * own TTL, F2), and its opened tokens are reused without unsealing again while the record's
 * version is unchanged.
 *
 * Confirmed means: read or written by this instance, or, for a copy marked with the link epoch's
 * tag (./link-epoch.ts), found unchanged by a later read of the epoch. Every change that ends a
 * link replaces that tag in the same write, so when the window runs out one read of the epoch
 * confirms all the instance's copies at once; only a copy older than `RECORD_MAX_AGE_SECONDS` (or
 * one read before the instance knew the tag) needs its own record read again. That bounds what
 * the tag cannot see, a record changed by hand, to the record age.
 *
 * In the last fifth of either period a call still gets the copy and the store confirms it beside
 * the call (`dueForReread`, `epochDue`), so a principal that keeps calling never waits for a
 * read; the copy it gets is never older than the window. At most `limit` links are kept, the
 * least recently stored dropped first. Only the link store writes it; absent and unusable links
 * are never kept.
 * @module
 */
import { isExpired, type Clock } from '../kernel/clock.js';
import { evictOldest } from '../kernel/lru.js';
import type { LinkEpoch } from './link-epoch.js';

/** Links kept per instance by default (oldest dropped first). */
export const LINK_CACHE_LIMIT = 2000;

/** A copy confirmed only through the link epoch has its record read again after this long (changes made by hand). */
export const RECORD_MAX_AGE_SECONDS = 60;

/** A copy is confirmed beside the calls using it once it is this far into its period. */
const REREAD_AFTER = 0.8;

interface Entry<L> {
  readonly link: L;
  /** When this copy was read or written (ms since epoch, injected clock). */
  readonly at: number;
  /** The link epoch's tag known before that read or write began; undefined: not known yet. */
  readonly epoch: string | undefined;
  /** The record's own TTL: a cached copy never outlives it. */
  readonly expiresAt: Date;
  /** A background re-read of this copy is under way. */
  rereading?: boolean;
}

/** Which copy a background re-read started from (opaque to the store). */
export type ReadMark = object;

export class LinkCache<L extends { readonly version: number }> {
  readonly #entries = new Map<string, Entry<L>>();
  readonly #clock: Clock;
  readonly #cacheMs: number;
  readonly #limit: number;
  readonly #epoch: LinkEpoch | undefined;

  /**
   * `cacheSeconds` 0 keeps nothing fresh: every read goes to Firestore (versions still spare an
   * unseal), and the epoch is not used. Without `epoch`, every copy's record is read again after
   * the window.
   */
  constructor(clock: Clock, cacheSeconds: number, o: { epoch?: LinkEpoch | undefined; limit?: number } = {}) {
    this.#clock = clock;
    this.#cacheMs = cacheSeconds * 1000;
    this.#limit = o.limit ?? LINK_CACHE_LIMIT;
    this.#epoch = cacheSeconds > 0 ? o.epoch : undefined;
  }

  /** The tag to mark a read or write that begins now with (see `remember`). */
  epochTag(): string | undefined {
    return this.#epoch?.tag;
  }

  /** Whether there is a copy of `key`, fresh or not. */
  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** The copy of `key`, if it is still fresh enough to use without a read. */
  fresh(key: string): L | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    const now = this.#clock.now();
    const ms = now.getTime();
    const age = ms - this.#confirmedAt(entry);
    const fresh = age >= 0 && age < this.#cacheMs && this.#recordAge(entry, ms) < this.#recordLimitMs(entry);
    return fresh && !isExpired(entry.expiresAt, now) ? entry.link : undefined;
  }

  /**
   * Whether reading the link epoch could make the copy of `key` fresh again: it carries the current
   * tag, and neither its record age nor its record's TTL has run out.
   */
  renewable(key: string): boolean {
    const entry = this.#entries.get(key);
    if (!entry || entry.epoch === undefined || this.#epoch?.confirmedAt(entry.epoch) === undefined) return false;
    const now = this.#clock.now();
    return this.#recordAge(entry, now.getTime()) < this.#recordLimitMs(entry) && !isExpired(entry.expiresAt, now);
  }

  /** Whether the fresh copy of `key` is in the last fifth of its window through the epoch: read the epoch beside the call. */
  epochDue(key: string): boolean {
    const entry = this.#entries.get(key);
    if (!entry || entry.epoch === undefined) return false;
    return this.#clock.now().getTime() - this.#confirmedAt(entry) >= this.#cacheMs * REREAD_AFTER;
  }

  /**
   * Whether the copy of `key` is in the last fifth of its record's period (the window for a copy
   * without the epoch's tag, the record age for one with it) with no re-read started yet. If so,
   * it is marked as being re-read and the mark is returned: the re-read's outcome is stored with
   * `settle`, which applies it only if the copy is still the one marked (nothing was stored or
   * dropped meanwhile).
   */
  dueForReread(key: string): ReadMark | undefined {
    const entry = this.#entries.get(key);
    if (!entry || entry.rereading) return undefined;
    const ms = this.#clock.now().getTime();
    if (this.#recordAge(entry, ms) < this.#recordLimitMs(entry) * REREAD_AFTER) return undefined;
    entry.rereading = true;
    return entry;
  }

  /**
   * A background re-read of `mark`'s copy is over: keep what it found (`link` until `expiresAt`),
   * or drop the copy (`undefined`: no usable link), or, on `failed`, keep the copy until its window
   * ends, when a call reads again and meets the failure itself. Nothing happens if the copy changed.
   */
  settle(
    key: string,
    mark: ReadMark,
    outcome: { link: L; expiresAt: Date; epoch: string | undefined; at: number } | undefined | 'failed',
  ): void {
    if (this.#entries.get(key) !== mark) return;
    if (outcome === 'failed') (mark as Entry<L>).rereading = false;
    else if (outcome === undefined) this.drop(key);
    else this.remember(key, outcome.link, outcome.expiresAt, outcome.epoch, outcome.at);
  }

  /** The copy of `key` at record version `version`, however old: its tokens need no unsealing. */
  atVersion(key: string, version: number): L | undefined {
    const link = this.#entries.get(key)?.link;
    return link?.version === version ? link : undefined;
  }

  /**
   * Keeps `link` as read or written at `at` (default now), until `expiresAt` at the latest. `epoch`
   * must be the tag `epochTag()` gave before that read or write began.
   */
  remember(key: string, link: L, expiresAt: Date, epoch: string | undefined, at = this.#clock.now().getTime()): void {
    this.#entries.delete(key); // re-insert: the map's order is the eviction order
    evictOldest(this.#entries, this.#limit);
    this.#entries.set(key, { link, at, epoch, expiresAt });
  }

  drop(key: string): void {
    this.#entries.delete(key);
  }

  /** When the copy was last known current: its own read, or a later read of the epoch that found its tag. */
  #confirmedAt(entry: Entry<L>): number {
    const viaEpoch = entry.epoch === undefined ? undefined : this.#epoch?.confirmedAt(entry.epoch);
    return viaEpoch === undefined ? entry.at : Math.max(entry.at, viaEpoch);
  }

  #recordAge(entry: Entry<L>, ms: number): number {
    return ms - entry.at;
  }

  /** How long the copy's record is trusted without its own read: the window, or the record age when the epoch can confirm it. */
  #recordLimitMs(entry: Entry<L>): number {
    return entry.epoch !== undefined && this.#epoch
      ? Math.max(this.#cacheMs, RECORD_MAX_AGE_SECONDS * 1000)
      : this.#cacheMs;
  }
}
