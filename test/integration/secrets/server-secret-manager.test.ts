/**
 * The running server with its keys in (a stand-in for) Secret Manager, read
 * through the real @google-cloud/secret-manager client: K3, E8 and the
 * "≤ 1 access per secret per instance" rule, end to end over HTTP.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSecretManagerStandin, type SecretManagerStandin } from '../../../dev/secret-manager-standin.js';
import { ensureLocalKeys, LOCAL_SECRET_NAMES } from '../../../dev/local-keys.js';
import { startTestStack, type TestStack } from '../../helpers/stack.js';
import { mcpCall, signIn, toolCallBody } from '../../helpers/oauth-flow.js';

describe('server keys from Secret Manager', () => {
  let standin: SecretManagerStandin;
  let stack: TestStack;
  const payloads: string[] = [];

  beforeAll(async () => {
    const keysDir = mkdtempSync(join(tmpdir(), 'rally-mcp-sm-'));
    await ensureLocalKeys(keysDir, { rallyClientSecret: 'sm-client-secret-0123456789abcdef' });
    standin = await startSecretManagerStandin();
    for (const name of Object.values(LOCAL_SECRET_NAMES)) {
      const payload = readFileSync(join(keysDir, name, '1'), 'utf8');
      payloads.push(payload.trim());
      expect(standin.addVersion(name, payload)).toBe('1');
    }
    stack = await startTestStack({
      keysDir, // the sandbox learns the Rally client secret from here; the server reads it from Secret Manager
      env: {
        SECRET_SOURCE: 'secret-manager',
        DANGEROUSLY_SECRET_MANAGER_ENDPOINT: standin.url,
        SECRET_MANAGER_PROJECT: standin.projectId,
        SECRETS_DIR: '/nonexistent',
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await standin?.stop();
  });

  it('K3: keys and the Rally client secret are read from Secret Manager at pinned versions, once per instance, and never exposed', async () => {
    const s = await signIn(stack.url, 'alice');
    const bodies: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}, i + 2), {
        authorization: `Bearer ${s.accessToken}`,
      });
      expect(res.json.result.isError).toBeFalsy();
      bodies.push(JSON.stringify(res.json));
    }
    for (const name of Object.values(LOCAL_SECRET_NAMES)) {
      expect({ name, accesses: standin.accessCount(name, '1') }).toEqual({ name, accesses: 1 });
    }
    const env = JSON.stringify(stack.serverEnv);
    for (const secret of payloads) {
      expect(env).not.toContain(secret);
      for (const body of bodies) expect(body).not.toContain(secret);
      for (const line of stack.logs) expect(line).not.toContain(secret);
    }
  });

  it('a cold MCP instance fetches the signing and sealing keys together: one Secret Manager round trip before the first tool call, not two in a row', async () => {
    const s = await signIn(stack.url, 'alice');
    await stack.restartInstance(0); // cold: no key loaded
    const latencyMs = 400;
    standin.setLatency(latencyMs);
    const since = performance.now();
    try {
      const res = await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), {
        authorization: `Bearer ${s.accessToken}`,
      });
      expect(JSON.stringify(res.json.result.structuredContent)).toContain('alice@example.com');
    } finally {
      standin.setLatency(0);
    }
    const fetched = standin.accessLog().filter((a) => a.at >= since);
    const at = (name: string) => fetched.find((a) => a.name === name)?.at ?? NaN;
    expect(fetched.map((a) => a.name).sort()).toEqual(
      [LOCAL_SECRET_NAMES.sealingKey, LOCAL_SECRET_NAMES.signingKey].sort(),
    );
    // One after the other, the second request would arrive only after the first answer (≥ latencyMs later).
    expect(Math.abs(at(LOCAL_SECRET_NAMES.sealingKey) - at(LOCAL_SECRET_NAMES.signingKey))).toBeLessThan(latencyMs / 2);
  });

  it('E8: Secret Manager unreachable at cold start → 503 with a request id and no fallback key; recovery without a restart', async () => {
    await standin.setUnavailable(true, 'refuse-connections');
    await stack.restartInstance(0); // a cold instance: nothing cached
    const meta = await fetch(`${stack.url}/.well-known/oauth-protected-resource/mcp`);
    expect(meta.status).toBe(200); // metadata needs no key
    const token = await fetch(`${stack.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=refresh_token&refresh_token=x&client_id=y',
    });
    expect(token.status).toBe(401); // an unknown client is refused without needing any key
    expect(((await token.json()) as { error: string }).error).toBe('invalid_client');
    const call = await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), {
      authorization: 'Bearer eyJhbGciOiJFZERTQSIsImtpZCI6IjEifQ.eyJzdWIiOiJ4In0.c2ln',
    });
    expect(call.status).toBe(503);
    expect(call.headers.get('retry-after')).toBe('5');
    expect(call.json.error.message).toMatch(/temporarily unavailable.*Request ID [0-9a-f-]{36}/);
    for (const secret of payloads) expect(JSON.stringify(call.json)).not.toContain(secret);

    await standin.setUnavailable(false);
    const s = await signIn(stack.url, 'bob');
    const ok = await mcpCall(stack.mcpUrl, toolCallBody('get_rally_user', {}), {
      authorization: `Bearer ${s.accessToken}`,
    });
    expect(JSON.stringify(ok.json.result.structuredContent)).toContain('bob@example.com');
  });
});
