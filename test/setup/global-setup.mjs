// Starts the real Firestore emulator once per `npm test` run. Never skipped:
// if it cannot start, the run fails with the reason. (Plain ESM: jest loads
// global setup outside its module mapper, so tsx loads the TypeScript helper.)
import { tsImport } from 'tsx/esm/api';

export default async function globalSetup() {
  if (process.env.FIRESTORE_EMULATOR_HOST) return; // an emulator the caller started
  const { startFirestoreEmulator } = await tsImport('../../dev/firestore-emulator.ts', import.meta.url);
  const emulator = await startFirestoreEmulator();
  globalThis.__FIRESTORE_EMULATOR__ = emulator;
  process.env.FIRESTORE_EMULATOR_HOST = emulator.host; // inherited by the jest workers
}
