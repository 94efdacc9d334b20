import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigSchema } from '../../../shared/config/config.js';
import { crc32c } from '../../../shared/secrets/crc32c.js';
import {
  createCachedSecretSource,
  createFileSecretSource,
  SecretUnavailableError,
  type SecretSource,
} from '../../../shared/secrets/secret-source.js';
import { createSealer } from '../../../shared/crypto/sealer.js';
import { createSealingKeyRing, createSigningKeyRing } from '../../../shared/crypto/key-ring.js';
import { ensureLocalKeys, LOCAL_SECRET_NAMES } from '../../../dev/local-keys.js';

describe('crc32c', () => {
  test('matches the Castagnoli check value', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });
});

describe('createCachedSecretSource', () => {
  function countingSource() {
    let calls = 0;
    let fail = false;
    let release: (() => void) | undefined;
    const gate = { hold: false };
    const src: SecretSource & {
      calls: () => number;
      setFail: (f: boolean) => void;
      gate: typeof gate;
      release: () => void;
    } = {
      async access(name, version) {
        calls++;
        if (gate.hold) await new Promise<void>((r) => (release = r));
        if (fail) throw new SecretUnavailableError(name, version, 'unreachable');
        return new TextEncoder().encode(`${name}@${version}`);
      },
      calls: () => calls,
      setFail: (f) => (fail = f),
      gate,
      release: () => release?.(),
    };
    return src;
  }

  test('concurrent first calls coalesce into one backend access per (name, version)', async () => {
    const inner = countingSource();
    inner.gate.hold = true;
    const cached = createCachedSecretSource(inner);
    const all = Promise.all(Array.from({ length: 20 }, () => cached.access('k', '1')));
    await new Promise((r) => setImmediate(r));
    inner.gate.hold = false;
    inner.release();
    const results = await all;
    expect(inner.calls()).toBe(1);
    expect(new Set(results.map((r) => new TextDecoder().decode(r)))).toEqual(new Set(['k@1']));
    await cached.access('k', '2');
    await cached.access('k', '1');
    expect(inner.calls()).toBe(2);
  });

  test('a failure is not cached: the next call retries and recovers', async () => {
    const inner = countingSource();
    const cached = createCachedSecretSource(inner);
    inner.setFail(true);
    await expect(cached.access('k', '1')).rejects.toBeInstanceOf(SecretUnavailableError);
    await expect(cached.access('k', '1')).rejects.toBeInstanceOf(SecretUnavailableError);
    inner.setFail(false);
    expect(new TextDecoder().decode(await cached.access('k', '1'))).toBe('k@1');
    await cached.access('k', '1');
    expect(inner.calls()).toBe(3);
  });

  test('callers get copies: mutating a result does not corrupt the cache', async () => {
    const cached = createCachedSecretSource(countingSource());
    (await cached.access('k', '1')).fill(0);
    expect(new TextDecoder().decode(await cached.access('k', '1'))).toBe('k@1');
  });
});

