/**
 * The one operator command, with the operator's own credentials (Application Default
 * Credentials, or the emulator when FIRESTORE_EMULATOR_HOST is set). No secret is ever printed:
 * the store has none.
 *
 * `tokens` (issue 18): list and revoke a user's connection tokens, straight on Firestore.
 *
 *   npm run admin -- tokens list --user <Rally user name>
 *   npm run admin -- tokens revoke --id <token id>
 *   npm run admin -- tokens revoke --user <Rally user name>   (every token, and the user's connections grant)
 *
 * Revoking goes through the one ending path (`endConnectionToken` / `endGrant`), audited as
 * `token_revoked` with reason `operator_request` on stderr. Environment: GOOGLE_CLOUD_PROJECT
 * (required), FIRESTORE_DATABASE_ID (default "(default)"), FIRESTORE_EMULATOR_HOST (local stack and tests).
 *
 * `access` (issue 23): the operator's "Your access" page, the same rows as `/account` for one
 * Rally user (clients, connection tokens, session links) and the same ending
 * (`shared/oauth-as/access.ts` → `endGrant` / `endConnectionToken`), audited as `token_revoked`
 * with reason `operator_request`. It runs with the functions' environment (GOOGLE_CLOUD_PROJECT,
 * FIRESTORE_DATABASE, PUBLIC_BASE_URL, …); audit lines go to stderr, the answer to stdout.
 *
 *   npm run admin -- access list    <Rally ObjectID>
 *   npm run admin -- access end     <Rally ObjectID> <row id>
 *   npm run admin -- access end-all <Rally ObjectID>
 *
 * The Rally ObjectID is the number in `sub` (`rally:<ObjectID>`) of the audit lines, or what
 * `get_rally_user` shows.
 * @module
 */
import { fileURLToPath } from 'node:url';
import type { Firestore } from '@google-cloud/firestore';
import { CONNECTION_TOKEN_CLIENT_ID, CONNECTION_TOKEN_ID } from '../shared/crypto/connection-token.js';
import { createNoCredentialsAuth } from '../shared/kernel/no-credentials-auth.js';
import { listConnectionTokens, type ConnectionToken } from '../shared/store/connection-tokens.repo.js';
import { endConnectionToken, endGrant, type RevocationDeps } from '../shared/oauth-as/revocation.js';
import { createDeps } from '../shared/app/deps.js';
import { loadConfig } from '../shared/config/config.js';
import { createLogger } from '../shared/logging/logger.js';
import { endAccessRow, endAllAccess, listAccess, type AccessDeps } from '../shared/oauth-as/access.js';

export const ADMIN_USAGE = `usage:
  npm run admin -- tokens list --user <Rally user name>
  npm run admin -- tokens revoke --id <token id>
  npm run admin -- tokens revoke --user <Rally user name>
  npm run admin -- access list <Rally ObjectID>
  npm run admin -- access end <Rally ObjectID> <row id>
  npm run admin -- access end-all <Rally ObjectID>`;

export interface AdminIo {
  readonly db: Firestore;
  readonly now: () => Date;
  readonly out: (line: string) => void;
  /** Where `token_revoked` lines go (the command's stderr); none in tests that do not look. */
  readonly audit?: RevocationDeps['audit'];
}

/** The one ending path (`shared/oauth-as/revocation.ts`) with the operator's Firestore. */
const revocationDeps = (io: AdminIo): RevocationDeps => ({
  db: () => Promise.resolve(io.db),
  clock: { now: io.now },
  audit: io.audit ?? (() => undefined),
});

const day = (d: Date) => d.toISOString().slice(0, 16).replace('T', ' ');

/** One line per token: id, status, access, tools, projects, dates and the name (JSON-quoted: it is user text). */
export function tokenLine(t: ConnectionToken, now: Date): string {
  const status = t.status === 'revoked' ? `revoked(${t.revokedBy ?? '?'})` : t.expiresAt <= now ? 'expired' : 'active';
  return [
    t.tokenId,
    status,
    t.scopes.join(','),
    t.tools ? t.tools.join(',') : '*',
    t.projects ? t.projects.map((p) => p.ref).join(',') : '*',
    `created ${day(t.createdAt)}`,
    `expires ${day(t.expiresAt)}`,
    JSON.stringify(t.name),
  ].join('\t');
}

