/**
 * Preflight, the first step of `npm start` and `npm test`: checks every
 * prerequisite that lives outside the repository and, for each missing one,
 * prints one line naming it and the command that installs it, then exits 1,
 * instead of a stack trace or dozens of failing tests.
 *
 * It runs on every start, so every check is a file lookup: no `gcloud` or
 * `java` is executed (each takes from 0.2 s to a second). The one process it
 * starts is the bundled Chromium's `--version` (about 50 ms), the only way to
 * learn that its shared libraries load.
 *
 * Plain JavaScript without dependencies: before `npm install` it runs on the
 * system's Node, whatever its version, and must still say what is missing.
 * Usage: node scripts/preflight.mjs start|test
 */
import { execFileSync } from 'node:child_process';
import {
  accessSync,
  constants,
  createReadStream,
  createWriteStream,
  existsSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  mkdirSync,
  statSync,
} from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createBrotliDecompress } from 'node:zlib';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const MIN_NODE = 22;
const MIN_JAVA = 11; // the emulator jar's classes are Java 11 bytecode

// What each missing piece prints: what it is, then how to install it.
const INSTALL = {
  npm: (missing) => `npm packages not installed (no ${missing.join(', ')}): run npm install`,
  node: (version) =>
    `Node ${MIN_NODE} not in use (this is Node ${version}): run through npm (npm start, npm test), which puts node_modules/.bin and its Node ${MIN_NODE} first on PATH`,
  gcloud:
    "gcloud not found: install the Google Cloud CLI and its Firestore emulator (Debian/Ubuntu, from Google Cloud's apt repository: sudo apt-get install google-cloud-cli google-cloud-cli-firestore-emulator; macOS: brew install --cask google-cloud-sdk && gcloud components install cloud-firestore-emulator)",
  emulator: (sdk) =>
    `Firestore emulator not installed in the Google Cloud CLI at ${sdk} (Debian/Ubuntu: sudo apt-get install google-cloud-cli-firestore-emulator; other installs: gcloud components install cloud-firestore-emulator)`,
  java: `java not found: the Firestore emulator needs Java ${MIN_JAVA}+ (Debian/Ubuntu: sudo apt-get install default-jre-headless; macOS: brew install --cask temurin)`,
  javaTooOld: (version) =>
    `Java ${version} is too old: the Firestore emulator needs Java ${MIN_JAVA}+ (Debian/Ubuntu: sudo apt-get install default-jre-headless; macOS: brew install --cask temurin)`,
  shellcheck:
    'shellcheck not found: the tests lint deploy.sh with it (Debian/Ubuntu: sudo apt-get install shellcheck; macOS: brew install shellcheck)',
  chromiumPath: (path) =>
    `CHROMIUM_PATH=${path} is not an executable file: point it at a Chromium or Chrome binary, or unset it`,
  chromiumUnpack: (why) =>
    `the bundled Chromium could not be unpacked into node_modules/.cache (${why}): free some disk, or run npm install again`,
  chromiumBroken: (why) =>
    `the bundled Chromium cannot start (${why}): install its libraries (Debian/Ubuntu: sudo apt-get install libnss3)`,
  chromiumNone: (platform) =>
    `no Chromium for the browser tests (the bundled one is for Linux x64 only, this is ${platform}): install one (Debian/Ubuntu: sudo apt-get install chromium; macOS: brew install --cask google-chrome) or set CHROMIUM_PATH`,
};

/** System browsers tried where the bundled Chromium does not run (not Linux x64). */
const SYSTEM_BROWSERS = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/snap/bin/chromium',
  '/usr/bin/google-chrome',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
];

