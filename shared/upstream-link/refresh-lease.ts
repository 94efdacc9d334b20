/**
 * The refresh lease: a holder and an expiry kept on a provider's token record itself, so one
 * instance at a time refreshes a link's tokens (D2) while the others wait, then adopt what it
 * stored. The lease is taken in a transaction that reads nothing but the document; the provider
 * is called only after the transaction ends, holding the lease (F4). A holder that dies lets the
 * lease lapse after `leaseSeconds`.
 * @module
 */
import type { DocumentReference, Firestore } from '@google-cloud/firestore';
import { addSeconds, type Clock } from '../kernel/clock.js';
import { LinkRequiredError } from '../upstream/link-required.js';
import { transact, withStoreRetry } from '../store/firestore-utils.js';
import type { TokenRecord, TokenRecords } from '../store/upstream-tokens.repo.js';
import { LinkRefreshBusyError } from './errors.js';

export interface RefreshLeaseOptions {
  /** Whose records (the provider's collection and schema). */
  readonly records: TokenRecords;
  /** This instance's holder id. */
  readonly holder: string;
  readonly leaseSeconds: number;
  /** How long to wait for another holder before giving up (LinkRefreshBusyError). */
  readonly waitMs: number;
  readonly clock: Clock;
}

export type LeaseOutcome =
  /** The lease is ours for `doc` (the version observed): refresh, then store with LEASE_RELEASED. */
  | { readonly kind: 'acquired'; readonly doc: TokenRecord }
  /** Someone stored another version meanwhile: adopt it instead of refreshing. */
  | { readonly kind: 'changed'; readonly doc: TokenRecord };

/**
 * Takes the lease on the record at `ref` as of `version`, waiting while another holder has it.
 * Throws LinkRequiredError when the record is gone or no longer linked, LinkRefreshBusyError when
 * the other holder keeps it past `waitMs`.
 */
export async function acquireRefreshLease(
  db: Firestore,
  ref: DocumentReference,
  version: number,
  o: RefreshLeaseOptions,
): Promise<LeaseOutcome> {
  const deadline = Date.now() + o.waitMs;
  for (;;) {
    const now = o.clock.now();
    const step = await transact(db, async (t) => {
      const snap = await t.get(ref);
      if (!snap.exists) return { kind: 'gone' } as const;
      const doc = o.records.parse(snap.data());
      if (doc.version !== version) return { kind: 'changed', doc } as const;
      if (doc.status !== 'linked') return { kind: 'gone' } as const;
      if (doc.leaseUntil && doc.leaseUntil > now && doc.leaseHolder !== o.holder) return { kind: 'busy' } as const;
      t.update(ref, { leaseHolder: o.holder, leaseUntil: addSeconds(now, o.leaseSeconds) });
      return { kind: 'acquired', doc } as const;
    });
    if (step.kind === 'gone') throw new LinkRequiredError(o.records.provider, 'refresh_failed');
    if (step.kind !== 'busy') return step;
    if (Date.now() > deadline) throw new LinkRefreshBusyError();
    await new Promise((r) => setTimeout(r, 100 + Math.random() * 150));
  }
}

/** The fields that release the lease: written with the refreshed tokens, or with a failed mark. */
export const LEASE_RELEASED = { leaseHolder: null, leaseUntil: null } as const;

/** Releases the lease after a refresh that stored nothing; best effort (it lapses anyway). */
export async function releaseRefreshLease(ref: DocumentReference): Promise<void> {
  await withStoreRetry(() => ref.update(LEASE_RELEASED)).catch(() => {});
}
