// The resilience suite (`npm run test:resilience`): the root jest config, but
// only this folder, one worker (the suites load the machine on purpose), and
// a teardown that prints the combined summary. Not part of `npm test`.
import root from '../../jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...root,
  rootDir: '../..',
  testMatch: ['<rootDir>/test/resilience/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  globalSetup: '<rootDir>/test/resilience/setup.mjs',
  globalTeardown: '<rootDir>/test/resilience/teardown.mjs',
  maxWorkers: 1,
  testTimeout: 180_000,
};
