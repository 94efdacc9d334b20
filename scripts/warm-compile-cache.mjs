/**
 * Build step (after tsc and scripts/bundle.mjs): fills dist/.compile-cache with
 * V8's compiled code for every module a function instance loads, including
 * those it loads lazily on its first request (Firestore, Secret Manager, the
 * auth services' chunk). The
 * deployed image ships the cache, so a cold instance skips most compiling.
 * Node keeps one cache per Node version (and checks each entry against the
 * file's content), so the cache must be written by the Node that will run the
 * functions. In Cloud Build that is the buildpack's Node, the one running npm
 * (npm_node_execpath); `node` inside npm scripts may instead be this repo's
 * `node` devDependency, whose patch version can differ. A mismatch is not an
 * error, only a cache that is never read.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const canCache = (version) => {
  const [major, minor] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 10); // enableCompileCache + flushCompileCache
};
const runtimeNode = process.env.npm_node_execpath;
if (runtimeNode && runtimeNode !== process.execPath && !process.env.WARM_COMPILE_CACHE_CHILD) {
  const version = execFileSync(runtimeNode, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
  if (canCache(version)) {
    const r = spawnSync(runtimeNode, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
      stdio: 'inherit',
      env: { ...process.env, WARM_COMPILE_CACHE_CHILD: '1' },
    });
    process.exit(r.status ?? 1);
  }
}
if (!canCache(process.versions.node)) {
  process.stderr.write(`compile cache skipped: Node ${process.versions.node} cannot write one (needs ≥ 22.10)\n`);
  process.exit(0);
}
const { flushCompileCache } = nodeModule;

// The build output to fill (default: this repository's dist/).
const dist = process.argv[2] ? pathToFileURL(`${resolve(process.argv[2])}/`) : new URL('../dist/', import.meta.url);
const cacheDir = new URL('.compile-cache', dist).pathname;
rmSync(cacheDir, { recursive: true, force: true });
mkdirSync(cacheDir, { recursive: true });

// `main` (bundle/index.js) switches the cache on (the directory now exists), then loads all four functions.
await import(new URL('bundle/index.js', dist).href);
// Every other chunk: what the first requests load on demand.
for (const file of readdirSync(new URL('bundle/', dist)).sort()) {
  if (file.endsWith('.js')) await import(new URL(`bundle/${file}`, dist).href);
}
const { createNoCredentialsAuth } = await import(new URL('shared/kernel/no-credentials-auth.js', dist).href);
const { Firestore } = await import('@google-cloud/firestore');
const { SecretManagerServiceClient } = await import('@google-cloud/secret-manager');
// Constructing the clients (no network, no credentials) loads their transport and protocol modules too.
void new Firestore({ projectId: 'compile-cache', preferRest: true });
const auth = createNoCredentialsAuth('compile-cache');
await new SecretManagerServiceClient({
  projectId: 'compile-cache',
  fallback: true,
  apiEndpoint: 'localhost',
  auth,
}).initialize();

flushCompileCache();
process.stdout.write(`compile cache for Node ${process.versions.node} written to ${cacheDir}\n`);
process.exit(0); // the framework's registrations keep nothing open that matters here
