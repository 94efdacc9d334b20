// Prints the combined counts every resilience suite recorded, then stops the emulator.
import { existsSync, readFileSync } from 'node:fs';
import rootTeardown from '../setup/global-teardown.mjs';
import { SUMMARY_FILE } from './setup.mjs';

export default async function teardown() {
  const totals = {};
  if (existsSync(SUMMARY_FILE)) {
    for (const line of readFileSync(SUMMARY_FILE, 'utf8').split('\n').filter(Boolean)) {
      const { suite, counts } = JSON.parse(line);
      process.stdout.write(`\n[resilience] ${suite}: ${JSON.stringify(counts)}`);
      for (const [k, v] of Object.entries(counts)) if (typeof v === 'number') totals[k] = (totals[k] ?? 0) + v;
    }
  }
  process.stdout.write(`\n[resilience] TOTAL: ${JSON.stringify(totals)}\n`);
  await rootTeardown();
}
