/**
 * Serves every function on one port (PORT, default 8080), configured from the
 * environment like a deployed instance. Started by `npm start` and by tests.
 */
import { loadConfig, ConfigError } from '../shared/config/config.js';
import { createFrontDoor, loadFunctions } from './front-door.js';
import { startSummaryTimer } from '../shared/metrics/summary.js';
import { setInstanceOverrides } from '../shared/app/deps.js';
import { takeClockControl } from './clock-control.js';

const port = Number(process.env.PORT ?? 8080);
try {
  loadConfig(); // fail fast with every bad variable named, before taking traffic
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`rally-mcp: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
// Tests only (dev/local-stack.ts `clockControl`): the instance's clock is the test's to move.
const clock = takeClockControl();
if (clock) setInstanceOverrides({ clock });
await loadFunctions();
// Local stack only: a one-line summary of tool calls every minute (when there were any).
startSummaryTimer((line) => process.stdout.write(`${line}\n`), 60_000);
const server = createFrontDoor();
server.on('error', (err: NodeJS.ErrnoException) => {
  process.stderr.write(
    err.code === 'EADDRINUSE'
      ? `rally-mcp: port ${port} is already in use; set PORT to a free port\n`
      : `rally-mcp: ${err.message}\n`,
  );
  process.exit(3);
});
server.listen(port, '127.0.0.1', () =>
  process.stdout.write(`${JSON.stringify({ severity: 'INFO', event: 'server_listening', port })}\n`),
);
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
