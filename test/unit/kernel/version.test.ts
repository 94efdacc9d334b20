import { readFileSync } from 'node:fs';
import { SERVER_INFO, VENDOR } from '../../../shared/kernel/version.js';

describe('version', () => {
  test('package.json carries the version and vendor of shared/kernel/version.ts', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      name: unknown;
      version: unknown;
    };
    expect(pkg.version).toBe(SERVER_INFO.version);
    expect(pkg.name).toBe(VENDOR);
  });
});
