/**
 * `npm start`: the whole product on http://localhost:${PORT:-8080} with the
 * Firestore emulator, the Rally sandbox and (unless GITHUB_SANDBOX=false) the
 * GitHub sandbox. Ctrl-C stops everything it started.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, ConfigSchema, loadConfig } from '../shared/config/config.js';
import { emulatorPrerequisiteProblem } from './firestore-emulator.js';
import { isPortInUse } from './process-utils.js';
import { startLocalStack, type LocalStack } from './local-stack.js';

const REPO_ROOT = new URL('..', import.meta.url).pathname;

function fail(message: string): never {
  process.stderr.write(`rally-mcp: ${message}\n`);
  process.exit(1);
}

/** Config variables the developer set in their shell override the stack's defaults. */
function configOverrides(): Record<string, string> {
  const known = new Set(Object.keys(ConfigSchema.shape));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && known.has(k) && !['PUBLIC_BASE_URL', 'FIRESTORE_EMULATOR_HOST'].includes(k)) out[k] = v;
  }
  return out;
}

const portText = process.env.PORT ?? '8080';
const port = Number(portText);
if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`PORT must be a port number, got "${portText}"`);
if (await isPortInUse(port))
  fail(`port ${port} is already in use; stop whatever uses it or run with PORT=<free port> npm start`);
const firestoreHost = process.env.FIRESTORE_EMULATOR_HOST;
if (!firestoreHost) {
  const problem = emulatorPrerequisiteProblem();
  if (problem) fail(problem);
}

// Dev-only switches of the GitHub sandbox (issue 19), not product configuration.
const githubSandboxText = process.env.GITHUB_SANDBOX ?? 'true';
if (!['true', 'false'].includes(githubSandboxText)) fail(`GITHUB_SANDBOX must be true or false`);
const githubTokenMode = process.env.GITHUB_SANDBOX_TOKEN_MODE ?? 'oauth-app';
if (githubTokenMode !== 'oauth-app' && githubTokenMode !== 'github-app')
  fail('GITHUB_SANDBOX_TOKEN_MODE must be oauth-app or github-app');

const overrides = configOverrides();
const realRally =
  overrides.RALLY_BASE_URL && overrides.RALLY_CLIENT_ID
    ? { baseUrl: overrides.RALLY_BASE_URL, clientId: overrides.RALLY_CLIENT_ID }
    : undefined;
try {
  // Validate the developer's overrides now, so a typo is one clear line, not a child crash.
  loadConfig({
    NODE_ENV: 'development',
    PUBLIC_BASE_URL: `http://localhost:${port}`,
    GOOGLE_CLOUD_PROJECT: 'demo-rally-mcp',
    RALLY_CLIENT_ID: 'x',
    SECRET_SOURCE: 'file',
    SECRETS_DIR: '.local/keys',
    ...overrides,
  });
} catch (err) {
  if (err instanceof ConfigError) fail(err.message);
  throw err;
}

const keysDir = join(REPO_ROOT, '.local', 'keys');
mkdirSync(keysDir, { recursive: true, mode: 0o700 });

let stack: LocalStack | undefined;
let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  process.stdout.write('rally-mcp: stopping…\n');
  await stack?.stop();
  process.exit(code);
};
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

try {
  stack = await startLocalStack({
    port,
    publicBaseUrl: `http://localhost:${port}`,
    projectId: 'demo-rally-mcp',
    keysDir,
    ...(firestoreHost ? { firestoreHost } : {}),
    ...(realRally ? { rally: realRally } : {}),
    ...(githubSandboxText === 'true' ? { githubSandbox: { tokenMode: githubTokenMode } } : {}),
    env: overrides,
    onServerLog: (line) => process.stdout.write(`${line}\n`),
  });
} catch (err) {
  fail(`could not start the local stack: ${err instanceof Error ? err.message : String(err)}`);
}

const url = `http://localhost:${port}`;
const mcpJson = JSON.stringify({ servers: { rally: { type: 'http', url: `${url}/mcp` } } }, null, 2);
process.stdout.write(
  [
    '',
    `rally-mcp ready: MCP URL ${url}/mcp  (Rally ${stack.sandbox ? `sandbox ${stack.sandbox.url}, users alice/alice and bob/bob` : overrides.RALLY_BASE_URL}; Firestore emulator ${stack.firestoreHost})`,
    ...(stack.github
      ? [
          `GitHub sandbox (${stack.github.tokenMode} tokens): web ${stack.github.authorizeBaseUrl}, API ${stack.github.apiBaseUrl}, users alice/alice, bob/bob, carol/carol; client ${stack.github.clientId}, secret in ${join(keysDir, stack.github.clientSecretName)}`,
        ]
      : []),
    'Paste into .vscode/mcp.json:',
    mcpJson,
    'Press Ctrl-C to stop.',
    '',
  ].join('\n'),
);
