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

export function defineFunction(
  name: string,
  build: (deps: Deps) => Handler | Promise<Handler>,
  loadDeps: () => Promise<Deps> = getDeps,
): ff.HttpFunction {
  let handler: Promise<Handler> | undefined;
  const fn: ff.HttpFunction = async (req, res) => {
    leaveFrameworkDomain();
    let h: Handler;
    try {
      h = await (handler ??= loadDeps()
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
