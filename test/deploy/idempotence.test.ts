/**
 * deploy.sh against a fake gcloud (test/deploy/fakes/gcloud.mjs) that keeps
 * state between runs: the first run creates everything, the second creates
 * nothing and only redeploys code; a key rotation adds exactly one version.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flag, NO_ENV_FILE, REPO_ROOT, runDeploy, type RunResult } from './deploy-runner.js';
import { COLLECTIONS } from '../../shared/store/collections.js';

const MUTATING = /^(create|enable|update|add|add-iam-policy-binding|deploy|delete|disable)$/;
const SECRET_VALUE = 'rally-secret-IDEMPOTENCE-8c1e55';

interface Call {
  readonly argv: string[];
}

describe('deploy.sh idempotence (fake gcloud with state)', () => {
  let work: string;
  let stateDir: string;
  let env: NodeJS.ProcessEnv;
  let args: string[];
  const callsSoFar = (): Call[] =>
    readFileSync(join(stateDir, 'calls.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Call);
  const mutations = (calls: readonly Call[]) =>
    calls
      .filter((c) => c.argv.filter((w) => !w.startsWith('--')).some((w) => MUTATING.test(w)))
      .map((c) => c.argv.filter((w) => !w.startsWith('--')).join(' '));
  const state = () =>
    JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as {
      versions: Record<string, { sha256: string; shape: string }[]>;
    };
  const deployEnv = (calls: readonly Call[], fn = 'mcp') => {
    const a = calls.find((c) => c.argv.includes('deploy') && c.argv.includes(fn))!.argv;
    return Object.fromEntries(
      flag(a, 'set-env-vars')!
        .slice(3)
        .split(';')
        .map((kv) => kv.split(/=(.*)/s).slice(0, 2)),
    );
  };

  let first: RunResult;
  let second: RunResult;
  let firstCalls: Call[];
  let secondCalls: Call[];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'deploy-idem-'));
    stateDir = join(work, 'state');
    const bin = join(work, 'bin');
    mkdirSync(stateDir);
    mkdirSync(bin);
    symlinkSync(join(REPO_ROOT, 'test/deploy/fakes/gcloud.mjs'), join(bin, 'gcloud'));
    symlinkSync(join(REPO_ROOT, 'test/deploy/fakes/npx'), join(bin, 'npx'));
    const secretFile = join(work, 'rally-secret.txt');
    writeFileSync(secretFile, SECRET_VALUE);
    env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, FAKE_GCLOUD_STATE: stateDir };
    args = [
      '--project',
      'demo-proj',
      '--region',
      'us-central1',
      '--rally-client-id',
      'cid',
      '--rally-client-secret-file',
      secretFile,
      ...NO_ENV_FILE,
    ];

    first = await runDeploy(args, { env });
    firstCalls = callsSoFar();
    second = await runDeploy(args, { env });
    secondCalls = callsSoFar().slice(firstCalls.length);
  }, 120_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('both runs succeed', () => {
    expect([first.code, first.stderr]).toEqual([0, '']);
    expect([second.code, second.stderr]).toEqual([0, '']);
  });

  it('the first run creates every resource', () => {
    const m = mutations(firstCalls);
    expect(m.filter((c) => c.startsWith('services enable'))).toHaveLength(1);
    expect(m).toContain('firestore databases create');
    expect(m.filter((c) => c.startsWith('firestore fields ttls update'))).toHaveLength(Object.keys(COLLECTIONS).length);
    expect(m).toEqual(
      expect.arrayContaining([
        'iam service-accounts create rally-mcp-fn',
        'secrets create rally-client-secret',
        'secrets create rally-mcp-sealing-key',
        'secrets create rally-mcp-signing-key',
        'logging metrics create rally_mcp/tool_executions',
        'monitoring dashboards create',
      ]),
    );
  });

  it('the second run creates nothing: it only redeploys the four functions and hosting', () => {
    expect(mutations(secondCalls)).toEqual([
      'functions deploy mcp',
      'functions deploy authorization',
      'functions deploy oauthCallback',
      'functions deploy protectedResourceMetadata',
    ]);
    expect(readFileSync(join(stateDir, 'npx.log'), 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it('stores one version per secret, of the right shape, piped via stdin', () => {
    const v = state().versions;
    expect(Object.fromEntries(Object.entries(v).map(([k, list]) => [k, list.map((x) => x.shape)]))).toEqual({
      'rally-client-secret': ['other'],
      'rally-mcp-sealing-key': ['base64url-32-bytes'],
      'rally-mcp-signing-key': ['ed25519-private-jwk'],
    });
    expect(v['rally-client-secret']![0]!.sha256).toBe(createHash('sha256').update(SECRET_VALUE).digest('hex'));
  });

  it('never puts a secret value in an argument or in the output', () => {
    const everything = `${first.stdout}${first.stderr}${second.stdout}${second.stderr}${readFileSync(join(stateDir, 'calls.jsonl'), 'utf8')}`;
    expect(everything).not.toContain(SECRET_VALUE);
    expect(everything).not.toMatch(/"kty"|"d":/);
  });

  it('deploys pinned versions and the committed firebase.json', () => {
    expect(deployEnv(secondCalls)).toMatchObject({
      RALLY_CLIENT_SECRET_VERSION: '1',
      SEALING_KEY_VERSIONS: '1',
      SIGNING_KEY_VERSIONS: '1',
    });
    expect(readFileSync(join(stateDir, 'deployed-firebase.json'), 'utf8')).toBe(
      readFileSync(join(REPO_ROOT, 'firebase.json'), 'utf8'),
    );
  });

  it('rotate-key sealing adds exactly one version and deploys it first', async () => {
    const before = callsSoFar().length;
    const r = await runDeploy(['rotate-key', 'sealing', ...args], { env });
    expect([r.code, r.stderr]).toEqual([0, '']);
    const calls = callsSoFar().slice(before);
    expect(mutations(calls)).toEqual([
      'secrets versions add rally-mcp-sealing-key',
      'functions deploy mcp',
      'functions deploy authorization',
      'functions deploy oauthCallback',
      'functions deploy protectedResourceMetadata',
    ]);
    expect(state().versions['rally-mcp-sealing-key']!.map((x) => x.shape)).toEqual([
      'base64url-32-bytes',
      'base64url-32-bytes',
    ]);
    expect(deployEnv(calls, 'authorization')).toMatchObject({
      SEALING_KEY_VERSIONS: '2,1',
      SIGNING_KEY_VERSIONS: '1',
      RALLY_CLIENT_SECRET_VERSION: '1',
    });
  }, 60_000);
});
