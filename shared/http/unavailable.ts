/**
 * "A dependency is down" (Secret Manager, Firestore): fail closed with 503
 * and Retry-After, never a fallback key, never a stack trace (E8, F5, K2).
 * @module
 */
import type { Response } from '@google-cloud/functions-framework';
import type { Logger } from '../logging/logger.js';
import { sendErrorPage } from './pages.js';

const UNAVAILABLE_CODES = new Set(['secret_unavailable', 'store_unavailable', 'key_disabled_all']);

export function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UNAVAILABLE_CODES.has(code);
}

export function respondUnavailable(
  res: Response,
  log: Logger,
  err: unknown,
  kind: 'json' | 'html',
  requestId?: string,
): void {
  log.error('dependency_unavailable', { errCode: String((err as { code?: unknown }).code), requestId });
  if (res.headersSent) return;
  res.status(503).set({ 'Retry-After': '5', 'Cache-Control': 'no-store' });
  if (kind === 'html') {
    sendErrorPage(
      res,
      503,
      'Temporarily unavailable',
      'The server cannot reach a service it depends on. Try again in a minute.',
    );
    return;
  }
  res.json({
    error: 'temporarily_unavailable',
    error_description: `The service is temporarily unavailable. Try again shortly.${requestId ? ` (Request ID ${requestId})` : ''}`,
  });
}