describe('createFileSecretSource', () => {
  test('reads <dir>/<name>/<version>; missing → not_found; traversal refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'secrets-'));
    await mkdir(join(dir, 'a'));
    await writeFile(join(dir, 'a', '1'), 'hello');
    await writeFile(join(dir, 'outside'), 'nope');
    const src = createFileSecretSource(dir);
    expect(new TextDecoder().decode(await src.access('a', '1'))).toBe('hello');
    const missing = await src.access('a', '2').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(SecretUnavailableError);
    expect((missing as SecretUnavailableError).reason).toBe('not_found');
    for (const [n, v] of [
      ['..', 'outside'],
      ['a/..', '1'],
      ['a', 'latest'],
      ['a', '../1'],
      ['a', '0'],
    ] as const) {
      const err = await src.access(n, v).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SecretUnavailableError);
      expect((err as SecretUnavailableError).reason).toBe('invalid_request');
    }
  });

  test('a stalled read fails unreachable at the deadline, is never doubled, and the file is read afresh once it returns', async () => {
    const reads: Array<(bytes: Uint8Array) => void> = [];
    const src = createFileSecretSource('/mnt', {
      timeoutMs: 50,
      read: () => new Promise<Uint8Array>((resolve) => reads.push(resolve)),
    });
    const first = await src.access('a', '1').catch((e: unknown) => e);
    expect(first).toBeInstanceOf(SecretUnavailableError);
    expect((first as SecretUnavailableError).reason).toBe('unreachable');
    // The first read is still stuck: a second caller waits on it instead of starting another.
    const second = src.access('a', '1');
    expect(reads).toHaveLength(1);
    reads[0]!(new TextEncoder().encode('late'));
    const got = await second;
    expect(new TextDecoder().decode(got)).toBe('late');
    got.fill(0); // a caller zeroing its copy corrupts nothing
    const third = src.access('a', '1');
    expect(reads).toHaveLength(2);
    reads[1]!(new TextEncoder().encode('again'));
    expect(new TextDecoder().decode(await third)).toBe('again');
  });

  test('a real blocking read (a FIFO with no writer) times out instead of hanging the caller', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'secrets-fifo-'));
    await mkdir(join(dir, 'k'));
    const fifo = join(dir, 'k', '1');
    execFileSync('mkfifo', [fifo]);
    const src = createFileSecretSource(dir, { timeoutMs: 200 });
    const t0 = performance.now();
    const err = await src.access('k', '1').catch((e: unknown) => e);
    expect((err as SecretUnavailableError).reason).toBe('unreachable');
    expect(performance.now() - t0).toBeLessThan(5_000); // bounded, not hung (the deadline is 200 ms)
    // The open() is still blocked in the thread pool; a writer releases it and a waiting caller gets the bytes.
    const waiting = src.access('k', '1');
    await writeFile(fifo, 'from-the-volume');
    expect(new TextDecoder().decode(await waiting)).toBe('from-the-volume');
  });
});

describe('ensureLocalKeys', () => {
  test('names match the config defaults', () => {
    const defaults = ConfigSchema.parse({
      PUBLIC_BASE_URL: 'http://localhost:8080',
      GOOGLE_CLOUD_PROJECT: 'demo-project',
      RALLY_CLIENT_ID: 'x',
      NODE_ENV: 'development',
    });
    expect(LOCAL_SECRET_NAMES).toEqual({
      sealingKey: defaults.SEALING_KEY_NAME,
      signingKey: defaults.SIGNING_KEY_NAME,
      rallyClientSecret: defaults.RALLY_CLIENT_SECRET_NAME,
    });
  });

  test('creates 0600 files in 0700 dirs once, never overwrites, and the keys load', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'local-keys-')), 'keys');
    await ensureLocalKeys(dir, { rallyClientSecret: 'client-secret-1' });
    expect(((await stat(dir)).mode & 0o777).toString(8)).toBe('700');
    for (const name of Object.values(LOCAL_SECRET_NAMES)) {
      expect(await readdir(join(dir, name))).toEqual(['1']);
      expect(((await stat(join(dir, name))).mode & 0o777).toString(8)).toBe('700');
      expect(((await stat(join(dir, name, '1'))).mode & 0o777).toString(8)).toBe('600');
    }
    const before = await readFile(join(dir, LOCAL_SECRET_NAMES.sealingKey, '1'), 'utf8');
    await chmod(dir, 0o755);
    await ensureLocalKeys(dir, { rallyClientSecret: 'client-secret-2' });
    expect(await readFile(join(dir, LOCAL_SECRET_NAMES.sealingKey, '1'), 'utf8')).toBe(before);
    expect(await readFile(join(dir, LOCAL_SECRET_NAMES.rallyClientSecret, '1'), 'utf8')).toBe('client-secret-1');
    expect(((await stat(dir)).mode & 0o777).toString(8)).toBe('700');

    const src = createCachedSecretSource(createFileSecretSource(dir));
    const sealer = createSealer(createSealingKeyRing(src, LOCAL_SECRET_NAMES.sealingKey, ['1']));
    const jwe = await sealer.seal('x', 'doc/1');
    expect(new TextDecoder().decode((await sealer.unseal(jwe, 'doc/1')).plaintext)).toBe('x');
    await expect(createSigningKeyRing(src, LOCAL_SECRET_NAMES.signingKey, ['1']).current()).resolves.toHaveProperty(
      'privateKey',
    );
  });
});
