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
  await warmUp(emulator.host);
}

/**
 * A fresh emulator's first writes can outlast the servers' 8 s store deadline on a loaded
 * machine, failing whichever test file comes first with a 503: pay that once here (bounded).
 */
async function warmUp(host) {
  const url = `http://${host}/v1/projects/demo-rmcp-warm-up/databases/(default)/documents/warm_up?documentId=w${Date.now()}`;
  const deadline = performance.now() + 60_000;
  for (;;) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: 'Bearer owner', 'content-type': 'application/json' },
      body: '{"fields":{"at":{"integerValue":"1"}}}',
      signal: AbortSignal.timeout(30_000),
    }).catch(() => undefined);
    if (res?.ok) return;
    if (performance.now() > deadline)
      throw new Error(`the Firestore emulator at ${host} did not accept a write in 60 s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
