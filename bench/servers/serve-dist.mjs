/**
 * Our server from the deployable build (`npm run build` → package.json `main`,
 * the bundle in dist/bundle), served exactly
 * like dev/serve.ts + dev/front-door.ts do it (which run the TypeScript via
 * tsx). The benchmarks use this so ours and the baseline both run plain JS.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getTestServer } from '@google-cloud/functions-framework/testing';

// `main` first, as functions-framework loads it: it switches on the build's compile cache.
// OURS_MAIN: another build's main (the build test serves one it made in a temp dir).
const { main } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
const mainUrl = process.env.OURS_MAIN
  ? pathToFileURL(process.env.OURS_MAIN)
  : new URL(`../../${main}`, import.meta.url);
await import(mainUrl.href);
// The same build's tsc output, for the config check and the route table (dist/bundle/index.js → dist/).
const dist = new URL('../', mainUrl);
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
// Names the build it serves, so a test can tell this server from the one running the sources.
httpServer.listen(port, '127.0.0.1', () =>
  process.stdout.write(
    `${JSON.stringify({ severity: 'INFO', event: 'server_listening', port, main: fileURLToPath(mainUrl) })}\n`,
  ),
);
const stop = () => httpServer.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
