/**
 * Build step (after tsc, before the compile cache): bundles our compiled code
 * (dist/functions, dist/shared) into dist/bundle, `main` for the deployed
 * functions. Node resolves, reads and links each ES module on its own, and an
 * MCP instance loads about 90 of ours on its first call: as a few chunks they
 * cost a cold start about 50 ms less (README, Performance). Packages stay
 * external, so there is one copy of zod, the MCP SDK and the Google clients,
 * shared with what they import themselves; only BUNDLED_PACKAGES join the
 * bundle. Lazy imports stay lazy (one chunk each), so an instance still loads
 * only the function it serves.
 * Usage: node scripts/bundle.mjs [distDir]
 */
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

// Small pure-ESM libraries only we use, bundled too (about 55 modules at cold start). Everything
// else stays external: zod and the MCP SDK must be the one copy the SDK itself imports.
const BUNDLED_PACKAGES = new Set([
  'jose',
  'parse5',
  'parse5-htmlparser2-tree-adapter',
  'domhandler',
  'domelementtype',
  'entities',
  'color-name',
]);
const packageOf = (specifier) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');
const externalPackages = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      BUNDLED_PACKAGES.has(packageOf(args.path)) ? undefined : { path: args.path, external: true },
    );
  },
};

const dist = process.argv[2] ? resolve(process.argv[2]) : fileURLToPath(new URL('../dist', import.meta.url));
const outdir = `${dist}/bundle`;
rmSync(outdir, { recursive: true, force: true });

const result = await build({
  entryPoints: [`${dist}/functions/index.js`],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  plugins: [externalPackages],
  // Readable stack traces in Cloud Logging: not minified. (`keepNames` would wrap every function in a
  // helper call at load time and import that helper before main switches the compile cache on;
  // without it, esbuild renames only names two modules share, e.g. `parse2`.)
  minify: false,
  metafile: true,
  logLevel: 'warning',
});
const inputs = Object.keys(result.metafile.inputs).length;
const outputs = Object.keys(result.metafile.outputs).length;
process.stdout.write(`bundled ${inputs} modules into ${outputs} files in ${outdir}\n`);
