/**
 * F1: firestore.rules denies every client SDK read and write, signed in or
 * not, on every collection. The emulator is started with --rules, so this is
 * the file as deployed.
 */
import {
  assertFails,
  assertSucceeds,
  initializeTestEnvironment,
  type RulesTestEnvironment,
} from '@firebase/rules-unit-testing';
import {
  collection,
  deleteDoc,
  doc,
  getDoc,
  getDocs,
  setDoc,
  setLogLevel,
  updateDoc,
  type Firestore,
} from 'firebase/firestore';
import { fileURLToPath } from 'node:url';
import { startFirestoreEmulator, type FirestoreEmulator } from '../../dev/firestore-emulator.js';
import { COLLECTIONS } from '../../shared/store/collections.js';
import { demoProjectId } from '../helpers/env.js';

const RULES = fileURLToPath(new URL('../../firestore.rules', import.meta.url));
const DOC_ID = 'x'.repeat(43);

describe('firestore.rules', () => {
  let emulator: FirestoreEmulator;
  let env: RulesTestEnvironment;

  beforeAll(async () => {
    setLogLevel('silent'); // every denial is expected; the SDK would warn about each
    emulator = await startFirestoreEmulator({ rules: RULES });
    env = await initializeTestEnvironment({
      projectId: demoProjectId(),
      firestore: { host: '127.0.0.1', port: emulator.port }, // no `rules` here: the emulator loaded the file at start
    });
  }, 90_000);
  afterAll(async () => {
    await env?.cleanup();
    await emulator?.stop();
  });

  beforeEach(async () => {
    // Seed one document per collection with the rules bypassed (as the functions' service account would).
    await env.withSecurityRulesDisabled(async (ctx) => {
      const db = ctx.firestore() as unknown as Firestore;
      for (const name of Object.values(COLLECTIONS)) {
        await assertSucceeds(setDoc(doc(db, name, DOC_ID), { expiresAt: new Date(), v: 1 }));
      }
    });
  });

  const clients: [string, (e: RulesTestEnvironment) => Firestore][] = [
    ['unauthenticated', (e) => e.unauthenticatedContext().firestore() as unknown as Firestore],
    [
      'authenticated',
      (e) =>
        e
          .authenticatedContext('user-1', { email: 'u@example.com', email_verified: true })
          .firestore() as unknown as Firestore,
    ],
  ];

  describe.each(clients)('F1: an %s client SDK', (_label, clientDb) => {
    it.each(Object.values(COLLECTIONS))('is denied every read and write on %s', async (name) => {
      const db = clientDb(env);
      const ref = doc(db, name, DOC_ID);
      await assertFails(getDoc(ref));
      await assertFails(getDocs(collection(db, name)));
      await assertFails(setDoc(doc(db, name, 'new-doc'), { v: 2 }));
      await assertFails(updateDoc(ref, { v: 3 }));
      await assertFails(deleteDoc(ref));
    });
  });

  it('F1: denies a collection that does not exist yet', async () => {
    const db = env.authenticatedContext('user-2').firestore() as unknown as Firestore;
    await assertFails(setDoc(doc(db, 'anything_new', 'd'), { v: 1 }));
    await assertFails(getDoc(doc(db, 'anything_new', 'd')));
  });
});
