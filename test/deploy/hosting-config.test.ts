/**
 * The committed firebase.json and firestore.indexes.json are exactly what
 * ops/hosting-config.ts generates from ROUTES and COLLECTIONS, so the front
 * door and the Firestore field settings cannot drift from the code.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildFirebaseJson, buildFirestoreIndexes, toFileText } from '../../ops/hosting-config.js';
import { ROUTES, routeFor } from '../../shared/app/routes.js';
import { COLLECTIONS, TTL_FIELD } from '../../shared/store/collections.js';
import { REPO_ROOT } from './deploy-runner.js';

const committed = (name: string) => readFileSync(join(REPO_ROOT, name), 'utf8');

describe('ops/hosting-config.ts', () => {
  it('committed firebase.json equals the generated one (run the generator if this fails)', () => {
    expect(committed('firebase.json')).toBe(toFileText(buildFirebaseJson()));
  });

  it('committed firestore.indexes.json equals the generated one', () => {
    expect(committed('firestore.indexes.json')).toBe(toFileText(buildFirestoreIndexes()));
  });

  it('rewrites every route, in order, to its gen2 function in the region', () => {
    const hosting = buildFirebaseJson(ROUTES, 'europe-west1').hosting;
    expect(hosting.rewrites).toEqual(
      ROUTES.map((r) => ({ source: r.path, function: { functionId: r.fn, region: 'europe-west1' } })),
    );
    for (const r of hosting.rewrites) {
      const sample = r.source.endsWith('/**') ? `${r.source.slice(0, -3)}/x` : r.source;
      expect(routeFor(sample)).toBe(r.function.functionId);
    }
  });

  it('gives every collection a TTL on expiresAt with no index, and exempts the large fields', () => {
    const { fieldOverrides, indexes } = buildFirestoreIndexes();
    expect(indexes).toEqual([]);
    const ttl = fieldOverrides.filter((o) => 'ttl' in o && o.ttl);
    expect(ttl.map((o) => o.collectionGroup).sort()).toEqual(Object.values(COLLECTIONS).sort());
    for (const o of ttl) expect(o).toMatchObject({ fieldPath: TTL_FIELD, indexes: [] });
    expect(fieldOverrides).toEqual(
      expect.arrayContaining([
        { collectionGroup: 'rally_tokens', fieldPath: 'sealed', indexes: [] },
        { collectionGroup: 'oauth_clients', fieldPath: 'metadata', indexes: [] },
      ]),
    );
  });

  it('points firebase.json at the rules, the indexes and an existing public dir', () => {
    const cfg = JSON.parse(committed('firebase.json')) as {
      firestore: { rules: string; indexes: string };
      hosting: { public: string };
    };
    expect(() => committed(cfg.firestore.rules)).not.toThrow();
    expect(() => committed(cfg.firestore.indexes)).not.toThrow();
    expect(() => committed(`${cfg.hosting.public}/robots.txt`)).not.toThrow();
  });
});
