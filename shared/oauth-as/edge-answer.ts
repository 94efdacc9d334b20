/**
 * How the OAuth-facing functions answer a request refused before their
 * handlers (bad body or URL): the OAuth error JSON (`invalid_request`, with
 * 400, 413 or 415) on API endpoints, the generic error page on the endpoints
 * a browser opens.
 * @module
 */
import type { EdgeAnswer } from '../http/edge-error.js';
import { sendErrorPage } from '../http/pages.js';

/** The authorization function's browser endpoints (routed as 'html' in authorization-server.ts). */
const BROWSER_PATH = /^\/(?:authorize|consent|connect\/)/;

/** RFC 6749 §5.2 shape, as authorization-server.ts's sendError writes it. */
export const answerOAuthJsonEdgeError: EdgeAnswer = (err, _req, res) => {
  res
    .status(err.status)
    .set('Cache-Control', 'no-store')
    .json({ error: 'invalid_request', error_description: err.publicMessage });
};

export const answerPageEdgeError: EdgeAnswer = (err, _req, res) => {
  sendErrorPage(res, err.status, 'Request refused', err.publicMessage);
};

export const answerAuthorizationEdgeError: EdgeAnswer = (err, req, res) =>
  (BROWSER_PATH.test(req.path) ? answerPageEdgeError : answerOAuthJsonEdgeError)(err, req, res);
