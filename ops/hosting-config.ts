/**
 * Generates firebase.json (Hosting rewrites: the one public origin) from
 * ROUTES, and firestore.indexes.json (composite indexes + field overrides)
 * from COLLECTIONS. test/deploy checks the committed files equal this output.
 *
 *   node_modules/.bin/node --import tsx ops/hosting-config.ts [--region=us-central1] [--out-dir=.] [--check]
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROUTES, type Route } from '../shared/app/routes.js';
import { COLLECTIONS, TTL_FIELD, type CollectionName } from '../shared/store/collections.js';

export const DEFAULT_REGION = 'us-central1';

/** Large fields nobody queries: exempt from automatic single-field indexes (cost, write latency, 1 MiB index limits). */
export const INDEX_EXEMPT_FIELDS: readonly { readonly collectionGroup: CollectionName; readonly fieldPath: string }[] =
  [
    { collectionGroup: COLLECTIONS.rallyTokens, fieldPath: 'sealed' },
    { collectionGroup: COLLECTIONS.upstreamTokens, fieldPath: 'sealed' },
    { collectionGroup: COLLECTIONS.clients, fieldPath: 'metadata' },
  ];

/**
 * Composite indexes the code's queries need. Currently none: every query is
 * equality-only on single fields. Add entries here (firebase-tools format).
 */
export const COMPOSITE_INDEXES: readonly unknown[] = [];

/** Firebase Hosting rewrites for gen2 functions, in ROUTES order (first match wins). */
export function buildFirebaseJson(routes: readonly Route[] = ROUTES, region: string = DEFAULT_REGION) {
  return {
    firestore: { rules: 'firestore.rules', indexes: 'firestore.indexes.json' },
    hosting: {
      public: 'ops/hosting-public',
      ignore: ['**/.*'],
      rewrites: routes.map((r) => ({ source: r.path, function: { functionId: r.fn, region } })),
    },
  };
}

/**
 * Every collection gets a TTL policy on `expiresAt` and no index on it (a
 * monotonically increasing timestamp index hotspots; security case F6); the
 * large fields get no index either.
 */
export function buildFirestoreIndexes(collections: readonly CollectionName[] = Object.values(COLLECTIONS)) {
  const ttl = [...collections]
    .sort()
    .map((c) => ({ collectionGroup: c, fieldPath: TTL_FIELD, ttl: true, indexes: [] as unknown[] }));
  const exempt = INDEX_EXEMPT_FIELDS.map((f) => ({
    collectionGroup: f.collectionGroup,
    fieldPath: f.fieldPath,
    indexes: [] as unknown[],
  }));
  return { indexes: [...COMPOSITE_INDEXES], fieldOverrides: [...ttl, ...exempt] };
}

export const toFileText = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

function main(argv: readonly string[]): number {
  const opt = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const region = opt('region') ?? DEFAULT_REGION;
  if (!/^[a-z]+-[a-z]+\d+$/.test(region)) throw new Error(`not a region: ${region}`);
  const outDir = opt('out-dir') ?? fileURLToPath(new URL('..', import.meta.url));
  const files = {
    'firebase.json': toFileText(buildFirebaseJson(ROUTES, region)),
    'firestore.indexes.json': toFileText(buildFirestoreIndexes()),
  };
  let stale = 0;
  for (const [name, text] of Object.entries(files)) {
    const path = join(outDir, name);
    if (argv.includes('--check')) {
      let current = '';
      try {
        current = readFileSync(path, 'utf8');
      } catch {
        /* missing counts as stale */
      }
      if (current !== text) {
        stale += 1;
        process.stderr.write(`${path} is out of date: run node_modules/.bin/node --import tsx ops/hosting-config.ts\n`);
      }
    } else {
      writeFileSync(path, text);
    }
  }
  return stale === 0 ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = main(process.argv.slice(2));
}
