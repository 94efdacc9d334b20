/**
 * The local stack, as a library: Firestore emulator + Rally sandbox (+ the
 * GitHub sandbox, when asked) + one or more server processes serving every
 * function on one origin. `npm start`, the integration tests and the
 * benchmarks all start it through here.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { startFirestoreEmulator, type FirestoreEmulator } from './firestore-emulator.js';
import { freePort, killGroup, spawnGroup, waitForHttp } from './process-utils.js';
import { ensureLocalKeys, LOCAL_GITHUB_CLIENT_SECRET_NAME } from './local-keys.js';
import { startRallySandbox } from '../rally-sandbox/index.js';
import type { RallySandbox, RallySandboxOptions } from '../rally-sandbox/types.js';
import { startGitHubSandbox, type GitHubSandboxHandle } from '../github-sandbox/index.js';
import type { GitHubSandboxOptions, GitHubTokenMode } from '../github-sandbox/types.js';
import { CLOCK_CONTROL_ENV, CLOCK_OFFSET_ENV, isClockMessage, type ClockMessage } from './clock-control.js';

const REPO_ROOT = new URL('..', import.meta.url).pathname;

export interface LocalStackOptions {
  /** Port of the first server process (default: a free port). */
  readonly port?: number;
  /** Public origin clients use (default http://127.0.0.1:<port>). */
  readonly publicBaseUrl?: string;
  /** Reuse a running emulator instead of starting one. */
  readonly firestoreHost?: string;
  /** Firestore project id (default: a fresh `demo-` id). */
  readonly projectId?: string;
  /** Point at a real Rally instead of starting the sandbox. */
  readonly rally?: { readonly baseUrl: string; readonly clientId: string };
  /** Options for the sandbox this stack starts (ignored with `rally`). */
  readonly sandboxOptions?: Partial<RallySandboxOptions>;
  /**
   * Also start the GitHub sandbox (issue 19): `true`, or options for it. Off unless asked; `npm start`
   * asks unless GITHUB_SANDBOX=false. The servers then enable GitHub as the second provider
   * (UPSTREAM_PROVIDERS=rally,github) against it; `LocalStack.github` says where it is.
   */
  readonly githubSandbox?: boolean | Partial<GitHubSandboxOptions>;
  /** Extra environment for the server processes (config overrides). */
  readonly env?: Readonly<Record<string, string>>;
  /** Directory of file-source secrets (default: a fresh temp dir). */
  readonly keysDir?: string;
  /**
   * Serve a deployable build instead of the TypeScript sources: the path of its `main`
   * (e.g. `<dir>/dist/bundle/index.js`), served by bench/servers/serve-dist.mjs.
   */
  readonly buildMain?: string;
  /** How many server processes share the emulator and sandbox (default 1). */
  readonly instances?: number;
  /**
   * Let the caller move the server processes' clock (`setClockOffset`, over an IPC channel):
   * tests decide expiry and rate-limit windows on their own time instead of sleeping.
   */
  readonly clockControl?: boolean;
  /** Every line the server processes print (stdout and stderr). */
  readonly onServerLog?: (line: string, instance: number) => void;
  readonly onEmulatorLog?: (line: string) => void;
}

export interface LocalStack {
  /** Public origin (the first instance), e.g. http://127.0.0.1:8080 */
  readonly url: string;
  /** One origin per server process; all share PUBLIC_BASE_URL = `url`. */
  readonly instanceUrls: readonly string[];
  readonly mcpUrl: string;
  readonly projectId: string;
  readonly firestoreHost: string;
  /** The sandbox, when the stack started one. */
  readonly sandbox: RallySandbox | undefined;
  /** The GitHub sandbox and what a GitHub configuration needs, when the stack started one. */
  readonly github: LocalGitHub | undefined;
  /** The environment given to the server processes (no secret values in it). */
  readonly serverEnv: Readonly<Record<string, string>>;
  /**
   * With `clockControl`: every instance's clock becomes the wall clock + `offsetMs` (also after a
   * restart); resolves once each instance has it.
   */
  setClockOffset(offsetMs: number): Promise<void>;
  stopEmulator(): Promise<void>;
  restartInstance(index: number): Promise<void>;
  stop(): Promise<void>;
}

