/**
 * Wiring shared by the four function entries: build dependencies once per
 * instance, build the handler once, turn a failed start-up into a clean 503
 * rather than a stack trace, and read every request body ourselves, answering
 * a body we refuse in the function's own error shape before its handler runs.
 * @module
 */
import * as ff from '@google-cloud/functions-framework';
import { getDeps } from './deps.js';
import { type Deps } from '../services/deps.js';
import { ConfigError } from '../config/config.js';
import { createLogger } from '../logging/logger.js';
import { readBody } from '../http/body.js';
import { EdgeError, type EdgeAnswer } from '../http/edge-error.js';
import { registerEdgeAnswer, takeOverFrameworkEdges } from './framework.js';
import { requestContextFor } from '../http/request-context.js';
import { sendJsonRefusal } from '../oauth-as/oauth-errors.js';

export type Handler = (req: ff.Request, res: ff.Response) => Promise<void> | void;

/**
 * functions-framework runs every request inside a `node:domain` to turn stray
 * async throws into a 500. Inside a domain every promise and callback pays for
 * domain bookkeeping: measured on the warm tool call, it was ~27% of the
 * server's CPU and of its peak memory (bench, c32). Our handlers catch and map
 * every error themselves, so we leave the domain; a throw that still escapes
 * reaches the framework's process-level handler (500, instance restarted),
 * which is Node's normal fail-closed behaviour.
 */
function leaveFrameworkDomain(): void {
  (process as { domain?: { exit(): void } | null }).domain?.exit();
}

export interface FunctionOptions {
  /** Answers a request refused before the handler (bad body or URL) in this function's error shape. */
  readonly answerEdgeError: EdgeAnswer;
  readonly loadDeps?: () => Promise<Deps>;
}

interface Built {
  readonly deps: Deps;
  readonly handler: Handler;
}

export function defineFunction(
  name: string,
  build: (deps: Deps) => Handler | Promise<Handler>,
  options: FunctionOptions,
): ff.HttpFunction {
  takeOverFrameworkEdges();
  registerEdgeAnswer(name, options.answerEdgeError);
  const loadDeps = options.loadDeps ?? getDeps;
  let built: Promise<Built> | undefined;
  const fn: ff.HttpFunction = async (req, res) => {
    leaveFrameworkDomain();
    let b: Built;
    try {
      b = await (built ??= loadDeps()
        .then(async (deps) => ({ deps, handler: await build(deps) }))
        .catch((err: unknown) => {
          built = undefined;
          throw err;
        }));
    } catch (err) {
      const log = createLogger();
      log.error('function_start_failed', {
        function: name,
        errName: err instanceof Error ? err.name : typeof err,
        reason: err instanceof ConfigError ? err.problems.join('; ') : undefined,
      });
      sendJsonRefusal(res, { code: 'starting' });
      return;
    }
    // Built here, before the body is read, so a refusal at the edge names its request id too; the handler gets the same context.
    const { log } = requestContextFor(req, res, b.deps.log, b.deps.config.GOOGLE_CLOUD_PROJECT, name);
    try {
      await readBody(req, { maxBytes: b.deps.config.MAX_BODY_BYTES });
    } catch (err) {
      if (!(err instanceof EdgeError)) {
        log.info('request_aborted', {}); // the client went away mid-body
        res.destroy();
        return;
      }
      log.info('request_refused', { errCode: err.code, status: err.status });
      if (!req.complete) res.set('Connection', 'close'); // do not read the rest of a body we refused
      options.answerEdgeError(err, req, res);
      return;
    }
    try {
      await b.handler(req, res);
    } catch (err) {
      // Handlers map their own errors; this only keeps a bug's message out of the framework's crash page.
      b.deps.log.error('function_failed', { function: name, errName: err instanceof Error ? err.name : typeof err });
      if (res.headersSent) res.destroy();
      else sendJsonRefusal(res, { code: 'server_error' });
    }
  };
  ff.http(name, fn);
  return fn;
}
