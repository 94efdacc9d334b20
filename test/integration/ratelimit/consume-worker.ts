/**
 * Child process for the cross-process rate-limit test: builds its own
 * Firestore client and limiter, prints `ready`, waits for `go` on stdin,
 * then runs `count` concurrent consumes and prints the results as JSON.
 * argv: projectId key limit windowSeconds count nowMs shards
 */
import { createInterface } from 'node:readline';
import { emulatorFirestore } from '../../helpers/firestore.js';
import { createRateLimiter } from '../../../shared/ratelimit/rate-limiter.js';
import { FakeClock } from '../../helpers/clock.js';

const [projectId, key, limit, windowSeconds, count, nowMs, shards] = process.argv.slice(2);
const host = process.env.FIRESTORE_EMULATOR_HOST;
if (!projectId || !key || !limit || !windowSeconds || !count || !nowMs || !shards || !host) {
  process.stderr.write(
    'usage: consume-worker <projectId> <key> <limit> <windowSeconds> <count> <nowMs> <shards> (FIRESTORE_EMULATOR_HOST set)\n',
  );
  process.exit(2);
}

const db = emulatorFirestore(projectId, host);
const limiter = createRateLimiter({
  db: async () => db,
  clock: new FakeClock(Number(nowMs)),
  shards: Number(shards),
});

// Warm the client (first-request setup) before signalling readiness, so both processes really overlap.
await db.collection('warmup').doc('x').get();
process.stdout.write('ready\n');
const rl = createInterface({ input: process.stdin });
await new Promise<void>((resolve) => rl.once('line', () => resolve()));
rl.close();

const results = await Promise.all(
  Array.from({ length: Number(count) }, () => limiter.consume(key, Number(limit), Number(windowSeconds))),
);
process.stdout.write(`${JSON.stringify(results)}\n`);
await db.terminate();