/** Where the local GitHub is and how our server is registered with it. */
export interface LocalGitHub {
  readonly sandbox: GitHubSandboxHandle;
  readonly tokenMode: GitHubTokenMode;
  /** The browser's GitHub (github.com): authorize and token endpoints. */
  readonly authorizeBaseUrl: string;
  /** The REST API (api.github.com). */
  readonly apiBaseUrl: string;
  readonly clientId: string;
  /** The file secret in `keysDir` holding the client secret (read it like the Rally one). */
  readonly clientSecretName: string;
  /** Our callback as registered with the sandbox: the same one function as Rally's. */
  readonly callbackUrl: string;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const cleanups: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };
  try {
    let emulator: FirestoreEmulator | undefined;
    const firestoreHost =
      options.firestoreHost ??
      (emulator = await startFirestoreEmulator(options.onEmulatorLog ? { onLog: options.onEmulatorLog } : {})).host;
    if (emulator) cleanups.push(() => emulator.stop());
    const projectId = options.projectId ?? `demo-rmcp-${randomBytes(4).toString('hex')}`;
    const instances = options.instances ?? 1;
    const ports = [options.port ?? (await freePort())];
    while (ports.length < instances) ports.push(await freePort());
    const url = options.publicBaseUrl ?? `http://127.0.0.1:${ports[0]}`;

    const keysDir = options.keysDir ?? mkdtempSync(join(tmpdir(), 'rally-mcp-keys-'));
    await ensureLocalKeys(keysDir, {
      rallyClientSecret: randomBytes(21).toString('hex'),
      ...(options.githubSandbox ? { githubClientSecret: randomBytes(20).toString('hex') } : {}),
    });
    const rallyClientSecret = (await readFile(join(keysDir, 'rally-client-secret', '1'), 'utf8')).trim();

    let sandbox: RallySandbox | undefined;
    let rallyBaseUrl: string;
    let rallyClientId: string;
    if (options.rally) {
      rallyBaseUrl = options.rally.baseUrl;
      rallyClientId = options.rally.clientId;
    } else {
      rallyClientId = randomBytes(16).toString('hex');
      const started = await startRallySandbox({
        clientId: rallyClientId,
        clientSecret: rallyClientSecret,
        redirectUris: [`${url}/oauth/callback`],
        ...options.sandboxOptions,
      });
      sandbox = started;
      cleanups.push(() => started.stop());
      rallyBaseUrl = started.url;
    }

    let github: LocalGitHub | undefined;
    if (options.githubSandbox) {
      const extra = options.githubSandbox === true ? {} : options.githubSandbox;
      const tokenMode = extra.tokenMode ?? 'oauth-app';
      const clientSecret = (await readFile(join(keysDir, LOCAL_GITHUB_CLIENT_SECRET_NAME, '1'), 'utf8')).trim();
      const callbackUrl = `${url}/oauth/callback`;
      const started = await startGitHubSandbox({
        clientId: `${tokenMode === 'github-app' ? 'Iv1.' : 'Ov23li'}${randomBytes(8).toString('hex')}`,
        clientSecret,
        callbackUrls: [callbackUrl],
        ...extra,
        tokenMode,
      });
      cleanups.push(() => started.stop());
      github = {
        sandbox: started,
        tokenMode,
        authorizeBaseUrl: started.webUrl,
        apiBaseUrl: started.apiUrl,
        clientId: started.clientId,
        clientSecretName: LOCAL_GITHUB_CLIENT_SECRET_NAME,
        callbackUrl: extra.callbackUrls?.[0] ?? callbackUrl,
      };
    }

    const serverEnv: Record<string, string> = {
      NODE_ENV: 'development',
      PUBLIC_BASE_URL: url,
      GOOGLE_CLOUD_PROJECT: projectId,
      FIRESTORE_EMULATOR_HOST: firestoreHost,
      RALLY_BASE_URL: rallyBaseUrl,
      RALLY_CLIENT_ID: rallyClientId,
      SECRET_SOURCE: 'file',
      SECRETS_DIR: keysDir,
      SESSION_LINK_MODE: 'true',
      DANGEROUSLY_ALLOW_LOOPBACK_CIMD: 'true',
      // Every local user, test and benchmark client connects from one loopback address: the
      // per-address limits (L20) would refuse them. A test that checks the limits sets its own.
      ADDRESS_LIMIT_AUTHORIZE_PER_MINUTE: '0',
      ADDRESS_LIMIT_REGISTER_PER_MINUTE: '0',
      ADDRESS_LIMIT_SESSION_INITIALIZE_PER_MINUTE: '0',
      ADDRESS_LIMIT_CONNECT_LINK_PER_MINUTE: '0',
      // With the GitHub sandbox, the servers connect to it as the second provider (issue 19).
      ...(github
        ? {
            UPSTREAM_PROVIDERS: 'rally,github',
            GITHUB_CLIENT_ID: github.clientId,
            GITHUB_CLIENT_SECRET_NAME: github.clientSecretName,
            GITHUB_AUTHORIZE_BASE_URL: github.authorizeBaseUrl,
            GITHUB_API_BASE_URL: github.apiBaseUrl,
          }
        : {}),
      ...options.env,
    };

    const children: ChildProcess[] = [];
    let clockOffsetMs = 0;
    let clockSeq = 0;
    const startInstance = async (i: number) => {
      const args = options.buildMain
        ? [join(REPO_ROOT, 'bench/servers/serve-dist.mjs')]
        : ['--import', 'tsx', join(REPO_ROOT, 'dev/serve.ts')];
      const child = spawnGroup(process.execPath, args, {
        cwd: REPO_ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          ...serverEnv,
          PORT: String(ports[i]),
          ...(options.buildMain ? { OURS_MAIN: options.buildMain } : {}),
          ...(options.clockControl ? { [CLOCK_CONTROL_ENV]: 'ipc', [CLOCK_OFFSET_ENV]: String(clockOffsetMs) } : {}),
        },
        stdio: options.clockControl ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
      });
      child.channel?.unref(); // the channel alone must not keep the caller alive
      const forward = (buf: Buffer) => {
        for (const line of buf.toString().split('\n')) if (line.trim()) options.onServerLog?.(line, i);
      };
      child.stdout?.on('data', forward);
      child.stderr?.on('data', forward);
      children[i] = child;
      await waitForHttp(`http://127.0.0.1:${ports[i]}/.well-known/oauth-protected-resource`, {
        child,
        timeoutMs: 60_000,
      });
    };
    cleanups.push(async () => {
      await Promise.all(children.map((c) => killGroup(c)));
    });
    await Promise.all(ports.map((_, i) => startInstance(i)));

    return {
      url,
      instanceUrls: ports.map((p) => `http://127.0.0.1:${p}`),
      mcpUrl: `${url}/mcp`,
      projectId,
      firestoreHost,
      sandbox,
      github,
      serverEnv,
      setClockOffset: async (offsetMs: number) => {
        if (!options.clockControl) throw new Error('setClockOffset: this stack was started without clockControl');
        clockOffsetMs = offsetMs;
        const message: ClockMessage = { type: 'rally-mcp:clock', seq: ++clockSeq, offsetMs };
        await Promise.all(children.map((c) => sendClock(c, message)));
      },
      stopEmulator: async () => {
        await emulator?.stop();
      },
      restartInstance: async (i: number) => {
        const c = children[i];
        if (c) await killGroup(c);
        await startInstance(i);
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Sends the clock to one instance and waits for its acknowledgement. */
function sendClock(child: ChildProcess, message: ClockMessage): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    };
    const onMessage = (m: unknown) => {
      if (isClockMessage(m) && m.seq === message.seq) done();
    };
    const onExit = () => done(new Error('a server instance exited before it took the clock'));
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send(message, (err) => {
      if (err) done(err);
    });
  });
}
