/**
 * `npm start` as a newcomer meets it: one clear line and a non-zero exit for
 * a missing prerequisite, a bad config value or a busy port; and a real start
 * (its own emulator) that answers `initialize` and leaves nothing behind on Ctrl-C.
 */
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { freePort } from '../../../dev/process-utils.js';
import { until } from '../../helpers/poll.js';

const ROOT = new URL('../../..', import.meta.url).pathname;
const STACK = join(ROOT, 'dev/stack.ts');

function run(env: Record<string, string | undefined>, untilLine?: RegExp) {
  const child = spawn(process.execPath, ['--import', 'tsx', STACK], {
    cwd: ROOT,
    env: env as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = untilLine
    ? new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not ready in 60 s:\n${stdout}\n${stderr}`)), 60_000);
        child.stdout.on('data', () => {
          if (untilLine.test(stdout)) {
            clearTimeout(timer);
            resolve();
          }
        });
        void exited.then(() => reject(new Error(`exited early:\n${stdout}\n${stderr}`)));
      })
    : undefined;
  return { child, exited, ready, out: () => stdout, err: () => stderr };
}

const baseEnv = () => ({ PATH: process.env.PATH, HOME: process.env.HOME, FIRESTORE_EMULATOR_HOST: undefined });

describe('npm start', () => {
  it('a missing gcloud → one clear line naming what to install, exit 1', async () => {
    const p = run({ ...baseEnv(), PATH: dirname(process.execPath), PORT: String(await freePort()) });
    expect(await p.exited).toBe(1);
    const lines = p.err().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^rally-mcp: gcloud not found: install the Google Cloud CLI/);
  });

  it('a bad config value → one line naming the variable, exit 1', async () => {
    const p = run({
      ...baseEnv(),
      PORT: String(await freePort()),
      SESSION_LINK_MODE: 'maybe',
      RALLY_TIMEOUT_MS: 'soon',
    });
    expect(await p.exited).toBe(1);
    const lines = p.err().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^rally-mcp: Invalid configuration: /);
    expect(lines[0]).toContain('SESSION_LINK_MODE');
    expect(lines[0]).toContain('RALLY_TIMEOUT_MS');
    expect(lines[0]).not.toContain('soon'); // values are never echoed
  });

  it('a port already in use → one line, exit 1', async () => {
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    try {
      const p = run({ ...baseEnv(), PORT: String(port) });
      expect(await p.exited).toBe(1);
      expect(p.err().trim()).toBe(
        `rally-mcp: port ${port} is already in use; stop whatever uses it or run with PORT=<free port> npm start`,
      );
    } finally {
      blocker.close();
    }
  });

  it('starts its own emulator, answers initialize on the printed URL, and Ctrl-C leaves no process behind', async () => {
    const port = await freePort();
    const p = run({ ...baseEnv(), PORT: String(port) }, /rally-mcp ready: MCP URL/);
    await p.ready;
    expect(p.out()).toContain(`rally-mcp ready: MCP URL http://localhost:${port}/mcp`);
    expect(p.out()).toContain('"type": "http"');
    const res = await fetch(`http://localhost:${port}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'curl', version: '1' } },
      }),
    });
    expect(await res.text()).toContain('"serverInfo":{"name":"rally-mcp"');
    const emulatorPort = /Firestore emulator 127\.0\.0\.1:(\d+)/.exec(p.out())![1]!;
    process.kill(p.child.pid!, 'SIGINT');
    expect(await p.exited).toBe(0);
    // Nothing it started is still running: no emulator on that port, no server on ours, no child in its group.
    const leftovers = () =>
      execFileSync('ps', ['-eo', 'pid,pgid,args'])
        .toString()
        .split('\n')
        .filter((l) => l.includes(`--port=${emulatorPort}`) || l.includes(`host-port=127.0.0.1:${emulatorPort}`));
    await until(() => leftovers().length === 0, 'the emulator to leave the process table', 5000, 100).catch(() => {});
    expect(leftovers()).toEqual([]);
    await expect(fetch(`http://127.0.0.1:${port}/mcp`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${emulatorPort}/`)).rejects.toThrow();
  });
});
