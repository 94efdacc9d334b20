/**
 * Cross-site request checks for the state-changing forms our pages post (consent, session-link
 * confirmation): Fetch Metadata first, Origin as the fallback for browsers without it.
 * @module
 */
import type { Request } from '@google-cloud/functions-framework';

/** True when a state-changing POST provably came from our own pages (Fetch Metadata / Origin). */
export function isSameOriginPost(req: Request, issuer: string): boolean {
  const site = req.get('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin') return false;
  const origin = req.get('origin');
  return origin === undefined || origin === new URL(issuer).origin;
}