function option(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  const value = i >= 0 ? argv[i + 1] : undefined;
  return value !== undefined && !value.startsWith('--') ? value : undefined;
}

/** Runs one command; returns the process exit code (0 done, 1 nothing to do, 2 usage). */
export async function runAdmin(argv: readonly string[], io: AdminIo): Promise<number> {
  const [area, verb] = argv;
  const user = option(argv, 'user');
  const id = option(argv, 'id');
  if (area !== 'tokens' || (verb !== 'list' && verb !== 'revoke')) {
    io.out(ADMIN_USAGE);
    return 2;
  }
  const now = io.now();
  if (verb === 'list') {
    if (!user) {
      io.out(ADMIN_USAGE);
      return 2;
    }
    const tokens = await listConnectionTokens(io.db, { rallyUser: user });
    for (const t of tokens) io.out(tokenLine(t, now));
    io.out(`${tokens.length} token(s) of ${JSON.stringify(user)}`);
    return 0;
  }
  if (id !== undefined) {
    if (!CONNECTION_TOKEN_ID.test(id)) {
      io.out('a token id is 20 hex digits (the part after rmcp_ct_)');
      return 2;
    }
    const done = await endConnectionToken(revocationDeps(io), { tokenId: id }, 'operator_request');
    io.out(done ? `revoked ${id}` : `no active token ${id}`);
    return done ? 0 : 1;
  }
  if (!user) {
    io.out(ADMIN_USAGE);
    return 2;
  }
  const tokens = await listConnectionTokens(io.db, { rallyUser: user });
  let revoked = 0;
  for (const t of tokens) {
    if (
      t.status === 'active' &&
      (await endConnectionToken(revocationDeps(io), { tokenId: t.tokenId }, 'operator_request'))
    )
      revoked++;
  }
  // Their connections grants too: that deletes the Rally link the tokens used.
  const grants = [...new Set(tokens.map((t) => t.grantId))];
  let grantsRevoked = 0;
  for (const g of grants)
    if (await endGrant(revocationDeps(io), { grantId: g, clientId: CONNECTION_TOKEN_CLIENT_ID }, 'operator_request'))
      grantsRevoked++;
  io.out(`revoked ${revoked} token(s) and ${grantsRevoked} connections grant(s) of ${JSON.stringify(user)}`);
  return 0;
}

/** `access …` (argv after `access`); returns the exit code. `print` receives the answer, one line per call. */
export async function runAccessCommand(
  argv: readonly string[],
  deps: AccessDeps,
  print: (line: string) => void,
): Promise<number> {
  const [command, objectId, rowId] = argv;
  if (!objectId || !/^\d{1,20}$/.test(objectId) || !['list', 'end', 'end-all'].includes(command ?? '')) {
    print(ADMIN_USAGE);
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
        print(ADMIN_USAGE);
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

async function firestoreFromEnv(env: NodeJS.ProcessEnv): Promise<Firestore> {
  const projectId = env.GOOGLE_CLOUD_PROJECT;
  if (!projectId) throw new Error('GOOGLE_CLOUD_PROJECT is required');
  const { Firestore } = await import('@google-cloud/firestore');
  const emulator = env.FIRESTORE_EMULATOR_HOST;
  return new Firestore({
    projectId,
    databaseId: env.FIRESTORE_DATABASE_ID ?? '(default)',
    preferRest: true,
    ...(emulator
      ? {
          host: emulator,
          ssl: false,
          customHeaders: { Authorization: 'Bearer owner' },
          authClient: createNoCredentialsAuth(projectId),
        }
      : {}),
  } as ConstructorParameters<typeof Firestore>[0]);
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'access') {
  const config = loadConfig(process.env);
  const log = createLogger({ level: 'info', write: (line) => process.stderr.write(`${line}\n`) });
  const deps = createDeps(config, { log });
  process.exitCode = await runAccessCommand(process.argv.slice(3), deps, (line) => process.stdout.write(`${line}\n`));
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const db = await firestoreFromEnv(process.env);
  const code = await runAdmin(process.argv.slice(2), {
    db,
    now: () => new Date(),
    out: (line) => process.stdout.write(`${line}\n`),
    audit: (event, fields) => process.stderr.write(`${JSON.stringify({ event, ...fields })}\n`),
  });
  await db.terminate();
  process.exitCode = code;
}
