/**
 * The real @google-cloud/secret-manager client (REST fallback) against the local stand-in.
 */
import { startSecretManagerStandin, type SecretManagerStandin } from '../../../dev/secret-manager-standin.js';
import { newSealingKeyPayload, newSigningKeyPayload } from '../../../dev/local-keys.js';
import { createSealingKeyRing, createSigningKeyRing } from '../../../shared/crypto/key-ring.js';
import { createSealer, UnsealError } from '../../../shared/crypto/sealer.js';
import { createAccessTokenSigner } from '../../../shared/crypto/access-token.js';
import { loadConfig } from '../../../shared/config/config.js';
import { systemClock } from '../../../shared/kernel/clock.js';
import {
  createCachedSecretSource,
  createSecretManagerSource,
  createSecretSourceFromConfig,
  SecretUnavailableError,
  type SecretSource,
} from '../../../shared/secrets/secret-source.js';

let standin: SecretManagerStandin;

beforeEach(async () => {
  standin = await startSecretManagerStandin();
});
afterEach(async () => {
  await standin.stop();
});

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const sourceFor = (s: SecretManagerStandin, timeoutMs = 5_000): SecretSource =>
  createCachedSecretSource(createSecretManagerSource({ projectId: s.projectId, endpoint: s.url, timeoutMs }));

async function unavailable(p: Promise<unknown>): Promise<SecretUnavailableError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SecretUnavailableError);
  return err as SecretUnavailableError;
}

