/**
 * The preflight of `npm test` and `npm start` (scripts/preflight.mjs) on a
 * fake machine: a copy of the script in a checkout of its own, stand-in tools
 * (gcloud with the emulator jar, java with its release file, shellcheck, the
 * bundled Chromium packed as the npm package packs it), and a PATH that holds
 * only those. Each prerequisite is hidden in turn; the preflight must exit 1
 * with one line that names it and the command that installs it. Whatever
 * this machine has in /usr/bin never shows through.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync } from 'node:zlib';
import { preflight } from '../../../scripts/preflight.mjs';

const SCRIPT = fileURLToPath(new URL('../../../scripts/preflight.mjs', import.meta.url));
// The bundled Chromium is Linux x64 only (the project's machines and CI); elsewhere the fake machine names its browser.
const BUNDLED_HERE = process.platform === 'linux' && process.arch === 'x64';

interface FakeMachine {
  readonly root: string;
  readonly env: NodeJS.ProcessEnv;
  /** Which stand-in tools the preflight executed. */
  ran(): string[];
}

const scratch = mkdtempSync(join(tmpdir(), 'preflight-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function write(path: string, text: string | Buffer, mode = 0o644) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
}

/** A stand-in tool that records that it ran. */
const tool = (marks: string, name: string, body = 'exit 0') => `#!/bin/sh\n: > "${marks}/${name}"\n${body}\n`;

/** A checkout after `npm install` on a machine with every prerequisite; `change` takes one away. */
function fakeMachine(
  change: (m: { root: string; dirs: Record<'bin' | 'sdk' | 'jdk', string> }) => void = () => {},
): FakeMachine {
  const base = mkdtempSync(join(scratch, 'machine-'));
  const root = join(base, 'checkout');
  const marks = join(base, 'ran');
  mkdirSync(marks);
  mkdirSync(join(root, 'scripts'), { recursive: true });
  copyFileSync(SCRIPT, join(root, 'scripts/preflight.mjs'));
  for (const bin of ['node', 'tsx', 'tsc', 'jest']) write(join(root, 'node_modules/.bin', bin), '', 0o755);
  write(join(root, 'node_modules/playwright-core/package.json'), '{"version":"1.0.0"}');
  write(join(root, 'node_modules/@sparticuz/chromium/package.json'), '{"version":"0.0.0-fake"}');
  write(
    join(root, 'node_modules/@sparticuz/chromium/bin/chromium.br'),
    brotliCompressSync(tool(marks, 'chromium', 'echo "Chromium 99.0.1234.5"')),
  );
  const dirs = { bin: join(base, 'bin'), sdk: join(base, 'google-cloud-sdk'), jdk: join(base, 'jdk') };
  write(join(dirs.bin, 'shellcheck'), tool(marks, 'shellcheck'), 0o755);
  write(join(dirs.sdk, 'bin/gcloud'), tool(marks, 'gcloud'), 0o755);
  write(join(dirs.sdk, 'platform/cloud-firestore-emulator/cloud-firestore-emulator.jar'), '');
  write(join(dirs.jdk, 'bin/java'), tool(marks, 'java'), 0o755);
  write(join(dirs.jdk, 'release'), 'IMPLEMENTOR="Test"\nJAVA_VERSION="17.0.15"\n');
  change({ root, dirs });
  const env: NodeJS.ProcessEnv = {
    PATH: Object.values(dirs)
      .map((d) => (d === dirs.bin ? d : join(d, 'bin')))
      .join(':'),
    HOME: base,
  };
  if (!BUNDLED_HERE) env.CHROMIUM_PATH = join(dirs.bin, 'shellcheck'); // any executable file stands in for a system browser
  return { root, env, ran: () => (existsSync(marks) ? readdirSync(marks).sort() : []) };
}

function run(machine: FakeMachine, mode: 'test' | 'start', env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [join(machine.root, 'scripts/preflight.mjs'), mode], {
    env: { ...machine.env, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, stdout: r.stdout, lines: r.stderr.trim().split('\n').filter(Boolean) };
}

const hidePath = (dir: string) => (m: { root: string; dirs: Record<string, string> }) =>
  rmSync(m.dirs[dir]!, { recursive: true });

describe('preflight of npm test', () => {
  it('on a complete machine: exit 0, one line that lists what it found, and it runs none of gcloud, java or shellcheck', () => {
    const machine = fakeMachine();
    const r = run(machine, 'test');
    expect(r.lines).toEqual([]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `^preflight: ok for npm test: Node ${process.versions.node}, gcloud with the Firestore emulator, Java 17, .*shellcheck \\(\\d+ ms\\)\\n$`,
        'm',
      ),
    );
    // Fast because it only looks files up: the one process it may start is the bundled Chromium's --version.
    expect(machine.ran()).toEqual(BUNDLED_HERE ? ['chromium'] : []);
  });

  const cases: Array<[string, Parameters<typeof fakeMachine>[0], RegExp, string[]]> = [
    [
      'gcloud',
      hidePath('sdk'),
      /^preflight: gcloud not found: install the Google Cloud CLI/,
      [
        'sudo apt-get install google-cloud-cli google-cloud-cli-firestore-emulator',
        'brew install --cask google-cloud-sdk',
      ],
    ],
    [
      'the Firestore emulator',
      (m) => rmSync(join(m.dirs.sdk, 'platform/cloud-firestore-emulator'), { recursive: true }),
      /^preflight: Firestore emulator not installed/,
      [
        'sudo apt-get install google-cloud-cli-firestore-emulator',
        'gcloud components install cloud-firestore-emulator',
      ],
    ],
    [
      'java',
      hidePath('jdk'),
      /^preflight: java not found: the Firestore emulator needs Java 11\+/,
      ['sudo apt-get install default-jre-headless', 'brew install --cask temurin'],
    ],
    [
      'Java 11+ (only Java 8 installed)',
      (m) => write(join(m.dirs.jdk, 'release'), 'JAVA_VERSION="1.8.0_392"\n'),
      /^preflight: Java 1\.8\.0_392 is too old/,
      ['sudo apt-get install default-jre-headless'],
    ],
    [
      'shellcheck',
      hidePath('bin'),
      /^preflight: shellcheck not found: the tests lint deploy\.sh with it/,
      ['sudo apt-get install shellcheck', 'brew install shellcheck'],
    ],
    [
      'Node 22 (node_modules/.bin/node)',
      (m) => rmSync(join(m.root, 'node_modules/.bin/node')),
      /^preflight: npm packages not installed \(no node_modules\/\.bin\/node\)/,
      ['run npm install'],
    ],
  ];
  it.each(cases)('missing %s: one line naming it and its install command, exit 1', (_name, change, names, commands) => {
    const r = run(fakeMachine(change), 'test');
    expect(r.status).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(names);
    for (const command of commands) expect(r.lines[0]).toContain(command);
  });

  it('a fresh clone without npm install: one line that says npm install, beside the system tools still missing', () => {
    const machine = fakeMachine((m) => {
      rmSync(join(m.root, 'node_modules'), { recursive: true });
      rmSync(m.dirs.bin, { recursive: true });
    });
    const r = run(machine, 'test');
    expect(r.status).toBe(1);
    expect(r.lines).toHaveLength(2);
    expect(r.lines[0]).toMatch(
      /^preflight: npm packages not installed \(no node_modules\/\.bin\/node, .*\): run npm install$/,
    );
    expect(r.lines[1]).toContain('shellcheck not found');
  });

  it('with nothing installed: one line per missing piece', () => {
    const machine = fakeMachine((m) => {
      rmSync(join(m.root, 'node_modules'), { recursive: true });
      for (const dir of Object.values(m.dirs)) rmSync(dir, { recursive: true });
    });
    const r = run(machine, 'test');
    expect(r.status).toBe(1);
    expect(r.lines.map((l) => /^preflight: (\S+ \S+)/.exec(l)?.[1])).toEqual([
      'npm packages',
      'gcloud not',
      'java not',
      'shellcheck not',
    ]);
  });

  (BUNDLED_HERE ? describe : describe.skip)('the bundled Chromium (Linux x64)', () => {
    it('is unpacked once into the checkout, versioned, and named with its version', () => {
      const machine = fakeMachine();
      const first = run(machine, 'test');
      expect(first.stdout).toContain('preflight: unpacking the bundled Chromium');
      expect(first.stdout).toContain('bundled Chromium 99.0.1234.5');
      expect(existsSync(join(machine.root, 'node_modules/.cache/rally-mcp/chromium-0.0.0-fake/chromium'))).toBe(true);
      const second = run(machine, 'test');
      expect(second.stdout).not.toContain('unpacking');
      expect(second.status).toBe(0);
    });

    it('without the npm package: the npm install line names it', () => {
      const r = run(
        fakeMachine((m) => rmSync(join(m.root, 'node_modules/@sparticuz'), { recursive: true })),
        'test',
      );
      expect(r.lines).toEqual([
        'preflight: npm packages not installed (no node_modules/@sparticuz/chromium): run npm install',
      ]);
    });

    it('when the packed file is damaged: says it could not be unpacked, and leaves no partial binary behind', () => {
      const machine = fakeMachine((m) =>
        write(join(m.root, 'node_modules/@sparticuz/chromium/bin/chromium.br'), 'not brotli'),
      );
      const r = run(machine, 'test');
      expect(r.status).toBe(1);
      expect(r.lines).toHaveLength(1);
      expect(r.lines[0]).toMatch(
        /^preflight: the bundled Chromium could not be unpacked into node_modules\/\.cache \(.+\): free some disk, or run npm install again$/,
      );
      expect(readdirSync(join(machine.root, 'node_modules/.cache/rally-mcp/chromium-0.0.0-fake'))).toEqual([]);
    });

    it('when a shared library is missing: names the library and how to install it', () => {
      const r = run(
        fakeMachine((m) =>
          write(
            join(m.root, 'node_modules/@sparticuz/chromium/bin/chromium.br'),
            brotliCompressSync(
              '#!/bin/sh\necho "chromium: error while loading shared libraries: libnss3.so: cannot open shared object file" >&2\nexit 127\n',
            ),
          ),
        ),
        'test',
      );
      expect(r.status).toBe(1);
      expect(r.lines).toHaveLength(1);
      expect(r.lines[0]).toContain(
        'the bundled Chromium cannot start (chromium: error while loading shared libraries: libnss3.so',
      );
      expect(r.lines[0]).toContain('sudo apt-get install libnss3');
    });
  });

  it('CHROMIUM_PATH that is not an executable: names the variable', () => {
    const r = run(fakeMachine(), 'test', { CHROMIUM_PATH: '/nonexistent/chrome' });
    expect(r.lines).toEqual([
      'preflight: CHROMIUM_PATH=/nonexistent/chrome is not an executable file: point it at a Chromium or Chrome binary, or unset it',
    ]);
  });
});

describe('preflight of npm start', () => {
  it('needs no browser and no shellcheck', () => {
    const machine = fakeMachine((m) => {
      rmSync(m.dirs.bin, { recursive: true });
      rmSync(join(m.root, 'node_modules/@sparticuz'), { recursive: true });
    });
    const r = run(machine, 'start');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(
      /^preflight: ok for npm start: Node [\d.]+, gcloud with the Firestore emulator, Java 17 \(\d+ ms\)$/m,
    );
  });

  it('without gcloud: one line naming it and its install command', () => {
    const r = run(fakeMachine(hidePath('sdk')), 'start');
    expect(r.status).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^preflight: gcloud not found: .*sudo apt-get install google-cloud-cli/);
  });

  it('with FIRESTORE_EMULATOR_HOST (an emulator the caller runs): gcloud and java are not needed', () => {
    const r = run(
      fakeMachine((m) => {
        hidePath('sdk')(m);
        hidePath('jdk')(m);
      }),
      'start',
      { FIRESTORE_EMULATOR_HOST: '127.0.0.1:8081' },
    );
    expect(r.lines).toEqual([]);
    expect(r.status).toBe(0);
  });

  it('on the system Node 20 (npm scripts were bypassed): says to run through npm', async () => {
    const machine = fakeMachine();
    const { problems } = await preflight('start', { root: machine.root, env: machine.env, nodeVersion: '20.20.2' });
    expect(problems).toEqual([
      'Node 22 not in use (this is Node 20.20.2): run through npm (npm start, npm test), which puts node_modules/.bin and its Node 22 first on PATH',
    ]);
  });
});
