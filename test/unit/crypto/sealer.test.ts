import { CompactEncrypt } from 'jose';
import { randomBytes } from 'node:crypto';
import { createSealer, UnsealError } from '../../../shared/crypto/sealer.js';
import { createSealingKeyRing, KeyRingError } from '../../../shared/crypto/key-ring.js';
import { sha256Id } from '../../../shared/kernel/hash.js';
import { SecretUnavailableError } from '../../../shared/secrets/secret-source.js';
import { memorySource, SEALING, sourceWithKeys } from './fixtures.js';

const DOC = 'rally_links/abc123';
const SECRET = 'rally-access-token-VALUE-1234567890';

function setup(versions = ['1']) {
  const source = sourceWithKeys();
  const ring = createSealingKeyRing(source, SEALING, versions);
  return { source, ring, sealer: createSealer(ring) };
}

const decodeHeader = (jwe: string) =>
  JSON.parse(Buffer.from(jwe.split('.')[0] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;

async function expectUnseal(p: Promise<unknown>, code: UnsealError['code']): Promise<UnsealError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UnsealError);
  expect((err as UnsealError).code).toBe(code);
  return err as UnsealError;
}

describe('sealer', () => {
  test('E1 round trip: the JWE does not contain the plaintext, and opens to it', async () => {
    const { sealer } = setup();
    const jwe = await sealer.seal(SECRET, DOC);
    expect(jwe).not.toContain(SECRET);
    expect(jwe.split('.')).toHaveLength(5);
    const header = decodeHeader(jwe);
    expect(header).toEqual({ alg: 'A256KW', enc: 'A256GCM', kid: '1', bnd: sha256Id(DOC) });
    const out = await sealer.unseal(jwe, DOC);
    expect(new TextDecoder().decode(out.plaintext)).toBe(SECRET);
    expect(out.kid).toBe('1');
    expect(out.needsReseal).toBe(false);
  });

  test('round trip of binary plaintext', async () => {
    const { sealer } = setup();
    const bytes = new Uint8Array(randomBytes(300));
    const out = await sealer.unseal(await sealer.seal(bytes, DOC), DOC);
    expect(Buffer.from(out.plaintext).equals(Buffer.from(bytes))).toBe(true);
  });

  test('E7 the same plaintext sealed twice gives different CEK, IV and ciphertext', async () => {
    const { sealer } = setup();
    const a = (await sealer.seal(SECRET, DOC)).split('.');
    const b = (await sealer.seal(SECRET, DOC)).split('.');
    expect(a[0]).toBe(b[0]); // same header
    for (const i of [1, 2, 3, 4]) expect(a[i]).not.toBe(b[i]);
  });

  test.each([
    [0, 'protected header'],
    [1, 'encrypted key'],
    [2, 'IV'],
    [3, 'ciphertext'],
    [4, 'tag'],
  ])('E3 one byte flipped in part %i (%s) → UnsealError, message without content', async (part) => {
    const { sealer } = setup();
    const jwe = await sealer.seal(SECRET, DOC);
    const parts = jwe.split('.');
    const raw = Buffer.from(parts[part] ?? '', 'base64url');
    // header: flip a byte inside the JSON value of "bnd" so it stays parseable JSON; others: the middle byte
    const idx = part === 0 ? raw.indexOf(sha256Id(DOC)) + 5 : Math.floor(raw.length / 2);
    raw[idx] = (raw[idx] ?? 0) ^ 0x01;
    parts[part] = raw.toString('base64url');
    const tampered = parts.join('.');
    expect(tampered).not.toBe(jwe);
    const err = await expectUnseal(sealer.unseal(tampered, DOC), 'unseal_failed');
    expect(err.message).not.toContain(parts[3] ?? 'x');
    expect(err.message).not.toContain(SECRET);
    expect(String(err.stack)).not.toContain(SECRET);
  });

  test('E3 a flip that breaks the header JSON → UnsealError', async () => {
    const { sealer } = setup();
    const parts = (await sealer.seal(SECRET, DOC)).split('.');
    const raw = Buffer.from(parts[0] ?? '', 'base64url');
    raw[0] = (raw[0] ?? 0) ^ 0x01; // '{' → 'z'
    parts[0] = raw.toString('base64url');
    await expectUnseal(sealer.unseal(parts.join('.'), DOC), 'unseal_failed');
  });

  test('E3 truncated, empty and non-JWE inputs → UnsealError', async () => {
    const { sealer } = setup();
    const jwe = await sealer.seal(SECRET, DOC);
    for (const bad of ['', 'abc', jwe.split('.').slice(0, 4).join('.'), `${jwe}.x`, 'x'.repeat(70_000)]) {
      await expectUnseal(sealer.unseal(bad, DOC), 'unseal_failed');
    }
  });

  describe('E4 algorithm allowlists', () => {
    const ringKeyBytes = async (source: ReturnType<typeof sourceWithKeys>) =>
      new Uint8Array(Buffer.from(new TextDecoder().decode(await source.access(SEALING, '1')), 'base64url'));

    test('E4 alg "dir" is rejected', async () => {
      const { sealer, source } = setup();
      const key = await ringKeyBytes(source); // even with the real key bytes as the CEK
      const jwe = await new CompactEncrypt(new TextEncoder().encode(SECRET))
        .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: '1', bnd: sha256Id(DOC) })
        .encrypt(key);
      await expectUnseal(sealer.unseal(jwe, DOC), 'unseal_failed');
    });

    test('E4 enc "A128CBC-HS256" is rejected', async () => {
      const { sealer, source } = setup();
      const key = await ringKeyBytes(source);
      const jwe = await new CompactEncrypt(new TextEncoder().encode(SECRET))
        .setProtectedHeader({ alg: 'A256KW', enc: 'A128CBC-HS256', kid: '1', bnd: sha256Id(DOC) })
        .encrypt(key);
      await expectUnseal(sealer.unseal(jwe, DOC), 'unseal_failed');
    });

    test('E4 alg "PBES2-HS256+A128KW" is rejected', async () => {
      const { sealer, source } = setup();
      const password = await source.access(SEALING, '1');
      const jwe = await new CompactEncrypt(new TextEncoder().encode(SECRET))
        .setProtectedHeader({ alg: 'PBES2-HS256+A128KW', enc: 'A256GCM', kid: '1', bnd: sha256Id(DOC) })
        .setKeyManagementParameters({ p2c: 1000, p2s: new Uint8Array(randomBytes(16)) })
        .encrypt(password);
      await expectUnseal(sealer.unseal(jwe, DOC), 'unseal_failed');
    });

    test('E4 a "zip": "DEF" header is rejected even with the right key and algorithms', async () => {
      const { sealer, source } = setup();
      const key = await ringKeyBytes(source);
      const jwe = await new CompactEncrypt(new TextEncoder().encode(SECRET))
        .setProtectedHeader({ alg: 'A256KW', enc: 'A256GCM', kid: '1', bnd: sha256Id(DOC), zip: 'DEF' })
        .encrypt(key);
      const err = await expectUnseal(sealer.unseal(jwe, DOC), 'unseal_failed');
      expect(err.detail).toBe('zip');
    });

    test('control: the same hand-built JWE with A256KW/A256GCM and no zip opens', async () => {
      const { sealer, source } = setup();
      const key = await ringKeyBytes(source);
      const jwe = await new CompactEncrypt(new TextEncoder().encode(SECRET))
        .setProtectedHeader({ alg: 'A256KW', enc: 'A256GCM', kid: '1', bnd: sha256Id(DOC) })
        .encrypt(key);
      expect(new TextDecoder().decode((await sealer.unseal(jwe, DOC)).plaintext)).toBe(SECRET);
    });
  });

  test('binding: a blob copied to another document does not open', async () => {
    const { sealer } = setup();
    const jwe = await sealer.seal(SECRET, DOC);
    await expectUnseal(sealer.unseal(jwe, 'rally_links/other'), 'binding_mismatch');
  });

  test('binding: rewriting "bnd" in the header to the other document breaks authentication', async () => {
    const { sealer } = setup();
    const parts = (await sealer.seal(SECRET, DOC)).split('.');
    const header = decodeHeader(parts.join('.'));
    header.bnd = sha256Id('rally_links/other');
    parts[0] = Buffer.from(JSON.stringify(header)).toString('base64url');
    await expectUnseal(sealer.unseal(parts.join('.'), 'rally_links/other'), 'unseal_failed');
  });

  test('E5 unknown kid → unknown_kid, and the source is never asked for it or for "latest"', async () => {
    const source = sourceWithKeys();
    const sealer2 = createSealer(createSealingKeyRing(source, SEALING, ['2', '1']));
    const jwe = await sealer2.seal(SECRET, DOC); // kid 2
    const sealer1 = createSealer(createSealingKeyRing(source, SEALING, ['1']));
    const asked: string[] = [];
    const orig = source.access.bind(source);
    source.access = async (n, v) => {
      asked.push(v);
      return orig(n, v);
    };
    await expectUnseal(sealer1.unseal(jwe, DOC), 'unknown_kid');
    expect(asked).toEqual([]);
  });

  test('E5 a header without kid, or with a non-numeric kid such as "latest" → unknown_kid', async () => {
    const { sealer, source } = setup();
    const key = new Uint8Array(Buffer.from(new TextDecoder().decode(await source.access(SEALING, '1')), 'base64url'));
    for (const kid of [undefined, 'latest', '01']) {
      const jwe = await new CompactEncrypt(new TextEncoder().encode(SECRET))
        .setProtectedHeader({ alg: 'A256KW', enc: 'A256GCM', ...(kid ? { kid } : {}), bnd: sha256Id(DOC) })
        .encrypt(key);
      await expectUnseal(sealer.unseal(jwe, DOC), 'unknown_kid');
    }
  });

  describe('E6 rotation', () => {
    test('E6 a v1 record opens under [2,1] with needsReseal; the re-seal carries kid 2', async () => {
      const source = sourceWithKeys();
      const old = createSealer(createSealingKeyRing(source, SEALING, ['1']));
      const v1Record = await old.seal(SECRET, DOC);

      const sealer = createSealer(createSealingKeyRing(source, SEALING, ['2', '1']));
      const opened = await sealer.unseal(v1Record, DOC);
      expect(opened).toMatchObject({ kid: '1', needsReseal: true });
      const resealed = await sealer.seal(opened.plaintext, DOC);
      expect(decodeHeader(resealed).kid).toBe('2');
      const reopened = await sealer.unseal(resealed, DOC);
      expect(reopened).toMatchObject({ kid: '2', needsReseal: false });
      expect(new TextDecoder().decode(reopened.plaintext)).toBe(SECRET);
    });

    test('E6 once v1 is removed from the configured versions, a v1 record fails (unknown_kid)', async () => {
      const source = sourceWithKeys();
      const v1Record = await createSealer(createSealingKeyRing(source, SEALING, ['1'])).seal(SECRET, DOC);
      await expectUnseal(
        createSealer(createSealingKeyRing(source, SEALING, ['2'])).unseal(v1Record, DOC),
        'unknown_kid',
      );
    });

    test('E6 once v1 is disabled in the source, a v1 record fails (key_disabled), v2 records still open', async () => {
      const source = sourceWithKeys();
      const v1Record = await createSealer(createSealingKeyRing(source, SEALING, ['1'])).seal(SECRET, DOC);
      source.disable(SEALING, '1');
      const sealer = createSealer(createSealingKeyRing(source, SEALING, ['2', '1']));
      await expectUnseal(sealer.unseal(v1Record, DOC), 'key_disabled');
      const v2Record = await sealer.seal(SECRET, DOC);
      expect((await sealer.unseal(v2Record, DOC)).kid).toBe('2');
    });

    test('E8 the current key unavailable → SecretUnavailableError propagates unchanged (no unsealed fallback)', async () => {
      const source = sourceWithKeys();
      const sealer = createSealer(createSealingKeyRing(source, SEALING, ['1']));
      const record = await createSealer(createSealingKeyRing(sourceWithKeysFrom(source), SEALING, ['1'])).seal(
        SECRET,
        DOC,
      );
      source.setDown(true);
      await expect(sealer.seal(SECRET, DOC)).rejects.toBeInstanceOf(SecretUnavailableError);
      await expect(sealer.unseal(record, DOC)).rejects.toBeInstanceOf(SecretUnavailableError);
      source.setDown(false);
      expect(new TextDecoder().decode((await sealer.unseal(record, DOC)).plaintext)).toBe(SECRET); // recovers
    });

    test('E8 the current version disabled is an outage (SecretUnavailableError), not "not linked"', async () => {
      const source = sourceWithKeys();
      const record = await createSealer(createSealingKeyRing(source, SEALING, ['1'])).seal(SECRET, DOC);
      source.disable(SEALING, '1');
      const sealer = createSealer(createSealingKeyRing(source, SEALING, ['1']));
      await expect(sealer.unseal(record, DOC)).rejects.toBeInstanceOf(SecretUnavailableError);
    });
  });
});

