/**
 * The one mapper for OAuth-shaped errors: the RFC 6749 §5.2 JSON
 * (`{ error, error_description }`) of the authorization function's API
 * endpoints (token, revoke, register, metadata) and of the metadata
 * function, the §4.1.2.1 error redirect back to a validated client, and the
 * JSON any function answers before its own surface can (start-up, routing).
 * Handlers throw an OAuthError (or name a refusal); the status, headers and
 * body are decided here. Descriptions are written by us, never request text.
 * @module
 */
import type { Response } from '@google-cloud/functions-framework';
import type { OAuthErrorCode } from '../kernel/errors.js';
import type { Logger } from '../logging/logger.js';
import type { EdgeError } from '../http/edge-error.js';
import { respondPageError, sendRefusalPage } from '../http/page-errors.js';
import { isUnavailable, respondUnavailable } from '../http/unavailable.js';
import { AddressThrottledError } from '../ratelimit/address-throttle.js';
import { OAuthError } from './errors.js';
import { clientRedirect } from './client-redirect.js';

/** Answers that are not an OAuthError: they have no `error_description`, or no body. */
export type JsonRefusal =
  /** No such endpoint. */
  | { readonly code: 'not_found' }
  /** A method the endpoint does not serve: 405 with Allow and no body. */
  | { readonly code: 'method_not_allowed'; readonly allow: string }
  /** A bug escaped a handler, or the router failed: nothing more is said. */
  | { readonly code: 'server_error' }
  /** The function could not start (configuration, a dependency at start-up). */
  | { readonly code: 'starting' };

export function sendJsonRefusal(res: Response, refusal: JsonRefusal): void {
  switch (refusal.code) {
    case 'not_found':
      res.status(404).set('Cache-Control', 'no-store').json({ error: 'not_found' });
      return;
    case 'method_not_allowed':
      res.status(405).set('Allow', refusal.allow).end();
      return;
    case 'server_error':
      res.status(500).set('Cache-Control', 'no-store').json({ error: 'server_error' });
      return;
    case 'starting':
      res.status(503).set('Cache-Control', 'no-store').json({
        error: 'temporarily_unavailable',
        error_description: 'The service is starting or misconfigured. Try again shortly.',
      });
      return;
    default: {
      const never: never = refusal;
      throw new Error(`unhandled refusal ${JSON.stringify(never)}`);
    }
  }
}

/** A request refused before its handler (bad body or URL): `invalid_request` with the edge's 400, 413 or 415. */
export function sendEdgeErrorJson(err: EdgeError, res: Response): void {
  res
    .status(err.status)
    .set('Cache-Control', 'no-store')
    .json({ error: 'invalid_request', error_description: err.publicMessage });
}

/** Where an authorization-endpoint error goes back to: the validated redirect URI, with the client's state. */
export interface ClientErrorTarget {
  readonly redirectUri: string;
  readonly issuer: string;
  readonly state: string | undefined;
}

/** The §4.1.2.1 error redirect URL (also offered as a link when the browser stays with us). */
export function clientErrorUrl(to: ClientErrorTarget, code: OAuthErrorCode, description?: string): string {
  return clientRedirect(to.redirectUri, to.issuer, { error: code, error_description: description, state: to.state });
}

/** Sends the browser back to the client with an OAuth error: 302 from GET /authorize, 303 after POST /consent. */
export function redirectOAuthError(
  res: Response,
  status: 302 | 303,
  to: ClientErrorTarget,
  code: OAuthErrorCode,
  description?: string,
): void {
  res.set('Cache-Control', 'no-store').redirect(status, clientErrorUrl(to, code, description));
}

/** L20 on the authorization function: an address over its limit gets 429 in the OAuth shape. */
function asOAuthError(caught: unknown): unknown {
  if (!(caught instanceof AddressThrottledError)) return caught;
  return new OAuthError(
    'temporarily_unavailable',
    `Too many requests from your network. Try again in ${caught.retryAfterSeconds} seconds.`,
    { status: 429, retryAfterSeconds: caught.retryAfterSeconds, internal: `address limit ${caught.kind}` },
  );
}

/**
 * The authorization function's error mapper: whatever a handler threw, as
 * OAuth JSON on API endpoints (`kind` 'json') or as the error page on the
 * endpoints a browser opens ('html').
 */
export function respondAuthorizationError(log: Logger, res: Response, kind: 'json' | 'html', caught: unknown): void {
  const failed = { code: 'authorization_failed', event: 'authorization_server_failed' } as const;
  if (isUnavailable(caught)) {
    if (kind === 'html') return respondPageError(res, log, caught, failed);
    return respondUnavailable(res, log, caught, (message) =>
      res.json({ error: 'temporarily_unavailable', error_description: message }),
    );
  }
  if (res.headersSent) return;
  const err = asOAuthError(caught);
  if (!(err instanceof OAuthError)) {
    if (kind === 'html') return respondPageError(res, log, err, failed);
    log.error(failed.event, { errName: err instanceof Error ? err.name : typeof err });
    res
      .status(500)
      .set('Cache-Control', 'no-store')
      .json({ error: 'server_error', error_description: 'Internal error.' });
    return;
  }
  log.info('oauth_error', { errCode: err.code, reason: err.internal });
  if (kind === 'html') {
    return sendRefusalPage(res, {
      code: 'request_refused',
      status: err.status,
      publicMessage: err.description,
      retryAfterSeconds: err.retryAfterSeconds,
    });
  }
  if (err.retryAfterSeconds !== undefined) res.set('Retry-After', String(err.retryAfterSeconds));
  if (err.code === 'invalid_client' && err.status === 401) res.set('WWW-Authenticate', 'Basic realm="rally-mcp"');
  res.status(err.status).set('Cache-Control', 'no-store').json({ error: err.code, error_description: err.description });
}
