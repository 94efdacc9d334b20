/**
 * MCP 2026-07-28 sign-in prompts whose `requestState` came back: one document
 * per prompt id (doc id = sha256(id)), created when the client retries. The
 * create is the single-use check: a second retry with the same state finds
 * the document and is refused (replay), however many arrive at once.
 * @module
 */
import type { Firestore } from '@google-cloud/firestore';
import { z } from 'zod';
import { sha256Id } from '../kernel/hash.js';
import { COLLECTIONS } from './collections.js';
import { statusOf, withStoreRetry, zTimestamp } from './firestore-utils.js';

export const SpentRequestStateDoc = z.object({
  spentAt: zTimestamp,
  /** The state's own expiry: after it the state is refused anyway, so the record may go. */
  expiresAt: zTimestamp,
});

/** gRPC ALREADY_EXISTS. */
const ALREADY_EXISTS = 6;

/**
 * Spends the prompt `id`: true for the first caller, false for every later one.
 * A create that failed in flight and is retried also reads as spent: it fails closed.
 */
export async function spendRequestState(db: Firestore, id: string, now: Date, expiresAt: Date): Promise<boolean> {
  try {
    await withStoreRetry(() =>
      db.doc(`${COLLECTIONS.spentRequestStates}/${sha256Id(id)}`).create({ spentAt: now, expiresAt }),
    );
    return true;
  } catch (err) {
    if (statusOf(err) === ALREADY_EXISTS) return false;
    throw err;
  }
}
