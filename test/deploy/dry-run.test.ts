/**
 * deploy.sh --dry-run: the full command list, its order and flags, pinned
 * secret versions, and no secret values in the output.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../shared/config/config.js';
import { COLLECTIONS, TTL_FIELD } from '../../shared/store/collections.js';
import { flag, gcloudCalls, NO_ENV_FILE, parseCommands, runDeploy, type RunResult } from './deploy-runner.js';

const BASE = ['--dry-run', '--project', 'demo-proj', '--region', 'us-central1', ...NO_ENV_FILE];
const SA = 'serviceAccount:rally-mcp-fn@demo-proj.iam.gserviceaccount.com';
const FUNCTIONS = ['mcp', 'authorization', 'oauthCallback', 'protectedResourceMetadata'];
const SECRETS = ['rally-client-secret', 'rally-mcp-sealing-key', 'rally-mcp-signing-key'];

/** `--set-env-vars=^;^A=1;B=2,3` → { A: '1', B: '2,3' } */
function envOf(argv: readonly string[]): Record<string, string> {
  const raw = flag(argv, 'set-env-vars');
  if (!raw?.startsWith('^;^')) throw new Error(`expected ^;^-delimited --set-env-vars, got ${raw}`);
  return Object.fromEntries(
    raw
      .slice(3)
      .split(';')
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

/** `--set-secrets=/etc/secrets/s:/2=s:2,…` → { '/etc/secrets/s/2': 's:2', … } (mount path + file → secret:version) */
function mountsOf(argv: readonly string[]): Record<string, string> {
  const raw = flag(argv, 'set-secrets');
  if (!raw) throw new Error('expected --set-secrets');
  return Object.fromEntries(
    raw.split(',').map((m) => {
      const [path, ref] = m.split('=') as [string, string];
      const [mountPath, file] = path.split(':') as [string, string];
      return [`${mountPath}${file}`, ref];
    }),
  );
}

/** Every file SECRET_SOURCE=mounted will read for this env: `<SECRETS_DIR>/<name>/<version>` → `name:version`. */
function filesReadFor(env: Record<string, string>): Record<string, string> {
  const config = loadConfig(env);
  const refs: Array<[string, string]> = [
    [config.RALLY_CLIENT_SECRET_NAME, config.RALLY_CLIENT_SECRET_VERSION],
    ...(config.UPSTREAM_PROVIDERS.includes('github')
      ? [[config.GITHUB_CLIENT_SECRET_NAME, config.GITHUB_CLIENT_SECRET_VERSION] as [string, string]]
      : []),
    ...config.SEALING_KEY_VERSIONS.map((v): [string, string] => [config.SEALING_KEY_NAME, v]),
    ...config.SIGNING_KEY_VERSIONS.map((v): [string, string] => [config.SIGNING_KEY_NAME, v]),
  ];
  return Object.fromEntries(refs.map(([n, v]) => [`${config.SECRETS_DIR}/${n}/${v}`, `${n}:${v}`]));
}

const startsWith = (argv: readonly string[], ...prefix: string[]) =>
  prefix.every((p, i) => argv[i + 1] === p) && (argv[0]?.startsWith('--project=') ?? false);

describe('deploy.sh --dry-run (deploy)', () => {
  let result: RunResult;
  let calls: string[][];
  const secretDir = mkdtempSync(join(tmpdir(), 'deploy-secret-'));
  const secretFile = join(secretDir, 'rally-secret.txt');
  const SECRET_VALUE = 'rally-secret-VALUE-3f9a0c7e1d';

  beforeAll(async () => {
    writeFileSync(secretFile, SECRET_VALUE);
    result = await runDeploy([...BASE, '--rally-client-id', 'client-123', '--rally-client-secret-file', secretFile]);
    calls = gcloudCalls(parseCommands(result.stdout));
  });
  afterAll(() => rmSync(secretDir, { recursive: true, force: true }));

  const indexOf = (pred: (a: string[]) => boolean) => {
    const i = calls.findIndex(pred);
    if (i < 0) throw new Error('expected command not printed');
    return i;
  };

  it('exits 0, prints only to stdout, and starts with the dry-run notice', () => {
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n')[0]).toMatch(/^# dry run for project demo-proj, region us-central1/);
  });

  it('passes --project to every gcloud command', () => {
    expect(calls.length).toBeGreaterThan(40);
    for (const c of calls) expect(c[0]).toBe('--project=demo-proj');
  });

  it('runs the steps in dependency order', () => {
    const order = [
      indexOf((a) => startsWith(a, 'services', 'enable')),
      indexOf((a) => startsWith(a, 'firestore', 'databases', 'create')),
      indexOf((a) => startsWith(a, 'firestore', 'fields', 'ttls', 'update')),
      indexOf((a) => startsWith(a, 'iam', 'service-accounts', 'create')),
      indexOf((a) => startsWith(a, 'projects', 'add-iam-policy-binding')),
      indexOf((a) => startsWith(a, 'secrets', 'create')),
      indexOf((a) => startsWith(a, 'secrets', 'add-iam-policy-binding')),
      indexOf((a) => startsWith(a, 'functions', 'deploy')),
      indexOf((a) => startsWith(a, 'logging', 'metrics', 'create')),
      indexOf((a) => startsWith(a, 'monitoring', 'dashboards', 'create')),
    ];
    expect([...order].sort((x, y) => x - y)).toEqual(order);
    const lines = result.stdout.split('\n');
    const firebase = lines.findIndex((l) => l.includes('firebase-tools@'));
    const lastGcloud = lines.map((l) => l.startsWith('+ gcloud')).lastIndexOf(true);
    expect(firebase).toBeGreaterThan(lastGcloud);
  });

  it('checks before it creates (describe/list, then create)', () => {
    const pairs: [string[], string[]][] = [
      [
        ['firestore', 'databases', 'describe'],
        ['firestore', 'databases', 'create'],
      ],
      [
        ['iam', 'service-accounts', 'describe'],
        ['iam', 'service-accounts', 'create'],
      ],
      [
        ['secrets', 'describe'],
        ['secrets', 'create'],
      ],
      [
        ['logging', 'metrics', 'describe'],
        ['logging', 'metrics', 'create'],
      ],
      [
        ['monitoring', 'dashboards', 'list'],
        ['monitoring', 'dashboards', 'create'],
      ],
      [
        ['services', 'list'],
        ['services', 'enable'],
      ],
    ];
    for (const [check, create] of pairs) {
      expect(indexOf((a) => startsWith(a, ...check))).toBeLessThan(indexOf((a) => startsWith(a, ...create)));
    }
  });

  it('enables the required APIs', () => {
    const enable = calls.find((a) => startsWith(a, 'services', 'enable'))!;
    for (const api of [
      'cloudfunctions',
      'run',
      'cloudbuild',
      'artifactregistry',
      'firestore',
      'secretmanager',
      'logging',
      'firebasehosting',
      'firebaserules',
    ]) {
      expect(enable).toContain(`${api}.googleapis.com`);
    }
  });

  it('creates a Native-mode Firestore database in the region', () => {
    const create = calls.find((a) => startsWith(a, 'firestore', 'databases', 'create'))!;
    expect(create).toEqual(
      expect.arrayContaining(['--database=(default)', '--type=firestore-native', '--location=us-central1']),
    );
  });

  it('puts a TTL policy on expiresAt of every collection and exempts it from indexing', () => {
    const ttl = calls.filter((a) => startsWith(a, 'firestore', 'fields', 'ttls', 'update'));
    const exempt = calls.filter((a) => startsWith(a, 'firestore', 'indexes', 'fields', 'update'));
    const ttlGroups = ttl.map(
      (a) => (expect(a).toContain(TTL_FIELD), expect(a).toContain('--enable-ttl'), flag(a, 'collection-group')),
    );
    expect(ttlGroups.sort()).toEqual(Object.values(COLLECTIONS).sort());
    const exempted = exempt.map(
      (a) => (expect(a).toContain('--disable-indexes'), `${flag(a, 'collection-group')}.${a[5]}`),
    );
    for (const c of Object.values(COLLECTIONS)) expect(exempted).toContain(`${c}.${TTL_FIELD}`);
    expect(exempted).toEqual(expect.arrayContaining(['rally_tokens.sealed', 'oauth_clients.metadata']));
  });

  it('grants the service account only datastore.user and logging.logWriter on the project', () => {
    const bindings = calls.filter((a) => startsWith(a, 'projects', 'add-iam-policy-binding'));
    expect(bindings.map((a) => [flag(a, 'member'), flag(a, 'role')]).sort()).toEqual([
      [SA, 'roles/datastore.user'],
      [SA, 'roles/logging.logWriter'],
    ]);
  });

  it('grants secretAccessor on exactly the three secrets, at secret level', () => {
    const bindings = calls.filter((a) => startsWith(a, 'secrets', 'add-iam-policy-binding'));
    expect(bindings.map((a) => a[3]).sort()).toEqual([...SECRETS].sort());
    for (const b of bindings) {
      expect(flag(b, 'member')).toBe(SA);
      expect(flag(b, 'role')).toBe('roles/secretmanager.secretAccessor');
    }
  });

  it('pipes every secret payload through stdin and never prints one', () => {
    const adds = parseCommands(result.stdout).filter((c) => c.line.includes('secrets versions add'));
    expect(adds).toHaveLength(3);
    for (const c of adds) expect(c.segments.at(-1)).toContain('--data-file=-');
    expect(adds.find((c) => c.line.includes('rally-client-secret'))!.line).toMatch(
      /--data-file=- < \S+rally-secret\.txt$/,
    );
    expect(result.stdout).not.toContain(SECRET_VALUE);
    expect(result.stdout).not.toMatch(/"kty"|"d":|BEGIN PRIVATE KEY/);
    // Secrets reach functions only as mounted files (`/path:/file=secret:version`), never as env vars (`NAME=secret:version`).
    expect(result.stdout).not.toMatch(/--update-secrets/);
    for (const m of result.stdout.match(/--set-secrets=\S+/g) ?? []) {
      for (const entry of m.slice('--set-secrets='.length).split(','))
        expect(entry).toMatch(/^\/etc\/secrets\/[\w-]+:\/\d+=[\w-]+:\d+$/);
    }
  });

  describe('functions', () => {
    const deploys = () => calls.filter((a) => startsWith(a, 'functions', 'deploy'));

    it('deploys the four functions gen2 on nodejs22, public, as the dedicated service account', () => {
      expect(deploys().map((a) => a[3])).toEqual(FUNCTIONS);
      for (const a of deploys()) {
        expect(a).toEqual(
          expect.arrayContaining([
            '--gen2',
            '--runtime=nodejs22',
            '--trigger-http',
            '--allow-unauthenticated',
            `--entry-point=${a[3]}`,
            '--region=us-central1',
          ]),
        );
        expect(flag(a, 'service-account')).toBe(SA.slice('serviceAccount:'.length));
        for (const f of ['memory', 'cpu', 'concurrency', 'timeout', 'max-instances', 'min-instances'])
          expect(flag(a, f)).toBeDefined();
      }
    });

    it('sizes mcp for concurrency 80 on 1 CPU, scale to zero by default', () => {
      const mcp = deploys().find((a) => a[3] === 'mcp')!;
      expect([flag(mcp, 'cpu'), flag(mcp, 'concurrency'), flag(mcp, 'min-instances'), flag(mcp, 'timeout')]).toEqual([
        '1',
        '80',
        '0',
        '60s',
      ]);
    });

    it('sets pinned numeric secret versions and the production env, which loadConfig accepts', () => {
      for (const a of deploys()) {
        const env = envOf(a);
        expect(env).toMatchObject({
          NODE_ENV: 'production',
          PUBLIC_BASE_URL: 'https://demo-proj.web.app',
          GOOGLE_CLOUD_PROJECT: 'demo-proj',
          RALLY_BASE_URL: 'https://rally1.rallydev.com',
          RALLY_CLIENT_ID: 'client-123',
          RALLY_CLIENT_SECRET_NAME: 'rally-client-secret',
          RALLY_CLIENT_SECRET_VERSION: '1',
          SEALING_KEY_NAME: 'rally-mcp-sealing-key',
          SEALING_KEY_VERSIONS: '1',
          SIGNING_KEY_NAME: 'rally-mcp-signing-key',
          SIGNING_KEY_VERSIONS: '1',
          SESSION_LINK_MODE: 'false',
          CONNECTION_TOKENS: 'true',
          CONNECTION_TOKEN_MAX_DAYS: '90',
          BINDING_COOKIE_NAME: '__session',
        });
        expect(Object.values(env).join(' ')).not.toMatch(/latest/i);
        const config = loadConfig(env);
        expect(config.SEALING_KEY_VERSIONS).toEqual(['1']);
        expect(config.SECRET_SOURCE).toBe('mounted');
        expect(config.SECRETS_DIR).toBe('/etc/secrets');
      }
    });

    it('mounts exactly the pinned versions the functions read, as files, never as env vars; the metadata function gets none', () => {
      for (const a of deploys()) {
        if (a[3] === 'protectedResourceMetadata') {
          expect(a).toContain('--clear-secrets');
          expect(flag(a, 'set-secrets')).toBeUndefined();
          continue;
        }
        expect(mountsOf(a)).toEqual(filesReadFor(envOf(a)));
        expect(flag(a, 'set-secrets')).not.toMatch(/latest|(^|,)[A-Z_]+=/); // pinned, and no secret env var
      }
    });
  });

  it('creates the four log-based metrics from the ops/ definitions and the dashboard', () => {
    const metrics = calls.filter((a) => startsWith(a, 'logging', 'metrics', 'create'));
    expect(metrics.map((a) => a[4])).toEqual([
      'rally_mcp/tool_executions',
      'rally_mcp/tool_latency_ms',
      'rally_mcp/sign_ins',
      'rally_mcp/rate_limited',
    ]);
    for (const a of metrics)
      expect(flag(a, 'config-from-file')).toMatch(new RegExp(`/ops/metrics/${a[4]!.split('/')[1]}\\.yaml$`));
    expect(
      flag(
        calls.find((a) => startsWith(a, 'monitoring', 'dashboards', 'create'))!,
        'config-from-file',
      ),
    ).toMatch(/\/ops\/dashboard\.json$/);
  });

  it('deploys hosting, rules and indexes with firebase-tools from a generated config', () => {
    const cmds = parseCommands(result.stdout);
    const gen = cmds.find((c) => c.line.includes('ops/hosting-config.ts'))!;
    expect(gen.segments[0]).toEqual(expect.arrayContaining(['--import', 'tsx', '--region=us-central1']));
    const fb = cmds.find((c) => c.line.includes('firebase-tools@'))!;
    expect(fb.segments[1]).toEqual(
      expect.arrayContaining([
        'deploy',
        '--only=hosting,firestore:rules,firestore:indexes',
        '--project=demo-proj',
        '--non-interactive',
      ]),
    );
  });

  it('ends with the MCP URL, the Rally redirect URI and a VS Code mcp.json snippet', () => {
    const tail = result.stdout.trimEnd().split('\n').slice(-4);
    expect(tail[0]).toBe('MCP server URL (paste into your MCP client): https://demo-proj.web.app/mcp');
    expect(tail[1]).toBe('Rally OAuth redirect URI (register it in Rally): https://demo-proj.web.app/oauth/callback');
    expect(JSON.parse(tail[3]!)).toEqual({
      servers: { rally: { type: 'http', url: 'https://demo-proj.web.app/mcp' } },
    });
  });
});

describe('deploy.sh options', () => {
  it('--min-instances 1 and --session-link-mode reach the mcp deploy', async () => {
    const r = await runDeploy([...BASE, '--min-instances', '1', '--session-link-mode']);
    expect(r.code).toBe(0);
    const mcp = gcloudCalls(parseCommands(r.stdout)).find((a) => startsWith(a, 'functions', 'deploy', 'mcp'))!;
    expect(flag(mcp, 'min-instances')).toBe('1');
    expect(envOf(mcp).SESSION_LINK_MODE).toBe('true');
  });

  it('--no-connection-tokens and --connection-token-max-days reach every function; a bad lifetime is refused', async () => {
    const r = await runDeploy([...BASE, '--no-connection-tokens', '--connection-token-max-days', '30']);
    expect(r.code).toBe(0);
    for (const d of gcloudCalls(parseCommands(r.stdout)).filter((a) => startsWith(a, 'functions', 'deploy'))) {
      expect(envOf(d).CONNECTION_TOKENS).toBe('false');
      expect(envOf(d).CONNECTION_TOKEN_MAX_DAYS).toBe('30');
    }
    expect((await runDeploy([...BASE, '--connection-token-max-days', '400'])).code).not.toBe(0);
  });

  it('--github-client-id and --github-client-secret-file (issue 19): a fourth secret from stdin, mounted and pinned; GitHub enabled in a config loadConfig accepts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deploy-gh-'));
    const file = join(dir, 'github-secret.txt');
    writeFileSync(file, 'github-secret-VALUE-8d1e2f');
    try {
      const r = await runDeploy([...BASE, '--github-client-id', 'gh-client', '--github-client-secret-file', file]);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toContain('github-secret-VALUE-8d1e2f');
      const all = gcloudCalls(parseCommands(r.stdout));
      const bindings = all.filter((a) => startsWith(a, 'secrets', 'add-iam-policy-binding')).map((a) => a[3]);
      expect(bindings.sort()).toEqual([...SECRETS, 'github-client-secret'].sort());
      const add = parseCommands(r.stdout).find((c) => c.line.includes('secrets versions add github-client-secret'));
      expect(add?.line).toMatch(/--data-file=- < \S+github-secret\.txt$/);
      const deploys = all.filter((a) => startsWith(a, 'functions', 'deploy'));
      for (const d of deploys) {
        const env = envOf(d);
        expect(env).toMatchObject({
          UPSTREAM_PROVIDERS: 'rally,github',
          GITHUB_CLIENT_ID: 'gh-client',
          GITHUB_CLIENT_SECRET_NAME: 'github-client-secret',
          GITHUB_CLIENT_SECRET_VERSION: '1',
          GITHUB_SCOPES: 'repo read:user',
        });
        const config = loadConfig(env);
        expect(config.UPSTREAM_PROVIDERS).toEqual(['rally', 'github']);
        expect(config.GITHUB_SCOPES).toEqual(['repo', 'read:user']);
        if (d[3] !== 'protectedResourceMetadata') expect(mountsOf(d)).toEqual(filesReadFor(env));
      }
      expect(r.stdout).toContain(
        'GitHub OAuth callback URL (register it in the GitHub OAuth app): https://demo-proj.web.app/oauth/callback',
      );
      // Without a client id, nothing of GitHub is deployed (a Rally-only deployment is unchanged).
      const plain = await runDeploy(BASE);
      expect(plain.stdout).not.toMatch(/github|GITHUB/);
      expect((await runDeploy([...BASE, '--github-client-secret-file', file])).code).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--secret-source secret-manager deploys the client-library reader and clears earlier mounts', async () => {
    const r = await runDeploy([...BASE, '--secret-source', 'secret-manager']);
    expect(r.code).toBe(0);
    const deploys = gcloudCalls(parseCommands(r.stdout)).filter((a) => startsWith(a, 'functions', 'deploy'));
    expect(deploys).toHaveLength(4);
    for (const d of deploys) {
      expect(loadConfig(envOf(d)).SECRET_SOURCE).toBe('secret-manager');
      expect(envOf(d).SECRETS_DIR).toBeUndefined();
      expect(d).toContain('--clear-secrets');
      expect(flag(d, 'set-secrets')).toBeUndefined();
    }
  });

  it('a custom origin changes every printed URL', async () => {
    const r = await runDeploy([...BASE, '--public-base-url', 'https://rally-mcp.example.com/']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('{"servers":{"rally":{"type":"http","url":"https://rally-mcp.example.com/mcp"}}}');
    expect(r.stdout).toContain('https://rally-mcp.example.com/oauth/callback');
  });

  it('reads settings from a deploy.env file, flags winning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deploy-env-'));
    try {
      const file = join(dir, 'deploy.env');
      writeFileSync(file, '# comment\nGCP_PROJECT=other-proj\nGCP_REGION=europe-west1\nRALLY_CLIENT_ID="from-file"\n');
      const r = await runDeploy(['--dry-run', '--env-file', file, '--region', 'us-east1']);
      expect(r.code).toBe(0);
      const mcp = gcloudCalls(parseCommands(r.stdout)).find((a) => a.includes('deploy') && a.includes('mcp'))!;
      expect(mcp[0]).toBe('--project=other-proj');
      expect(flag(mcp, 'region')).toBe('us-east1');
      expect(envOf(mcp).RALLY_CLIENT_ID).toBe('from-file');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [['--dry-run', ...NO_ENV_FILE, '--region', 'us-central1'], /--project/],
    [['--dry-run', ...NO_ENV_FILE, '--project', 'demo-proj'], /--region/],
    [[...BASE, '--bogus'], /unknown option '--bogus'/],
    [[...BASE, '--min-instances', '5'], /--min-instances must be 0 or 1/],
    [[...BASE, '--secret-source', 'env'], /--secret-source must be mounted or secret-manager/],
    [['rotate-key', 'nope', ...BASE], /unknown key 'nope'/],
    [['teardown', '--project', 'demo-proj', '--region', 'us-central1', ...NO_ENV_FILE], /--yes/],
  ])('refuses %j', async (args, message) => {
    const r = await runDeploy(args);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });

  it('--help prints usage and exits 0', async () => {
    const r = await runDeploy(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: \.\/deploy\.sh/);
  });
});

