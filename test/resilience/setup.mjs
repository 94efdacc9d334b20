// Root global setup (the shared Firestore emulator) plus a fresh summary file.
import { mkdirSync, writeFileSync } from 'node:fs';
import rootSetup from '../setup/global-setup.mjs';

export const SUMMARY_FILE = new URL('../../test-results/resilience-summary.jsonl', import.meta.url).pathname;

export default async function setup() {
  mkdirSync(new URL('../../test-results/', import.meta.url).pathname, { recursive: true });
  writeFileSync(SUMMARY_FILE, '');
  await rootSetup();
}
