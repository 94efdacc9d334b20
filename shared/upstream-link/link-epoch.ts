/**
 * An instance's view of the link epoch (shared/store/link-epoch.repo.ts): the last tag it read and
 * when that read began. A link read after the tag was known is as current as the latest read of
 * the same tag, so when the link cache's window runs out, one read of the epoch confirms every
 * link of the instance instead of one read per link (./link-cache.ts). Reads asked for while one
 * is under way share it: it began no earlier than they arrived minus its own duration, and what it
 * confirms is dated from when it began.
 * @module
 */
import type { Clock } from '../kernel/clock.js';
import type { DocumentReader } from '../store/firestore-rest.js';
import { LINK_EPOCH_PATH, parseLinkEpoch } from '../store/link-epoch.repo.js';

export class LinkEpoch {
  readonly #documents: DocumentReader;
  readonly #clock: Clock;
  /** The last tag read, and when (ms, injected clock) the latest read that found it began. */
  #known: { readonly tag: string; readonly since: number } | undefined;
  #reading: Promise<void> | undefined;

  constructor(documents: DocumentReader, clock: Clock) {
    this.#documents = documents;
    this.#clock = clock;
  }

  /** The tag to mark a link read starting now with: one read earlier, so any later change replaces it. */
  get tag(): string | undefined {
    return this.#known?.tag;
  }

  /** When a read last found `tag` still current (ms), or undefined if it is not the current tag. */
  confirmedAt(tag: string): number | undefined {
    return this.#known?.tag === tag ? this.#known.since : undefined;
  }

  /** Reads the tag (one read however many ask at once). Throws when Firestore does; the caller reads its link instead. */
  check(): Promise<void> {
    this.#reading ??= this.#read().finally(() => (this.#reading = undefined));
    return this.#reading;
  }

  async #read(): Promise<void> {
    const began = this.#clock.now().getTime();
    // No retry here: a failed read only means the link's own record is read, which retries.
    const tag = parseLinkEpoch(await this.#documents.get(LINK_EPOCH_PATH), this.#clock.now());
    // A slower read that began earlier never dates a tag back.
    if (this.#known?.tag !== tag || began > this.#known.since) this.#known = { tag, since: began };
  }
}