/** The same backing data, different object (so the seal above does not warm the ring under test). */
function sourceWithKeysFrom(source: ReturnType<typeof sourceWithKeys>) {
  return { access: (n: string, v: string) => source.access(n, v) };
}

describe('sealing key ring', () => {
  test('rejects payloads that are not base64url of 32 bytes, without quoting them', async () => {
    for (const bad of [
      'short',
      Buffer.alloc(31).toString('base64url'),
      Buffer.alloc(33).toString('base64url'),
      `${'A'.repeat(42)}+`,
    ]) {
      const source = memorySource();
      source.put(SEALING, '1', bad);
      const err = await createSealingKeyRing(source, SEALING, ['1'])
        .current()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KeyRingError);
      expect((err as KeyRingError).code).toBe('invalid_key');
      expect((err as Error).message).not.toContain(bad);
    }
  });

  test('tolerates a trailing newline in the payload', async () => {
    const source = memorySource();
    source.put(SEALING, '1', `${Buffer.alloc(32, 7).toString('base64url')}\n`);
    await expect(createSealingKeyRing(source, SEALING, ['1']).current()).resolves.toBeDefined();
  });

  test('refuses an empty or non-numeric versions list', () => {
    const source = memorySource();
    expect(() => createSealingKeyRing(source, SEALING, [])).toThrow(KeyRingError);
    expect(() => createSealingKeyRing(source, SEALING, ['latest'])).toThrow(KeyRingError);
  });

  test('loads each version once, lazily, and a failure is retried', async () => {
    const source = sourceWithKeys();
    const ring = createSealingKeyRing(source, SEALING, ['2', '1']);
    expect(source.calls).toBe(0);
    await Promise.all([ring.current(), ring.current(), ring.byKid('2')]);
    expect(source.calls).toBe(1);
    source.setDown(true);
    await expect(ring.byKid('1')).rejects.toBeInstanceOf(SecretUnavailableError);
    source.setDown(false);
    await expect(ring.byKid('1')).resolves.toBeDefined();
    expect(source.calls).toBe(3);
  });
});
