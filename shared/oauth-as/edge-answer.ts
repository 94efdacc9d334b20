/**
 * How the OAuth-facing functions answer a request refused before their
 * handlers (bad body or URL): the OAuth error JSON (`invalid_request`, with
 * 400, 413 or 415) on API endpoints, the generic error page on the endpoints
 * a browser opens. Each is written by its surface's mapper.
 * @module
 */
import type { EdgeAnswer } from '../http/edge-error.js';
import { sendRefusalPage } from '../http/page-errors.js';
import { sendEdgeErrorJson } from './oauth-errors.js';

/** The authorization function's browser endpoints (routed as 'html' in authorization-server.ts). */
const BROWSER_PATH = /^\/(?:authorize|consent|connect\/)/;

/** RFC 6749 §5.2 shape, as the authorization server's API endpoints answer. */
export const answerOAuthJsonEdgeError: EdgeAnswer = (err, _req, res) => sendEdgeErrorJson(err, res);

export const answerPageEdgeError: EdgeAnswer = (err, _req, res) =>
  sendRefusalPage(res, { code: 'request_refused', status: err.status, publicMessage: err.publicMessage });

export const answerAuthorizationEdgeError: EdgeAnswer = (err, req, res) =>
  (BROWSER_PATH.test(req.path) ? answerPageEdgeError : answerOAuthJsonEdgeError)(err, req, res);
