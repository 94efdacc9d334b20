/**
 * The one mapper for error pages: every page a browser gets when something
 * is refused or fails (the authorization function's /authorize, /consent and
 * /connect/<id>, the OAuth callback, the session-link confirmation) is chosen
 * and worded here. Handlers name a refusal by its code; this module picks the
 * status, the title and the advice. Pages never render text from the request,
 * except the name of a repeated parameter, HTML-escaped, as they always have.
 * @module
 */
import type { Response } from '@google-cloud/functions-framework';
import type { Logger } from '../logging/logger.js';
import { html, sendPage } from './pages.js';
import { isUnavailable, respondUnavailable } from './unavailable.js';

const AGAIN_FROM_APP = 'Start the sign-in again from your application.';
const NOT_FROM_OUR_PAGE = 'This confirmation did not come from this server’s page.';
const DIFFERENT_USER = 'Signed in as a different Rally user';

/** Refusals with fixed wording: status, title (also the heading) and advice. */
const FIXED = {
  // GET /authorize, before the client's redirect URI is trusted (so the browser stays here)
  unknown_client: [
    400,
    'Unknown application',
    `This application is not registered with this server. ${AGAIN_FROM_APP}`,
  ],
  redirect_uri_missing: [400, 'Invalid sign-in request', 'The application did not say where to return after sign-in.'],
  redirect_uri_mismatch: [
    400,
    'Invalid sign-in request',
    'The return address does not match the one this application registered.',
  ],
  // POST /consent
  consent_not_same_origin: [403, 'Request refused', `${NOT_FROM_OUR_PAGE} ${AGAIN_FROM_APP}`],
  consent_request_expired: [
    403,
    'This sign-in request has expired',
    `It was already used, has expired, or did not come from this page. ${AGAIN_FROM_APP}`,
  ],
  // any browser endpoint of the authorization function
  authorization_failed: [500, 'Something went wrong', AGAIN_FROM_APP],
  // GET/POST /connect/<id>
  connect_link_expired: [
    404,
    'This link has expired',
    'Connection links work once and for 10 minutes. Ask your agent again to get a new one.',
  ],
  connect_not_same_origin: [403, 'Request refused', NOT_FROM_OUR_PAGE],
  // GET /oauth/callback
  callback_invalid_response: [
    400,
    'Invalid sign-in response',
    'This page was opened without a valid sign-in in progress. Start again from your application.',
  ],
  callback_browser_mismatch: [
    403,
    'This sign-in belongs to another browser',
    'For your safety, a sign-in can only be completed in the browser that started it, and only the latest one started in this browser. Start again from your application.',
  ],
  callback_state_expired: [
    400,
    'This sign-in link has expired',
    'It was already used or is too old. Start again from your application.',
  ],
  callback_provider_disabled: [
    400,
    'Sign-in could not be completed',
    'This sign-in went to a service this server no longer connects to. Start again from your application.',
  ],
  callback_failed: [500, 'Sign-in could not be completed', `Something went wrong on our side. ${AGAIN_FROM_APP}`],
  relink_different_user: [
    403,
    DIFFERENT_USER,
    'This connection was requested for another Rally account, so nothing was changed. Sign in to Rally as the account your application uses.',
  ],
  relink_grant_not_active: [
    403,
    'Sign-in could not be completed',
    'This connection is no longer authorized, so nothing was changed. Sign in again from your application.',
  ],
  relink_link_user_mismatch: [403, DIFFERENT_USER, 'Nothing was changed.'],
  // /connections (issue 18)
  connections_disabled: [404, 'Not available', 'Connection tokens are turned off on this server.'],
  connections_not_found: [404, 'Not found', 'There is no such page. Open the connection tokens page again.'],
  connections_not_same_origin: [403, 'Request refused', `${NOT_FROM_OUR_PAGE} Open the connection tokens page again.`],
  connections_signed_out: [
    403,
    'Sign in again',
    'Your sign-in on this page has ended or was revoked. Open the connection tokens page and sign in again.',
  ],
  connections_form_used: [
    409,
    'This form was already used',
    'Nothing was created. A token is shown only once, right after it is created: if you lost it, revoke it and create a new one.',
  ],
  connections_invalid_input: [
    400,
    'Invalid request',
    'Check the name (1 to 80 characters), the lifetime, the tool names and the projects (at most 20), then try again.',
  ],
  connections_unknown_project: [
    400,
    'Unknown project',
    'Nothing was created: a chosen project is not an open project you can see in Rally. Open the connection tokens page again and choose from its list.',
  ],
  session_different_user: [
    403,
    DIFFERENT_USER,
    'This agent session is already connected to another Rally account, so nothing was changed. Disconnect it from the agent first.',
  ],
  // POST /account/* (the "Your access" page, Q1-Q4): nothing was changed
  account_not_same_origin: [403, 'Request refused', `${NOT_FROM_OUR_PAGE} Nothing was changed.`],
  account_csrf_refused: [
    403,
    'Request refused',
    'This change did not come from your “Your access” page, so nothing was changed. Open the page again.',
  ],
  account_signed_out: [
    403,
    'You are signed out',
    'Your sign-in to the “Your access” page has ended, so nothing was changed. Open the page and sign in again.',
  ],
  account_row_unknown: [
    403,
    'Nothing was changed',
    'This access is not yours, or it has already ended. Open the “Your access” page again.',
  ],
} as const satisfies Record<string, readonly [status: number, title: string, advice: string]>;

