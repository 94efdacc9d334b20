/**
 * The deployable build (`npm run gcp-build` in Cloud Build): tsc output plus
 * the V8 compile cache. A cold instance loading `main` with FUNCTION_TARGET
 * registers just that function and runs with the shipped cache switched on.
 */
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

jest.setTimeout(120_000);

const ROOT = new URL('../..', import.meta.url).pathname;
let dir: string;

beforeAll(() => {
  // Its own output directory, beside a link to node_modules, so the repository's dist/ is never touched.
  dir = mkdtempSync(join(tmpdir(), 'rally-mcp-build-'));
  copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(dir, 'dist')], { stdio: 'pipe' });
  execFileSync(process.execPath, [join(ROOT, 'scripts/warm-compile-cache.mjs'), join(dir, 'dist')], { stdio: 'pipe', env: { PATH: process.env.PATH } });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cacheFiles = () =>
  readdirSync(join(dir, 'dist/.compile-cache'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => `${e.parentPath}/${e.name}:${statSync(`${e.parentPath}/${e.name}`).mtimeMs}`)
    .sort();

/** Loads `main` in a fresh process, as functions-framework does, and reports what it saw. */
function loadMain(target: string): { registered: string[]; cacheDir: string | undefined } {
  const probe = `
    const ff = await import('@google-cloud/functions-framework/testing');
    await import(${JSON.stringify(join(dir, 'dist/functions/index.js'))});
    const { getCompileCacheDir } = await import('node:module');
    const registered = ['mcp', 'oauthCallback', 'protectedResourceMetadata', 'authorization'].filter((n) => {
      try { ff.getTestServer(n); return true; } catch { return false; }
    });
    console.log(JSON.stringify({ registered, cacheDir: getCompileCacheDir() }));
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

  it.each(['mcp', 'authorization'])('FUNCTION_TARGET=%s → only that function is registered, with the cache on', (target) => {
    const before = cacheFiles();
    const seen = loadMain(target);
    expect(seen.registered).toEqual([target]);
    expect(seen.cacheDir?.startsWith(join(dir, 'dist/.compile-cache/'))).toBe(true); // …/<node version>-<arch>-<flags hash>
    // every module it loaded was found in the cache: nothing new was written
    expect(cacheFiles()).toEqual(before);
  });
});
