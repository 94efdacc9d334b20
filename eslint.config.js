// ESLint flat config. `npm run lint` runs it (and `prettier --check .`); `npm test` runs `npm run lint`.
// Formatting is Prettier's job, so no stylistic rules here.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { importX } from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import { layerRules } from './eslint/layers.js';

const root = import.meta.dirname;

export default defineConfig(
  globalIgnores(['dist/', 'test-results/', 'bench/results/', 'rally-sandbox/data/'], 'ignores'),
  {
    name: 'linter-options',
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  js.configs.recommended,
  tseslint.configs.strict,
  {
    name: 'typescript/options',
    rules: {
      // As tsc's noUnusedLocals: `const { drop: _, ...rest } = o` is how a key is left out of a copy.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
  {
    name: 'javascript/node',
    files: ['**/*.{js,mjs,cjs}'],
    languageOptions: { globals: globals.node },
  },
  {
    name: 'typescript/type-aware',
    files: ['**/*.{ts,mts,cts}'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: root } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  {
    name: 'tests',
    files: ['test/**'],
    rules: {
      // Tests index fixtures and answers they just built or checked with expect() (`items[0]!.id`); a guard there would
      // only repeat the assertion, and a wrong guess fails the test anyway.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  // Layers: shared/<layer>/ imports its own folder or a lower one only (order in eslint/layers.js), and no circle.
  ...layerRules(root),
  {
    name: 'layers/no-cycle',
    files: ['shared/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      // Resolves the `.js` specifiers of NodeNext to the `.ts` sources, and reads .ts files (import-x reads only
      // .js files unless told), so the cycle check follows every import.
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: `${root}/tsconfig.json` })],
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
);