describe('Secret Manager source (real client, stand-in backend)', () => {
  test('K3 access returns the pinned version, with the CRC32C checked', async () => {
    const v1 = standin.addVersion('rally-client-secret', 'first-secret');
    const v2 = standin.addVersion('rally-client-secret', 'second-secret');
    expect([v1, v2]).toEqual(['1', '2']);
    const source = createSecretManagerSource({ projectId: standin.projectId, endpoint: standin.url });
    expect(text(await source.access('rally-client-secret', '1'))).toBe('first-secret');
    expect(text(await source.access('rally-client-secret', '2'))).toBe('second-secret');
    const bytes = new Uint8Array([0, 1, 2, 253, 254, 255]);
    standin.addVersion('binary', bytes);
    expect(Array.from(await source.access('binary', '1'))).toEqual(Array.from(bytes));
  });

  test('a wrong checksum → SecretUnavailableError (integrity); a missing one is accepted', async () => {
    standin.addVersion('s', 'value');
    const source = createSecretManagerSource({ projectId: standin.projectId, endpoint: standin.url });
    standin.setChecksumMode('wrong');
    const err = await unavailable(source.access('s', '1'));
    expect(err.reason).toBe('integrity');
    expect(err.message).not.toContain('value');
    standin.setChecksumMode('omit');
    expect(text(await source.access('s', '1'))).toBe('value');
  });

  test('caching: 20 concurrent first calls → exactly one backend access per (secret, version)', async () => {
    standin.addVersion('a', 'A1');
    standin.addVersion('a', 'A2');
    standin.addVersion('b', 'B1');
    const source = sourceFor(standin);
    const results = await Promise.all([
      ...Array.from({ length: 20 }, () => source.access('a', '1')),
      ...Array.from({ length: 20 }, () => source.access('a', '2')),
      ...Array.from({ length: 20 }, () => source.access('b', '1')),
    ]);
    expect(results.map(text)).toEqual([...Array(20).fill('A1'), ...Array(20).fill('A2'), ...Array(20).fill('B1')]);
    await source.access('a', '1');
    expect(standin.accessCount('a', '1')).toBe(1);
    expect(standin.accessCount('a', '2')).toBe(1);
    expect(standin.accessCount('b', '1')).toBe(1);
    expect(standin.accessCount()).toBe(3);
  });

  test('E5 a disabled or destroyed version → SecretUnavailableError (disabled); missing → not_found', async () => {
    standin.addVersion('k', 'one');
    standin.addVersion('k', 'two');
    standin.disableVersion('k', '1');
    standin.destroyVersion('k', '2');
    const source = sourceFor(standin);
    expect((await unavailable(source.access('k', '1'))).reason).toBe('disabled');
    expect((await unavailable(source.access('k', '2'))).reason).toBe('disabled');
    expect((await unavailable(source.access('k', '3'))).reason).toBe('not_found');
    expect((await unavailable(source.access('nope', '1'))).reason).toBe('not_found');
  });

  test('a project the caller may not read → permission_denied', async () => {
    standin.addVersion('k', 'one');
    const source = createSecretManagerSource({ projectId: 'demo-other-project', endpoint: standin.url });
    expect((await unavailable(source.access('k', '1'))).reason).toBe('permission_denied');
  });

  test('E8 stand-in answering 503 → SecretUnavailableError; recovery on the same source without restart', async () => {
    standin.addVersion('k', 'value');
    const source = sourceFor(standin);
    await standin.setUnavailable(true);
    const err = await unavailable(source.access('k', '1'));
    expect(err.reason).toBe('unreachable');
    expect(err.message).not.toContain('value');
    await unavailable(source.access('k', '1')); // still down: the failure was not cached as a value either
    await standin.setUnavailable(false);
    expect(text(await source.access('k', '1'))).toBe('value');
    expect(text(await source.access('k', '1'))).toBe('value');
    expect(standin.accessCount('k', '1')).toBe(3); // two failures + one success, then cached
  });

  test('E8 connection refused → SecretUnavailableError; recovery once it listens again', async () => {
    standin.addVersion('k', 'value');
    const source = sourceFor(standin);
    await standin.setUnavailable(true, 'refuse-connections');
    expect((await unavailable(source.access('k', '1'))).reason).toBe('unreachable');
    await standin.setUnavailable(false);
    expect(text(await source.access('k', '1'))).toBe('value');
  });

  test('E8 no server at all (nothing listening) → SecretUnavailableError, not a hang or a crash', async () => {
    const port = standin.port;
    await standin.stop();
    const source = createSecretManagerSource({
      projectId: 'demo-x',
      endpoint: `http://127.0.0.1:${port}`,
      timeoutMs: 2_000,
    });
    expect((await unavailable(source.access('k', '1'))).reason).toBe('unreachable');
    standin = await startSecretManagerStandin(); // for afterEach
  });

  test('E6 sealing ring end to end: seal under v1, rotate to [2,1], re-seal, then v1 disabled', async () => {
    const name = 'rally-mcp-sealing-key';
    standin.addVersion(name, newSealingKeyPayload());
    const doc = 'rally_links/user-1';

    const before = createSealer(createSealingKeyRing(sourceFor(standin), name, ['1']));
    const v1Record = await before.seal('rally-refresh-token-xyz', doc);

    standin.addVersion(name, newSealingKeyPayload()); // v2
    const after = createSealer(createSealingKeyRing(sourceFor(standin), name, ['2', '1']));
    const opened = await after.unseal(v1Record, doc);
    expect(opened).toMatchObject({ kid: '1', needsReseal: true });
    const resealed = await after.seal(opened.plaintext, doc);
    expect(await after.unseal(resealed, doc)).toMatchObject({ kid: '2', needsReseal: false });

    standin.disableVersion(name, '1');
    const fresh = createSealer(createSealingKeyRing(sourceFor(standin), name, ['2', '1'])); // a new instance
    const err = await fresh.unseal(v1Record, doc).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsealError);
    expect((err as UnsealError).code).toBe('key_disabled');
    expect(text((await fresh.unseal(resealed, doc)).plaintext)).toBe('rally-refresh-token-xyz');
  });

  test('E8 sealing while Secret Manager is down → SecretUnavailableError, then works without a new source', async () => {
    const name = 'rally-mcp-sealing-key';
    standin.addVersion(name, newSealingKeyPayload());
    const sealer = createSealer(createSealingKeyRing(sourceFor(standin), name, ['1']));
    await standin.setUnavailable(true);
    await expect(sealer.seal('x', 'd/1')).rejects.toBeInstanceOf(SecretUnavailableError);
    await standin.setUnavailable(false);
    const jwe = await sealer.seal('x', 'd/1');
    expect(text((await sealer.unseal(jwe, 'd/1')).plaintext)).toBe('x');
    expect(standin.accessCount(name)).toBe(2);
  });

  test('createSecretSourceFromConfig: secret-manager via DANGEROUSLY_SECRET_MANAGER_ENDPOINT, cached, signing ring works', async () => {
    standin.addVersion('rally-mcp-signing-key', newSigningKeyPayload());
    const config = loadConfig({
      PUBLIC_BASE_URL: 'http://localhost:8080',
      GOOGLE_CLOUD_PROJECT: 'demo-project',
      SECRET_MANAGER_PROJECT: standin.projectId,
      RALLY_CLIENT_ID: 'client',
      NODE_ENV: 'test',
      DANGEROUSLY_SECRET_MANAGER_ENDPOINT: standin.url,
    });
    const source = createSecretSourceFromConfig(config);
    const ring = createSigningKeyRing(source, config.SIGNING_KEY_NAME, config.SIGNING_KEY_VERSIONS);
    const signer = createAccessTokenSigner(ring, { issuer: 'http://localhost:8080', clock: systemClock });
    const { token } = await signer.sign({
      sub: 's',
      aud: 'http://localhost:8080/mcp',
      client_id: 'c',
      scope: 'x',
      gid: 'g',
      ttlSeconds: 60,
    });
    await expect(signer.verify(token, { audience: 'http://localhost:8080/mcp' })).resolves.toMatchObject({ sub: 's' });
    await source.access('rally-mcp-signing-key', '1');
    expect(standin.accessCount('rally-mcp-signing-key', '1')).toBe(1);
  });
});
