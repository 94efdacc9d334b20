/**
 * The operator's "Your access" page (issue 23): the same rows as `/account` for one Rally user,
 * and the same ending (`shared/oauth-as/access.ts` → `endGrant`, the path of `POST /revoke`),
 * audited as `token_revoked` with reason `operator_request`. Run it with the functions'
 * environment (GOOGLE_CLOUD_PROJECT, FIRESTORE_DATABASE, PUBLIC_BASE_URL, …) and credentials that
 * may write Firestore:
 *
 *   node_modules/.bin/node --import tsx ops/access.ts list    <Rally ObjectID>
 *   node_modules/.bin/node --import tsx ops/access.ts end     <Rally ObjectID> <row id>
 *   node_modules/.bin/node --import tsx ops/access.ts end-all <Rally ObjectID>
 *
 * The Rally ObjectID is the number in `sub` (`rally:<ObjectID>`) of the audit lines, or what
 * `get_rally_user` shows. Audit lines go to stderr; the answer to stdout.
 * @module
 */
import { fileURLToPath } from 'node:url';
import { createDeps } from '../shared/app/deps.js';
import { loadConfig } from '../shared/config/config.js';
import { createLogger } from '../shared/logging/logger.js';
import { endAccessRow, endAllAccess, listAccess, type AccessDeps } from '../shared/oauth-as/access.js';

const USAGE = 'usage: ops/access.ts list <Rally ObjectID> | end <Rally ObjectID> <row id> | end-all <Rally ObjectID>';

/** Runs one command; returns the exit code. `print` receives the answer, one line per call. */
export async function runAccessCommand(
  argv: readonly string[],
  deps: AccessDeps,
  print: (line: string) => void,
): Promise<number> {
  const [command, objectId, rowId] = argv;
  if (!objectId || !/^\d{1,20}$/.test(objectId) || !['list', 'end', 'end-all'].includes(command ?? '')) {
    print(USAGE);
    return 2;
  }
  const owner = { sub: `rally:${objectId}` };
  switch (command) {
    case 'list': {
      const rows = await listAccess(deps, owner);
      if (rows.length === 0) print(`Rally user ${objectId}: nothing acts for this user.`);
      for (const row of rows) {
        print(`${row.kind}\t${row.rowId}\t${JSON.stringify(row.name)}`);
        for (const [label, value] of row.facts) print(`\t${label}: ${value}`);
      }
      return 0;
    }
    case 'end': {
      if (!rowId) {
        print(USAGE);
        return 2;
      }
      const ended = await endAccessRow(deps, owner, rowId, 'operator_request');
      print(ended ? `ended ${rowId}` : `Rally user ${objectId} has no row ${rowId}: nothing changed.`);
      return ended ? 0 : 1;
    }
    default:
      print(`ended ${await endAllAccess(deps, owner, 'operator_request')} row(s) of Rally user ${objectId}`);
      return 0;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const config = loadConfig(process.env);
  const log = createLogger({ level: 'info', write: (line) => process.stderr.write(`${line}\n`) });
  const deps = createDeps(config, { log });
  process.exitCode = await runAccessCommand(process.argv.slice(2), deps, (line) => console.log(line));
}
