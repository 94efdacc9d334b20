/**
 * Our server from the compiled JS (`npm run build` → dist/), served exactly
 * like dev/serve.ts + dev/front-door.ts do it (which run the TypeScript via
 * tsx). The benchmarks use this so ours and the baseline both run plain JS.
 */
import { createServer } from 'node:http';
import { getTestServer } from '@google-cloud/functions-framework/testing';

const dist = new URL('../../dist/', import.meta.url);
// `main` first, as functions-framework loads it: it switches on the build's compile cache.
await import(new URL('functions/index.js', dist).href);
const { loadConfig } = await import(new URL('shared/config/config.js', dist).href);
loadConfig();
const { routeFor } = await import(new URL('shared/app/routes.js', dist).href);

const port = Number(process.env.PORT ?? 8080);
const servers = new Map();
const serverFor = (fn) => {
  let s = servers.get(fn);
  if (!s) servers.set(fn, (s = getTestServer(fn)));
  return s;
};
const httpServer = createServer((req, res) => {
  const fn = routeFor(new URL(req.url ?? '/', 'http://front-door').pathname);
  if (!fn) {
    res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":"not_found"}');
    return;
  }
  serverFor(fn).emit('request', req, res);
});
httpServer.listen(port, '127.0.0.1');
const stop = () => httpServer.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