describe('deploy.sh rotate-key --dry-run', () => {
  it.each([
    ['sealing', 'rally-mcp-sealing-key', { SEALING_KEY_VERSIONS: '2,1', SIGNING_KEY_VERSIONS: '1' }],
    ['signing', 'rally-mcp-signing-key', { SEALING_KEY_VERSIONS: '1', SIGNING_KEY_VERSIONS: '2,1' }],
  ])('%s: adds one version and redeploys with it first', async (kind, secret, versions) => {
    const r = await runDeploy(['rotate-key', kind, ...BASE]);
    expect(r.code).toBe(0);
    const calls = gcloudCalls(parseCommands(r.stdout));
    const adds = calls.filter((a) => startsWith(a, 'secrets', 'versions', 'add'));
    expect(adds.map((a) => a[4])).toEqual([secret]);
    const deploys = calls.filter((a) => startsWith(a, 'functions', 'deploy'));
    expect(deploys).toHaveLength(4);
    for (const d of deploys) expect(envOf(d)).toMatchObject({ ...versions, RALLY_CLIENT_SECRET_VERSION: '1' });
    const mcp = deploys.find((d) => d[3] === 'mcp')!;
    expect(mountsOf(mcp)).toEqual(filesReadFor(envOf(mcp))); // the new version is mounted beside the old one
    expect(Object.values(mountsOf(mcp))).toContain(`${secret}:2`);
    expect(calls.some((a) => a.includes('create'))).toBe(false);
  });
});

describe('deploy.sh is shellcheck-clean', () => {
  it('has no shellcheck findings', () => {
    // shellcheck is a system package (README, Quick start); the preflight of npm test names it when missing.
    expect(() =>
      execFileSync('shellcheck', ['--severity=style', 'deploy.sh'], {
        cwd: new URL('../../', import.meta.url),
        stdio: 'pipe',
      }),
    ).not.toThrow();
  });
});
