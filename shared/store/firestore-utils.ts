/**
 * Helpers every repository shares: timestamps parsed with zod, bounded
 * retries for contention, and one error for "Firestore is not answering".
 * @module
 */
import type { DocumentReference, Firestore, Timestamp, Transaction } from '@google-cloud/firestore';
import { z } from 'zod';
import { CodedError } from '../kernel/errors.js';

/** A Firestore Timestamp on read (written as a JS Date). */
export const zTimestamp = z
  .custom<{ toDate(): Date }>(
    (v) => typeof (v as { toDate?: unknown } | null)?.toDate === 'function',
    'expected a Timestamp',
  )
  .transform((v) => v.toDate());

/** Firestore is unavailable or overloaded: surfaces answer 503, never success without the write (F5). */
export class StoreUnavailableError extends CodedError<'store_unavailable'> {
  constructor(options?: { cause?: unknown }) {
    super('store_unavailable', 'Firestore is unavailable', options);
    this.name = 'StoreUnavailableError';
  }
}

/** A stored document failed validation: treated as absent by callers, logged without content. */
export class CorruptRecordError extends CodedError<'corrupt_record'> {
  constructor(readonly collection: string) {
    super('corrupt_record', `corrupt record in ${collection}`);
    this.name = 'CorruptRecordError';
  }
}

// gRPC/REST status codes that mean "try again later".
const RETRYABLE = new Set([
  4 /* DEADLINE_EXCEEDED */, 8 /* RESOURCE_EXHAUSTED */, 10 /* ABORTED */, 14 /* UNAVAILABLE */,
]);
const UNAVAILABLE = new Set([4, 8, 10, 13, 14]);

export function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

function isConnectionError(err: unknown): boolean {
  const msg = err instanceof Error ? `${err.message} ${String((err as { cause?: unknown }).cause ?? '')}` : '';
  return /ECONNREFUSED|ECONNRESET|fetch failed|socket hang up|ETIMEDOUT|EHOSTUNREACH/i.test(msg);
}

/** How long one Firestore operation may take before we answer 503 (the client library may otherwise wait minutes). */
export const STORE_OPERATION_TIMEOUT_MS = 8000;

class StoreTimeoutError extends Error {
  constructor() {
    super('Firestore did not answer in time');
    this.name = 'StoreTimeoutError';
  }
}

/** Bounds `op`: a hung call becomes StoreUnavailableError (F5), never a request that waits forever. */
function withTimeout<T>(op: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreTimeoutError()), ms);
  });
  return Promise.race([op, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs `op` with bounded retries and full jitter; maps persistent failure to
 * StoreUnavailableError. A timed-out attempt is not retried: it may still land,
 * and single-use writes must not be repeated blindly.
 */
export async function withStoreRetry<T>(
  op: () => Promise<T>,
  attempts = 3,
  timeoutMs = STORE_OPERATION_TIMEOUT_MS,
): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await withTimeout(op(), timeoutMs);
    } catch (err) {
      if (err instanceof StoreTimeoutError) throw new StoreUnavailableError({ cause: err });
      const code = statusOf(err);
      const retryable = (code !== undefined && RETRYABLE.has(code)) || isConnectionError(err);
      if (retryable && i < attempts) {
        await new Promise((r) => setTimeout(r, Math.random() * 100 * 2 ** i));
        continue;
      }
      if ((code !== undefined && UNAVAILABLE.has(code)) || isConnectionError(err))
        throw new StoreUnavailableError({ cause: err });
      throw err;
    }
  }
}

/** gRPC FAILED_PRECONDITION: a write's precondition (e.g. `lastUpdateTime`) did not hold. */
export function isPreconditionFailure(err: unknown): boolean {
  return statusOf(err) === 9 || (err instanceof StoreUnavailableError && statusOf(err.cause) === 9);
}

/**
 * Consume-once without a lock queue: read outside a transaction, then write
 * with `lastUpdateTime` as precondition. Under 50-way contention exactly one
 * writer wins and the others fail fast (F3), instead of queueing on a
 * transaction lock until a deadline. Returns false when someone else won.
 */
export async function writeIfUnchanged(
  ref: DocumentReference,
  updateTime: Timestamp,
  write: { delete: true } | { update: Record<string, unknown> },
): Promise<boolean> {
  try {
    await withStoreRetry(() =>
      'delete' in write
        ? ref.delete({ lastUpdateTime: updateTime })
        : ref.update(write.update, { lastUpdateTime: updateTime }),
    );
    return true;
  } catch (err) {
    if (isPreconditionFailure(err) || statusOf(err) === 5 /* NOT_FOUND */) return false;
    throw err;
  }
}

/** A transaction with the same retry policy. The callback must only read and write: no Rally calls (F4). */
export function transact<T>(db: Firestore, fn: (t: Transaction) => Promise<T>): Promise<T> {
  return withStoreRetry(() => db.runTransaction(fn, { maxAttempts: 5 }));
}
