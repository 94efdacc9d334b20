/**
 * Cross-site request checks for the state-changing forms our pages post (consent, session-link
 * confirmation): Fetch Metadata first, Origin as the fallback for browsers without it.
 * @module
 */
import type { Request } from '@google-cloud/functions-framework';

/**
 * True when a state-changing POST provably came from our own pages (Fetch Metadata / Origin).
 * `allowNullOrigin`: a page served with `Referrer-Policy: no-referrer` posts `Origin: null`; that
 * is accepted only when the browser also vouches with `Sec-Fetch-Site: same-origin`.
 */
export function isSameOriginPost(req: Request, issuer: string, o: { allowNullOrigin?: boolean } = {}): boolean {
  const site = req.get('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin') return false;
  const origin = req.get('origin');
  if (origin === 'null' && o.allowNullOrigin === true) return site === 'same-origin';
  return origin === undefined || origin === new URL(issuer).origin;
}