const isExecutableFile = (path) => {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

/** The first `cmd` on env.PATH, as the shell would find it, or undefined. */
export function which(cmd, env = process.env) {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutableFile(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

/** The Chromium inside the @sparticuz/chromium package (Linux x64 only), unpacked or not. */
export function bundledChromium(root = REPO_ROOT) {
  const pkg = join(root, 'node_modules/@sparticuz/chromium');
  const packed = join(pkg, 'bin/chromium.br');
  if (!existsSync(packed)) return undefined;
  const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
  // Versioned and inside this checkout: the package's own executablePath() reuses whatever sits
  // at /tmp/chromium (an older version, or a file another user put there) and unpacks in place,
  // which races when several jest workers start at once.
  return { packed, executable: join(root, 'node_modules/.cache/rally-mcp', `chromium-${version}`, 'chromium') };
}

/** Unpacks the bundled Chromium on first use (about 3 s); concurrent callers each write their own copy and rename it into place. */
export async function unpackChromium(bundled, onUnpack = () => {}) {
  if (existsSync(bundled.executable)) return bundled.executable;
  onUnpack(bundled.executable);
  mkdirSync(dirname(bundled.executable), { recursive: true });
  const partial = `${bundled.executable}.${process.pid}.partial`;
  try {
    await pipeline(
      createReadStream(bundled.packed),
      createBrotliDecompress(),
      createWriteStream(partial, { mode: 0o755 }),
    );
    renameSync(partial, bundled.executable);
  } finally {
    rmSync(partial, { force: true });
  }
  return bundled.executable;
}

/**
 * The browser the tests drive: CHROMIUM_PATH if set; else, on Linux x64, the
 * bundled Chromium (one version everywhere, whatever the machine has); else a
 * system Chromium or Chrome. Returns { executable, label } or { problem }.
 */
export async function findBrowser({
  root = REPO_ROOT,
  env = process.env,
  platform = process.platform,
  arch = process.arch,
  onUnpack,
} = {}) {
  if (env.CHROMIUM_PATH) {
    return isExecutableFile(env.CHROMIUM_PATH)
      ? { executable: env.CHROMIUM_PATH, label: `Chromium at ${env.CHROMIUM_PATH}` }
      : { problem: INSTALL.chromiumPath(env.CHROMIUM_PATH) };
  }
  if (platform === 'linux' && arch === 'x64') {
    const bundled = bundledChromium(root);
    if (!bundled) return { missingPackage: 'node_modules/@sparticuz/chromium' };
    try {
      return { executable: await unpackChromium(bundled, onUnpack), label: 'bundled Chromium', bundled: true };
    } catch (err) {
      return { problem: INSTALL.chromiumUnpack(err.message) };
    }
  }
  const found = SYSTEM_BROWSERS.find(isExecutableFile);
  return found ? { executable: found, label: found } : { problem: INSTALL.chromiumNone(`${platform} ${arch}`) };
}

/** The Google Cloud CLI's install root (…/bin/gcloud → …), if its layout is the usual one. */
function gcloudSdkRoot(gcloud) {
  try {
    const sdk = dirname(dirname(realpathSync(gcloud)));
    return existsSync(join(sdk, 'platform')) ? sdk : undefined;
  } catch {
    return undefined;
  }
}

/** The major version a Java install declares in its `release` file, or undefined if it has none. */
function javaMajor(java) {
  if (!java) return undefined;
  try {
    const release = readFileSync(join(dirname(dirname(realpathSync(java))), 'release'), 'utf8');
    const version = /^JAVA_VERSION="([^"]+)"/m.exec(release)?.[1];
    if (!version) return undefined;
    const [first, second] = version.split('.').map(Number);
    return { version, major: first === 1 ? second : first }; // "1.8.0_392" is Java 8
  } catch {
    return undefined;
  }
}

/** The Firestore emulator's prerequisites: gcloud with the emulator component, and Java. */
export function emulatorProblems(env = process.env, platform = process.platform) {
  const problems = [];
  const gcloud = which('gcloud', env);
  if (!gcloud) problems.push(INSTALL.gcloud);
  const sdk = gcloud && gcloudSdkRoot(gcloud);
  // An unusual layout (a snap, a wrapper script) is not judged: the emulator's start says why it fails.
  if (sdk && !existsSync(join(sdk, 'platform/cloud-firestore-emulator/cloud-firestore-emulator.jar')))
    problems.push(INSTALL.emulator(sdk));
  const java = which('java', env);
  // macOS ships /usr/bin/java as a stub that only asks for a Java install.
  const stub =
    platform === 'darwin' &&
    java === '/usr/bin/java' &&
    !env.JAVA_HOME &&
    !hasEntries('/Library/Java/JavaVirtualMachines');
  if (!java || stub) problems.push(INSTALL.java);
  const release = java && !stub ? javaMajor(java) : undefined;
  if (release && release.major < MIN_JAVA) problems.push(INSTALL.javaTooOld(release.version));
  return problems;
}

function hasEntries(dir) {
  try {
    return readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}

const NPM_FILES = {
  start: ['node_modules/.bin/node', 'node_modules/.bin/tsx'],
  test: [
    'node_modules/.bin/node',
    'node_modules/.bin/tsx',
    'node_modules/.bin/tsc',
    'node_modules/.bin/jest',
    'node_modules/playwright-core/package.json',
  ],
};

/**
 * Every missing prerequisite of `npm start` or `npm test`, one line each, and
 * what was found. Nothing here starts a process but the bundled Chromium's `--version`.
 */
export async function preflight(
  mode,
  {
    root = REPO_ROOT,
    env = process.env,
    nodeVersion = process.versions.node,
    platform = process.platform,
    arch = process.arch,
    onUnpack,
  } = {},
) {
  const missingFiles = NPM_FILES[mode].filter((f) => !existsSync(join(root, f)));
  const problems = [];
  const found = [];
  if (Number(nodeVersion.split('.')[0]) < MIN_NODE && !missingFiles.includes('node_modules/.bin/node'))
    problems.push(INSTALL.node(nodeVersion));
  else if (!missingFiles.length) found.push(`Node ${nodeVersion}`);
  // A caller's own emulator makes gcloud unnecessary for `npm start`; the tests start their own.
  if (mode === 'test' || !env.FIRESTORE_EMULATOR_HOST) {
    const emulator = emulatorProblems(env, platform);
    problems.push(...emulator);
    const javaVersion = emulator.length ? undefined : javaMajor(which('java', env));
    if (!emulator.length)
      found.push('gcloud with the Firestore emulator', javaVersion ? `Java ${javaVersion.major}` : 'Java');
  }
  if (mode === 'test') {
    const browser = await findBrowser({ root, env, platform, arch, onUnpack });
    if (browser.missingPackage) missingFiles.push(browser.missingPackage);
    else if (browser.problem) problems.push(browser.problem);
    else {
      const version = browser.bundled ? chromiumVersion(browser.executable) : { version: '' };
      if (version.error) problems.push(INSTALL.chromiumBroken(version.error));
      else found.push(`${browser.label}${version.version ? ` ${version.version}` : ''}`);
    }
    if (which('shellcheck', env)) found.push('shellcheck');
    else problems.push(INSTALL.shellcheck);
  }
  if (missingFiles.length) problems.unshift(INSTALL.npm(missingFiles));
  return { problems, found };
}

/** Runs `chromium --version`: it fails at once when a shared library is missing. */
function chromiumVersion(executable) {
  try {
    const out = execFileSync(executable, ['--version'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 10_000,
    }).toString();
    return { version: /[\d.]+/.exec(out)?.[0] ?? '' };
  } catch (err) {
    const stderr = err.stderr?.toString().trim().split('\n')[0];
    return { error: stderr || err.message.split('\n')[0] };
  }
}

async function main(mode) {
  if (mode !== 'start' && mode !== 'test') {
    process.stderr.write('usage: node scripts/preflight.mjs start|test\n');
    return 2;
  }
  const started = process.hrtime.bigint();
  const onUnpack = () => process.stdout.write('preflight: unpacking the bundled Chromium (once, a few seconds)\n');
  const { problems, found } = await preflight(mode, { onUnpack });
  const ms = Number((process.hrtime.bigint() - started) / 1_000_000n);
  for (const line of problems) process.stderr.write(`preflight: ${line}\n`);
  if (problems.length) return 1;
  process.stdout.write(`preflight: ok for npm ${mode}: ${found.join(', ')} (${ms} ms)\n`);
  return 0;
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv[2]); // exitCode, not exit(): lets stderr drain into a pipe
}
