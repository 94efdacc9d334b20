/**
 * What functions-framework does to a request before our code runs, taken
 * over so every request reaches our code and our error shapes.
 *
 * The framework builds its Express app in `getServer()` with four body-parser
 * middlewares hard-wired (limit 1 GB, inflating gzip/deflate/br first) and
 * Express's default final handler, which answers a parse error with its own
 * HTML page and prints the error, the raw body included, with console.error.
 * It offers no option, environment variable or hook for either. What it does
 * offer: it loads our `main` before it calls `getServer()` (`functions-framework
 * --target=<fn>` on Cloud Functions gen2, getTestServer() locally), and it
 * reads `bodyParser.json` etc. and Express's application prototype at that
 * moment. So, from our code, before the server exists:
 * - body-parser's factories return a pass-through: the stream reaches
 *   shared/http/body.ts unread (sizes, encodings and depth decided there);
 * - Express's final handler is replaced by one that answers in the surface's
 *   shape (only the router's URL decoding can still fail before our code).
 * Both modules are resolved from the framework's own directory, so we patch the
 * very copies it uses; if their shape changes, start-up fails loudly.
 * @module
 */
import { createRequire } from 'node:module';
import type { Request, Response } from '@google-cloud/functions-framework';
import { EdgeError, type EdgeAnswer } from '../http/edge-error.js';
import { createLogger } from '../logging/logger.js';
import { routeFor } from './routes.js';
import { sendEdgeErrorJson, sendJsonRefusal } from '../oauth-as/oauth-errors.js';

type Middleware = (req: unknown, res: unknown, next: () => void) => void;
type Handle = (this: unknown, req: Request, res: Response, callback?: (err?: unknown) => void) => void;

const PARSERS = ['json', 'raw', 'text', 'urlencoded'] as const;
const answers = new Map<string, EdgeAnswer>();
let takenOver = false;

/** A patch whose target is missing means the framework changed: refuse to serve rather than parse bodies unchecked. */
class FrameworkChangedError extends Error {
  constructor(what: string) {
    super(`functions-framework changed: ${what}; cannot take over body parsing (shared/app/framework.ts)`);
    this.name = 'FrameworkChangedError';
  }
}

function answerFor(req: Request): EdgeAnswer | undefined {
  if (answers.size === 1) return answers.values().next().value; // a deployed instance serves one function
  const fn = routeFor(new URL(req.url ?? '/', 'http://local').pathname);
  return fn ? answers.get(fn) : undefined;
}

/** Our stand-in for Express's final handler: the router could not route the request (a path it cannot decode). */
function finalAnswer(req: Request, res: Response, err: unknown): void {
  const log = createLogger();
  if (res.headersSent) {
    req.socket.destroy(); // what Express's own final handler does
    return;
  }
  const status = (err as { status?: unknown } | undefined)?.status;
  if (err === undefined || (status !== 400 && !(err instanceof URIError))) {
    log.error('request_unroutable', { errName: err instanceof Error ? err.name : typeof err });
    sendJsonRefusal(res, { code: err === undefined ? 'not_found' : 'server_error' });
    return;
  }
  log.info('request_refused', { errCode: 'malformed_url', status: 400 });
  const edge = new EdgeError('malformed_url', 'The request URL is not validly percent-encoded.');
  const answer = answerFor(req);
  if (answer) answer(edge, req, res);
  else sendEdgeErrorJson(edge, res);
}

/**
 * Switches off the framework's body parsing and final handler (see the module
 * comment). Idempotent; must run before the framework builds its server,
 * which loading our `main` guarantees.
 */
export function takeOverFrameworkEdges(): void {
  if (takenOver) return;
  const fromFramework = createRequire(createRequire(import.meta.url).resolve('@google-cloud/functions-framework'));
  const bodyParser = fromFramework('body-parser') as Record<string, unknown>;
  const express = fromFramework('express') as { application?: { handle?: Handle } };
  for (const name of PARSERS)
    if (typeof bodyParser[name] !== 'function') throw new FrameworkChangedError(`body-parser has no ${name}()`);
  const application = express.application;
  const handle = application?.handle;
  if (application === undefined || typeof handle !== 'function')
    throw new FrameworkChangedError('express.application.handle is missing');

  const passThrough: Middleware = (_req, _res, next) => next();
  for (const name of PARSERS) bodyParser[name] = () => passThrough;
  application.handle = function (this: unknown, req: Request, res: Response, callback?: (err?: unknown) => void) {
    return handle.call(this, req, res, callback ?? ((err?: unknown) => finalAnswer(req, res, err)));
  };
  takenOver = true;
}

/** How `name` answers requests refused before its handler (its surface's error shape). */
export function registerEdgeAnswer(name: string, answer: EdgeAnswer): void {
  answers.set(name, answer);
}
