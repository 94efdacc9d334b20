/**
 * Every gcloud command deploy.sh can print goes through the installed
 * gcloud's argument parser. With an empty config dir and no credentials a
 * well-formed command stops at "no active account"; a flag typo stops
 * earlier with a parser error. So a typo cannot ship.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gcloudCalls, NO_ENV_FILE, parseCommands, REPO_ROOT, runDeploy } from './deploy-runner.js';

const BASE = [
  '--dry-run',
  '--project',
  'demo-proj',
  '--region',
  'us-central1',
  '--rally-client-id',
  'cid',
  ...NO_ENV_FILE,
];
const PARSER_ERROR =
  /unrecognized arguments|invalid choice|argument [^:]*: expected|expected one argument|Bad syntax|must be specified|is required|not allowed with argument|Invalid value for|Failed to parse|Unable to read file|Usage: gcloud/i;
const AUTH_ERROR =
  /You do not currently have an active account selected|gcloud auth login|credential|Reauthentication|permission/i;

interface Outcome {
  readonly argv: readonly string[];
  readonly code: number | null;
  readonly output: string;
}

function runGcloud(argv: readonly string[], configDir: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = execFile(
      'gcloud',
      [...argv],
      {
        cwd: REPO_ROOT,
        timeout: 30_000,
        killSignal: 'SIGKILL',
        env: {
          PATH: process.env.PATH,
          HOME: configDir,
          CLOUDSDK_CONFIG: configDir,
          CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
          CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: 'true',
          CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: 'true',
          NO_PROXY: '*',
        },
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ argv, code, output: `${stdout}${stderr}` });
      },
    );
    child.stdin?.end(); // `--data-file=-` reads stdin: give it an empty one
  });
}

async function pool<T, R>(items: readonly T[], width: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

const FIELD_NAMES = new Set(['expiresAt', 'sealed', 'metadata']);

/** Deduplicated by command shape: the same flags on another collection or secret parse the same way. */
async function everyGcloudCommand(): Promise<string[][]> {
  const runs = await Promise.all([
    runDeploy([...BASE, '--rally-client-secret-file', '/dev/null']),
    runDeploy(['rotate-key', 'signing', ...BASE]),
    runDeploy(['teardown', ...BASE, '--delete-database']),
  ]);
  for (const r of runs) expect(r.code).toBe(0);
  const all = runs.flatMap((r) => gcloudCalls(parseCommands(r.stdout)));
  const seen = new Map<string, string[]>();
  const shape = (argv: readonly string[]) =>
    JSON.stringify(
      argv.map((w) => (w.startsWith('--collection-group=') ? '--collection-group=*' : FIELD_NAMES.has(w) ? '*' : w)),
    );
  for (const argv of all) seen.set(shape(argv), argv);
  return [...seen.values()];
}

describe('gcloud accepts every command deploy.sh prints', () => {
  let configDir: string;
  beforeAll(() => {
    configDir = mkdtempSync(join(tmpdir(), 'gcloud-empty-'));
  });
  afterAll(() => rmSync(configDir, { recursive: true, force: true }));

  it('classifies a flag typo as a parser error (control)', async () => {
    const bad = await runGcloud(
      ['--project=demo-proj', 'secrets', 'create', 's', '--replicaton-policy=automatic'],
      configDir,
    );
    expect(bad.code).not.toBe(0);
    expect(bad.output).toMatch(PARSER_ERROR);
    const good = await runGcloud(
      ['--project=demo-proj', 'secrets', 'create', 's', '--replication-policy=automatic'],
      configDir,
    );
    expect(good.output).toMatch(AUTH_ERROR);
    expect(good.output).not.toMatch(PARSER_ERROR);
  });

  it('every command fails only for lack of credentials', async () => {
    const commands = await everyGcloudCommand();
    expect(commands.length).toBeGreaterThan(30);
    const outcomes = await pool(commands, 4, (argv) => runGcloud(argv, configDir));
    const bad = outcomes.filter((o) => o.code === 0 || PARSER_ERROR.test(o.output) || !AUTH_ERROR.test(o.output));
    expect(
      bad.map((o) => `gcloud ${o.argv.join(' ')}\n  → ${o.output.trim().split('\n').slice(0, 2).join(' | ')}`),
    ).toEqual([]);
  }, 180_000);
});
