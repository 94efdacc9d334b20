/**
 * The two shapes every repository repeats, written once:
 *
 * - `readDoc`: read with retries → absent when it does not exist → validated with the
 *   collection's zod schema (CorruptRecordError, never its content) → absent once expired by the
 *   caller's clock (TTL deletion lags, F2). `getDoc` is the same read without the expiry step, for
 *   callers that answer "expired" differently from "missing"; `parseDoc` is the validation alone,
 *   for data read another way (the REST reader, a query).
 * - `consumeOnce`: a single-use record is read, judged, and spent (deleted or marked) by a write
 *   guarded by the `lastUpdateTime` it was read at. Of concurrent consumers exactly one spends it
 *   and the others learn they lost, without queueing on a transaction lock (B6, F3); a refusal
 *   leaves the record untouched.
 * @module
 */
import type { DocumentReference, Timestamp, Transaction } from '@google-cloud/firestore';
import type { z } from 'zod';
import { isExpired } from '../kernel/clock.js';
import type { CollectionName } from './collections.js';
import { CorruptRecordError, withStoreRetry, writeIfUnchanged } from './firestore-utils.js';

/** A collection's stored shape: its name (named by CorruptRecordError) and its zod schema. */
export interface DocType<T> {
  readonly collection: CollectionName;
  readonly schema: z.ZodType<T>;
}

export function docType<T>(collection: CollectionName, schema: z.ZodType<T>): DocType<T> {
  return { collection, schema };
}

/** Validates stored fields: a record that fails is a CorruptRecordError for its collection. */
export function parseDoc<T>(type: DocType<T>, data: unknown): T {
  const parsed = type.schema.safeParse(data);
  if (!parsed.success) throw new CorruptRecordError(type.collection);
  return parsed.data;
}

/** A validated document and the update time it was read at (the precondition of a later write). */
export interface StoredDoc<T> {
  readonly data: T;
  readonly updateTime: Timestamp;
}

/**
 * Reads and validates one document; undefined when it does not exist. Inside a transaction
 * (`t`) the read joins it and the transaction's own retries apply; otherwise it is retried
 * like every store operation. Expiry is not checked: see `readDoc`.
 */
export async function getDoc<T>(
  ref: DocumentReference,
  type: DocType<T>,
  t?: Transaction,
): Promise<StoredDoc<T> | undefined> {
  const snap = t ? await t.get(ref) : await withStoreRetry(() => ref.get());
  if (!snap.exists || !snap.updateTime) return undefined;
  return { data: parseDoc(type, snap.data()), updateTime: snap.updateTime };
}

/** Whether a record is past its `expiresAt` at `now` (it reads as absent even before TTL deletes it). */
export const isExpiredDoc = (doc: { readonly expiresAt: Date }, now: Date): boolean => isExpired(doc.expiresAt, now);

/** The document, or undefined when it does not exist or has expired at `now` (the caller's injected clock). */
export async function readDoc<T extends { readonly expiresAt: Date }>(
  ref: DocumentReference,
  type: DocType<T>,
  now: Date,
  t?: Transaction,
): Promise<T | undefined> {
  const stored = await getDoc(ref, type, t);
  return stored && !isExpiredDoc(stored.data, now) ? stored.data : undefined;
}

/** What `consumeOnce` does with the record it read. */
export type Consumption<R> =
  /** Leave the record as it is (a refusal that must not burn it) and answer `result`. */
  | { readonly keep: R }
  /**
   * Spend it, by deleting it or writing `update` (a "used" mark): `won` when this call spent it,
   * `lost` when a concurrent consumer spent or changed it first.
   */
  | { readonly spend: 'delete' | { readonly update: Record<string, unknown> }; readonly won: R; readonly lost: R };

/**
 * Single use, atomically: reads the record (`missing` when absent), lets `judge` decide from that
 * snapshot, and spends it with a write that holds only if the record is still the one judged.
 * So a check and its consumption are one atomic step, and exactly one of any number of
 * concurrent consumers wins (B6, F3, H14).
 */
export async function consumeOnce<T, R>(
  ref: DocumentReference,
  type: DocType<T>,
  missing: R,
  judge: (doc: T) => Consumption<R>,
): Promise<R> {
  const stored = await getDoc(ref, type);
  if (!stored) return missing;
  const decision = judge(stored.data);
  if ('keep' in decision) return decision.keep;
  const write = decision.spend === 'delete' ? ({ delete: true } as const) : { update: decision.spend.update };
  return (await writeIfUnchanged(ref, stored.updateTime, write)) ? decision.won : decision.lost;
}
