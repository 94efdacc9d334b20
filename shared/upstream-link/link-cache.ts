/**
 * The per-instance copy of usable Rally links, so a burst of tool calls costs one Firestore read,
 * not one per call. A copy is reused without a read for `cacheSeconds` after it was read or
 * written (never past the record's own TTL, F2), and its opened tokens are reused without
 * unsealing again while the record's version is unchanged. In the last fifth of that window a
 * call still gets the copy and the store re-reads the record beside it (`dueForReread`), so a
 * principal that keeps calling never waits for the read; the copy it gets is never older than
 * the window. At most `limit` links are kept, the least recently stored dropped first. Only the
 * link store writes it; absent and unusable links are never kept.
 * @module
 */
import { isExpired, type Clock } from '../kernel/clock.js';
import { evictOldest } from '../kernel/lru.js';

/** Links kept per instance by default (oldest dropped first). */
export const LINK_CACHE_LIMIT = 2000;

/** A copy is re-read beside the calls using it once it is this far into its window. */
const REREAD_AFTER = 0.8;

interface Entry<L> {
  readonly link: L;
  /** When this copy was read or written (ms since epoch, injected clock). */
  readonly at: number;
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

  /** `cacheSeconds` 0 keeps nothing fresh: every read goes to Firestore (versions still spare an unseal). */
  constructor(clock: Clock, cacheSeconds: number, limit = LINK_CACHE_LIMIT) {
    this.#clock = clock;
    this.#cacheMs = cacheSeconds * 1000;
    this.#limit = limit;
  }

  /** The copy of `key`, if it is still fresh enough to use without a read. */
  fresh(key: string): L | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    const now = this.#clock.now();
    const age = now.getTime() - entry.at;
    return age >= 0 && age < this.#cacheMs && !isExpired(entry.expiresAt, now) ? entry.link : undefined;
  }

  /**
   * Whether the copy of `key` is in the last fifth of its window with no re-read started yet. If so,
   * it is marked as being re-read and the mark is returned: the re-read's outcome is stored with
   * `settle`, which applies it only if the copy is still the one marked (nothing was stored or
   * dropped meanwhile).
   */
  dueForReread(key: string): ReadMark | undefined {
    const entry = this.#entries.get(key);
    if (!entry || entry.rereading) return undefined;
    const age = this.#clock.now().getTime() - entry.at;
    if (age < this.#cacheMs * REREAD_AFTER) return undefined;
    entry.rereading = true;
    return entry;
  }

  /**
   * A background re-read of `mark`'s copy is over: keep what it found (`link` until `expiresAt`),
   * or drop the copy (`undefined`: no usable link), or, on `failed`, keep the copy until its window
   * ends, when a call reads again and meets the failure itself. Nothing happens if the copy changed.
   */
  settle(key: string, mark: ReadMark, outcome: { link: L; expiresAt: Date } | undefined | 'failed'): void {
    if (this.#entries.get(key) !== mark) return;
    if (outcome === 'failed') (mark as Entry<L>).rereading = false;
    else if (outcome === undefined) this.drop(key);
    else this.remember(key, outcome.link, outcome.expiresAt);
  }

  /** The copy of `key` at record version `version`, however old: its tokens need no unsealing. */
  atVersion(key: string, version: number): L | undefined {
    const link = this.#entries.get(key)?.link;
    return link?.version === version ? link : undefined;
  }

  /** Keeps `link` as read or written now, until `expiresAt` at the latest. */
  remember(key: string, link: L, expiresAt: Date): void {
    this.#entries.delete(key); // re-insert: the map's order is the eviction order
    evictOldest(this.#entries, this.#limit);
    this.#entries.set(key, { link, at: this.#clock.now().getTime(), expiresAt });
  }

  drop(key: string): void {
    this.#entries.delete(key);
  }
}
