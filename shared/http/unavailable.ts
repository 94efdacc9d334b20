/**
 * "A dependency is down" (Secret Manager, Firestore): fail closed with 503
 * and Retry-After, never a fallback key, never a stack trace (E8, F5, K2).
 * The one 503 of every surface: each surface's error mapper calls
 * `respondUnavailable` and writes only the body, in its own shape.
 * @module
 */
import type { Response } from '@google-cloud/functions-framework';
import type { UnavailableErrorCode } from '../kernel/errors.js';
import type { Logger } from '../logging/logger.js';

const UNAVAILABLE_CODES: ReadonlySet<string> = new Set<UnavailableErrorCode>([
  'secret_unavailable',
  'store_unavailable',
  'key_disabled_all',
]);

/** What every machine-readable 503 says (a page words it for a person: shared/http/page-errors.ts). */
export const UNAVAILABLE_MESSAGE = 'The service is temporarily unavailable. Try again shortly.';

export function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UNAVAILABLE_CODES.has(code);
}

/**
 * Logs the outage (its code only) and, unless the answer has started, sends
 * 503 with Retry-After and no-store; `writeBody` adds the surface's body.
 */
export function respondUnavailable(
  res: Response,
  log: Logger,
  err: unknown,
  writeBody: (message: string) => void,
): void {
  log.error('dependency_unavailable', { errCode: String((err as { code?: unknown }).code) });
  if (res.headersSent) return;
  res.status(503).set({ 'Retry-After': '5', 'Cache-Control': 'no-store' });
  writeBody(UNAVAILABLE_MESSAGE);
}