export type FixedPageRefusalCode = keyof typeof FIXED;

/** What a handler says when it refuses; this module decides what the browser sees. */
export type PageRefusal =
  | { readonly code: FixedPageRefusalCode }
  /** GET /authorize with a parameter given twice: the page names it (escaped). */
  | { readonly code: 'duplicate_parameter'; readonly parameter: string }
  /** The callback after the provider did not grant access; `returnTo` is the client's error redirect, when there is one. */
  | { readonly code: 'sign_in_not_completed'; readonly provider: string; readonly returnTo: string | undefined }
  /**
   * Refusals that name the upstream provider (`provider`: its display name from configuration, e.g.
   * "Rally"): the callback's answer came from another server, the code exchange failed, or the
   * user signed in as someone else than the account already connected (R5).
   */
  | {
      readonly code: 'callback_issuer_mismatch' | 'callback_exchange_failed' | 'provider_user_mismatch';
      readonly provider: string;
    }
  /** An error whose status and message were written for the client (an OAuthError, an EdgeError). */
  | {
      readonly code: 'request_refused';
      readonly status: number;
      readonly publicMessage: string;
      readonly retryAfterSeconds?: number | undefined;
    }
  /** A method the endpoint does not serve: 405 with Allow and no body. */
  | { readonly code: 'method_not_allowed'; readonly allow: string };

function sendErrorPage(res: Response, status: number, heading: string, advice: string): void {
  sendPage(res, status, heading, html`<h1>${heading}</h1><p>${advice}</p>`);
}

/** Sends the page for `refusal`. */
export function sendRefusalPage(res: Response, refusal: PageRefusal): void {
  switch (refusal.code) {
    case 'duplicate_parameter':
      return sendErrorPage(
        res,
        400,
        'Invalid sign-in request',
        `The parameter "${refusal.parameter}" appears more than once. ${AGAIN_FROM_APP}`,
      );
    case 'sign_in_not_completed': {
      const { returnTo } = refusal;
      return sendPage(
        res,
        400,
        'Sign-in was not completed',
        html`<h1>Sign-in was not completed</h1><p>${refusal.provider} did not grant access, so nothing was connected.</p>${returnTo ? html`<p><a href="${returnTo}">Return to the application</a></p>` : ''}`,
      );
    }
    case 'callback_issuer_mismatch':
      return sendErrorPage(
        res,
        400,
        'Sign-in could not be completed',
        `The response did not come from the expected ${refusal.provider} server. Start again from your application.`,
      );
    case 'callback_exchange_failed':
      return sendErrorPage(
        res,
        502,
        `${refusal.provider} did not complete the sign-in`,
        `${refusal.provider} could not be reached or refused the sign-in. Start again from your application.`,
      );
    case 'provider_user_mismatch':
      return sendErrorPage(
        res,
        403,
        `Signed in as a different ${refusal.provider} user`,
        `Your application is already connected to another ${refusal.provider} account, so nothing was changed. To connect a different account, disconnect ${refusal.provider} first.`,
      );
    case 'request_refused':
      if (refusal.retryAfterSeconds !== undefined) res.set('Retry-After', String(refusal.retryAfterSeconds));
      return sendErrorPage(res, refusal.status, 'Request refused', refusal.publicMessage);
    case 'method_not_allowed':
      res.status(405).set('Allow', refusal.allow).end();
      return;
    default: {
      const [status, title, advice] = FIXED[refusal.code];
      return sendErrorPage(res, status, title, advice);
    }
  }
}

/**
 * A browser endpoint failed: 503 page when a dependency is down (E8, F5),
 * else the `failed` page, logged as `event` (by error name only).
 */
export function respondPageError(
  res: Response,
  log: Logger,
  err: unknown,
  failed: { readonly code: 'authorization_failed' | 'callback_failed'; readonly event: string },
): void {
  if (isUnavailable(err))
    return respondUnavailable(res, log, err, () =>
      sendErrorPage(
        res,
        503,
        'Temporarily unavailable',
        'The server cannot reach a service it depends on. Try again in a minute.',
      ),
    );
  log.error(failed.event, { errName: err instanceof Error ? err.name : typeof err });
  sendRefusalPage(res, { code: failed.code });
}
