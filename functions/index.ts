/**
 * Deployed `main`: loads only the function this instance serves
 * (FUNCTION_TARGET), so the MCP function never pays the authorization
 * server's import cost at cold start. Without a target (local tools), all load.
 *
 * Only `node:` built-ins are imported statically: the V8 code cache has to be
 * switched on before the first module of ours or of a package is compiled.
 */
import { existsSync } from 'node:fs';
import { enableCompileCache } from 'node:module';

// Written by the build (`npm run build` → dist/.compile-cache, see
// scripts/warm-compile-cache.mjs): a cold instance reuses compiled code instead
// of compiling its dependencies again. Absent when running from source.
const compileCache = new URL('../.compile-cache', import.meta.url).pathname;
if (existsSync(compileCache)) enableCompileCache(compileCache);

const { functionTarget } = await import('../shared/config/config.js');
// One logger for everything this process prints: what the framework and libraries print on their
// own (crash handler, Express's final handler) becomes a JSON line without request data.
const { createLogger, routeConsoleToLogger } = await import('../shared/logging/logger.js');
routeConsoleToLogger(createLogger());

const ENTRIES: Record<string, () => Promise<unknown>> = {
  mcp: () => import('./mcp/index.js'),
  oauthCallback: () => import('./oauth-callback/index.js'),
  protectedResourceMetadata: () => import('./protected-resource-metadata/index.js'),
  authorization: () => import('./authorization/index.js'),
};

const target = functionTarget();
const load = target ? ENTRIES[target] : undefined;
await (load ? load() : Promise.all(Object.values(ENTRIES).map((l) => l())));
