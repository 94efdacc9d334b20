/**
 * The deployable build (`npm run gcp-build` in Cloud Build): tsc output, our
 * code bundled into dist/bundle (`main`), and the V8 compile cache. A cold
 * instance loading `main` with FUNCTION_TARGET registers just that function,
 * loads none of our unbundled modules, and runs with the shipped cache on.
 */
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestStack } from '../helpers/stack.js';
import { mcpCall, signIn, toolCallBody } from '../helpers/oauth-flow.js';

jest.setTimeout(120_000);

const ROOT = new URL('../..', import.meta.url).pathname;
let dir: string;

beforeAll(() => {
  // Its own output directory, beside a link to node_modules, so the repository's dist/ is never touched.
  dir = mkdtempSync(join(tmpdir(), 'rally-mcp-build-'));
  copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  execFileSync(
    join(ROOT, 'node_modules/.bin/tsc'),
    ['-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(dir, 'dist')],
    { stdio: 'pipe' },
  );
  execFileSync(process.execPath, [join(ROOT, 'scripts/bundle.mjs'), join(dir, 'dist')], {
    stdio: 'pipe',
    env: { PATH: process.env.PATH },
  });
  execFileSync(process.execPath, [join(ROOT, 'scripts/warm-compile-cache.mjs'), join(dir, 'dist')], {
    stdio: 'pipe',
    env: { PATH: process.env.PATH },
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cacheFiles = () =>
  readdirSync(join(dir, 'dist/.compile-cache'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => `${e.parentPath}/${e.name}:${statSync(`${e.parentPath}/${e.name}`).mtimeMs}`)
    .sort();

const MAIN = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { main: string }).main;

/** Loads `main` in a fresh process, as functions-framework does, and reports what it saw. */
function loadMain(target: string): { registered: string[]; cacheDir: string | undefined; ourModules: string[] } {
  const probe = `
    const { registerHooks, getCompileCacheDir } = await import('node:module');
    const loaded = [];
    registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
    const ff = await import('@google-cloud/functions-framework/testing');
    await import(${JSON.stringify(join(dir, MAIN))});
    const registered = ['mcp', 'oauthCallback', 'protectedResourceMetadata', 'authorization'].filter((n) => {
      try { ff.getTestServer(n); return true; } catch { return false; }
    });
    const ourModules = loaded.filter((u) => u.includes(${JSON.stringify(`${dir}/dist/`)})).map((u) => u.slice(${JSON.stringify(`file://${dir}/dist/`)}.length));
    // stdout, not console.log: main routes console output through the product's logger
    process.stdout.write(JSON.stringify({ registered, cacheDir: getCompileCacheDir(), ourModules }) + '\\n');
    process.exit(0);`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', probe], {
    cwd: dir,
    env: { PATH: process.env.PATH, FUNCTION_TARGET: target },
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').pop()!);
}

describe('deployable build', () => {
  it('ships a compile cache covering the functions and the lazily loaded Google clients', () => {
    // hundreds of modules: ours, the MCP SDK, Firestore, Secret Manager, gax, protobufjs…
    expect(cacheFiles().length).toBeGreaterThan(300);
  });

  it('main is the bundle, and imports only node: built-ins statically (so the compile cache is on before anything else compiles)', () => {
    expect(MAIN).toBe('dist/bundle/index.js');
    const source = readFileSync(join(dir, MAIN), 'utf8');
    const staticImports = [...source.matchAll(/^import\s[^;]*?from\s*["']([^"']+)["']/gms)].map((m) => m[1]);
    expect(staticImports.length).toBeGreaterThan(0);
    expect(staticImports.filter((s) => !s!.startsWith('node:'))).toEqual([]);
  });

  it.each(['mcp', 'authorization'])(
    'FUNCTION_TARGET=%s → only that function is registered, from bundle chunks only, with the cache on',
    (target) => {
      const before = cacheFiles();
      const seen = loadMain(target);
      expect(seen.registered).toEqual([target]);
      expect(seen.ourModules.length).toBeGreaterThan(0);
      expect(seen.ourModules.filter((m) => !m.startsWith('bundle/'))).toEqual([]); // none of dist/shared, dist/functions
      expect(seen.cacheDir?.startsWith(join(dir, 'dist/.compile-cache/'))).toBe(true); // …/<node version>-<arch>-<flags hash>
      // every module it loaded was found in the cache: nothing new was written
      expect(cacheFiles()).toEqual(before);
    },
  );

  it('the bundle serves sign-in and a tool call end to end (keys from a mounted-style directory)', async () => {
    const stack = await startTestStack({ buildMain: join(dir, MAIN), env: { SECRET_SOURCE: 'mounted' } });
    try {
      // The server is the build's, not the sources'.
      expect(
        stack.logs.some(
          (l) => l.includes('"server_listening"') && l.includes(`"main":${JSON.stringify(join(dir, MAIN))}`),
        ),
      ).toBe(true);
      const s = await signIn(stack.url, 'alice');
      const res = await mcpCall(stack.mcpUrl, toolCallBody('get_rally_issue', { id: 'US1' }), {
        authorization: `Bearer ${s.accessToken}`,
      });
      expect(res.json.result.isError).toBeFalsy();
      expect(JSON.stringify(res.json.result.structuredContent)).toContain('US1');
    } finally {
      await stack.stop();
    }
  });
});
