import fs from 'node:fs';
import path from 'node:path';

// The layer order of shared/, lowest first (docs/architecture.md explains each layer).
// A module may import its own folder or a LOWER folder only, and there is no import circle.
// This list is the single source: eslint.config.js turns it into one no-restricted-imports rule per layer.
export const LAYERS = Object.freeze([
  'kernel',
  'config',
  'logging',
  'secrets',
  'crypto',
  'sanitize',
  'http',
  'upstream',
  'store',
  'audit',
  'metrics',
  'policy',
  'ratelimit',
  'upstream-link',
  'rally',
  'github',
  'services',
  'session-link',
  'oauth-as',
  'mcp',
  'app',
]);

// Top-level folders that shared/ never imports: entry points, local tooling and tests sit above every layer.
export const OUTSIDE_SHARED = Object.freeze(['functions', 'dev', 'test', 'bench']);

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * One flat-config entry per layer: a `no-restricted-imports` rule that forbids, in shared/<layer>/**, a relative
 * import of any higher layer folder (`../mcp/x.js`, `../../oauth-as/x.js`) and of functions/, dev/, test/, bench/.
 * Specifiers are matched as written, so `(../)+<folder>/` covers every depth (no folder inside a layer is named like
 * a layer; checkFolders keeps it that way).
 */
export function layerRules(root) {
  checkFolders(path.join(root, 'shared'));
  const order = LAYERS.join(' < ');
  return LAYERS.map((layer, i) => {
    const higher = LAYERS.slice(i + 1);
    const patterns = [];
    if (higher.length > 0) {
      patterns.push({
        regex: `^(?:\\./)?(?:\\.\\./)+(?:${higher.map(escape).join('|')})(?:/|$)`,
        message:
          `shared/${layer}/ may import only its own folder or a lower layer (${order}); ` +
          'see docs/architecture.md. Move the shared piece down, or pass it in from app/.',
      });
    }
    patterns.push({
      regex: `^(?:\\./)?(?:\\.\\./)+(?:${OUTSIDE_SHARED.map(escape).join('|')})(?:/|$)`,
      message:
        `shared/ must not import ${OUTSIDE_SHARED.map((f) => `${f}/`).join(', ')}: they sit above every layer ` +
        `(${order}); see docs/architecture.md.`,
    });
    return {
      name: `layers/${layer}`,
      files: [`shared/${layer}/**/*.{ts,mts,js,mjs}`],
      rules: { 'no-restricted-imports': ['error', { patterns }] },
    };
  });
}

// Fails the lint run when shared/ has a folder with no place in LAYERS (it would escape the rules above), or a
// sub-folder named like a layer or an outside folder (the `(../)+<folder>/` patterns would then misfire).
function checkFolders(shared) {
  const reserved = new Set([...LAYERS, ...OUTSIDE_SHARED]);
  for (const entry of fs.readdirSync(shared, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    if (!LAYERS.includes(entry.name)) {
      throw new Error(`shared/${entry.name}/ is not in the layer order: add it to LAYERS in eslint/layers.js`);
    }
    for (const sub of fs.readdirSync(path.join(shared, entry.name), { recursive: true, withFileTypes: true })) {
      if (sub.isDirectory() && reserved.has(sub.name)) {
        const where = path.relative(shared, path.join(sub.parentPath, sub.name));
        throw new Error(`shared/${where}/ is named like a layer or top-level folder: rename it (eslint/layers.js)`);
      }
    }
  }
}
