/**
 * The running server with SECRET_SOURCE=mounted, deploy.sh's default: the
 * Secret Manager versions Cloud Run mounts as files at
 * `<SECRETS_DIR>/<name>/<version>`. A directory stands in for the volume; a
 * version that cannot be read stands in for Secret Manager failing behind it.
 */
import { cpSync, mkdtempSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLocalKeys, LOCAL_SECRET_NAMES } from '../../../dev/local-keys.js';
import { startSecretVolumeStandin, type SecretVolumeStandin } from '../../../dev/secret-volume-standin.js';
import { startTestStack, type TestStack } from '../../helpers/stack.js';
import { mcpCall, signIn, toolCallBody } from '../../helpers/oauth-flow.js';

describe('server keys from mounted Secret Manager volumes', () => {
  let stack: TestStack;
  let mount: string;
  const payloads: string[] = [];

  beforeAll(async () => {
    const keysDir = mkdtempSync(join(tmpdir(), 'rally-mcp-keys-'));
    await ensureLocalKeys(keysDir, { rallyClientSecret: 'mounted-client-secret-0123456789abcdef' });
    mount = mkdtempSync(join(tmpdir(), 'rally-mcp-mount-'));
    for (const name of Object.values(LOCAL_SECRET_NAMES)) {
      cpSync(join(keysDir, name, '1'), join(mount, name, '1'));
      payloads.push(readFileSync(join(mount, name, '1'), 'utf8').trim());
    }
    stack = await startTestStack({ keysDir, env: { SECRET_SOURCE: 'mounted', SECRETS_DIR: mount } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('K3: sign-in and tool calls work with keys read from the mount, and no key appears in env, answers or logs', async () => {
    const s = await signIn(stack.url, 'alice');
    const res = await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), {
      authorization: `Bearer ${s.accessToken}`,
    });
    expect(JSON.stringify(res.json.result.structuredContent)).toContain('alice@example.com');
    const seen = [JSON.stringify(stack.serverEnv), JSON.stringify(res.json), ...stack.logs];
    for (const secret of payloads) for (const text of seen) expect(text).not.toContain(secret);
  });

  it('E8: a version the volume cannot serve at cold start → 503 with a request id, no fallback; recovery without a restart', async () => {
    const s = await signIn(stack.url, 'bob');
    const sealing = join(mount, LOCAL_SECRET_NAMES.sealingKey);
    renameSync(sealing, `${sealing}.away`);
    try {
      await stack.restartInstance(0); // a cold instance: nothing cached
      const call = await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), {
        authorization: `Bearer ${s.accessToken}`,
      });
      expect(call.status).toBe(503);
      expect(call.headers.get('retry-after')).toBe('5');
      expect(call.json.error.message).toMatch(/temporarily unavailable.*Request ID [0-9a-f-]{36}/);
      for (const secret of payloads) expect(JSON.stringify(call.json)).not.toContain(secret);
    } finally {
      renameSync(`${sealing}.away`, sealing);
    }
    const ok = await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), {
      authorization: `Bearer ${s.accessToken}`,
    });
    expect(JSON.stringify(ok.json.result.structuredContent)).toContain('bob@example.com');
  });
});

describe('server keys from a mounted volume that counts reads', () => {
  let stack: TestStack;
  let volume: SecretVolumeStandin;

  beforeAll(async () => {
    const keysDir = mkdtempSync(join(tmpdir(), 'rally-mcp-keys-'));
    await ensureLocalKeys(keysDir, { rallyClientSecret: 'counted-client-secret-0123456789abcdef' });
    volume = startSecretVolumeStandin(
      keysDir,
      Object.values(LOCAL_SECRET_NAMES).map((n) => [n, '1'] as const),
    );
    stack = await startTestStack({ keysDir, env: { SECRET_SOURCE: 'mounted', SECRETS_DIR: volume.dir } });
  });
  afterAll(async () => {
    await stack?.stop();
    await volume?.stop();
  });

  it('each mounted version is read once per instance (each read is one Secret Manager access on Cloud Run)', async () => {
    const s = await signIn(stack.url, 'alice');
    for (let i = 0; i < 5; i++) {
      const res = await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}, i + 2), {
        authorization: `Bearer ${s.accessToken}`,
      });
      expect(JSON.stringify(res.json.result.structuredContent)).toContain('alice@example.com');
    }
    for (const name of Object.values(LOCAL_SECRET_NAMES))
      expect({ name, reads: volume.reads(name, '1') }).toEqual({ name, reads: 1 });
    // A new instance reads its keys afresh: the count is per instance, and the counter counts.
    await stack.restartInstance(0);
    const res = await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), {
      authorization: `Bearer ${s.accessToken}`,
    });
    expect(JSON.stringify(res.json.result.structuredContent)).toContain('alice@example.com');
    expect(volume.reads(LOCAL_SECRET_NAMES.sealingKey, '1')).toBe(2);
    expect(volume.reads(LOCAL_SECRET_NAMES.signingKey, '1')).toBe(2);
  });
});
