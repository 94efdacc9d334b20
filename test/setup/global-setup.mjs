// Starts the real Firestore emulator once per `npm test` run. Never skipped:
// if it cannot start, the run fails with the reason. (Plain ESM: jest loads
// global setup outside its module mapper, so tsx loads the TypeScript helper.)
import { rmSync } from 'node:fs';
import { tsImport } from 'tsx/esm/api';

export const SERVER_LOG_DIR = new URL('../../test-results/server-logs/', import.meta.url).pathname;

export default async function globalSetup() {
  rmSync(SERVER_LOG_DIR, { recursive: true, force: true }); // global teardown scans this run's server logs (K1)
  if (process.env.FIRESTORE_EMULATOR_HOST) return; // an emulator the caller started
  const { startFirestoreEmulator } = await tsImport('../../dev/firestore-emulator.ts', import.meta.url);
  const emulator = await startFirestoreEmulator();
  globalThis.__FIRESTORE_EMULATOR__ = emulator;
  process.env.FIRESTORE_EMULATOR_HOST = emulator.host; // inherited by the jest workers
}
