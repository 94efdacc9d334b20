/**
 * Wiring shared by the four function entries: build dependencies once per
 * instance, build the handler once, and turn a failed start-up into a clean
 * 503 rather than a stack trace.
 * @module
 */
import * as ff from '@google-cloud/functions-framework';
import { getDeps, type Deps } from './deps.js';
import { ConfigError } from '../config/config.js';
import { createLogger } from '../logging/logger.js';

export type Handler = (req: ff.Request, res: ff.Response) => Promise<void> | void;

export function defineFunction(name: string, build: (deps: Deps) => Handler | Promise<Handler>): ff.HttpFunction {
  let handler: Promise<Handler> | undefined;
  const fn: ff.HttpFunction = async (req, res) => {
    let h: Handler;
    try {
      h = await (handler ??= getDeps()
        .then(build)
        .catch((err: unknown) => {
          handler = undefined;
          throw err;
        }));
    } catch (err) {
      const log = createLogger();
      log.error('function_start_failed', {
        function: name,
        errName: err instanceof Error ? err.name : typeof err,
        reason: err instanceof ConfigError ? err.problems.join('; ') : undefined,
      });
      res.status(503).set('Cache-Control', 'no-store').json({ error: 'temporarily_unavailable', error_description: 'The service is starting or misconfigured. Try again shortly.' });
      return;
    }
    await h(req, res);
  };
  ff.http(name, fn);
  return fn;
}
