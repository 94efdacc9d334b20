import { generateKeyPairSync } from 'node:crypto';
import { importJWK, SignJWT, UnsecuredJWT } from 'jose';
import { AccessTokenError, createAccessTokenSigner } from '../../../shared/crypto/access-token.js';
import { createSigningKeyRing, KeyRingError } from '../../../shared/crypto/key-ring.js';
import { SecretUnavailableError } from '../../../shared/secrets/secret-source.js';
import { memorySource, SIGNING, sourceWithKeys } from './fixtures.js';
import { FakeClock } from '../../helpers/clock.js';

const ISSUER = 'https://rally-mcp.example.com';
const AUD = 'https://rally-mcp.example.com/mcp';
const CLAIMS = {
  sub: 'user-1',
  aud: AUD,
  client_id: 'client-1',
  scope: 'rally:read rally:write',
  gid: 'grant-1',
  ttlSeconds: 600,
};

function setup(versions = ['1']) {
  const source = sourceWithKeys();
  const clock = new FakeClock();
  const ring = createSigningKeyRing(source, SIGNING, versions);
  return { source, clock, ring, signer: createAccessTokenSigner(ring, { issuer: ISSUER, clock }) };
}

const b64json = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const parts = (token: string) => token.split('.') as [string, string, string];
const header = (token: string) =>
  JSON.parse(Buffer.from(parts(token)[0], 'base64url').toString()) as Record<string, unknown>;
const payload = (token: string) =>
  JSON.parse(Buffer.from(parts(token)[1], 'base64url').toString()) as Record<string, unknown>;

async function expectInvalid(p: Promise<unknown>, token: string, reason?: AccessTokenError['reason']): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AccessTokenError);
  expect((err as AccessTokenError).code).toBe('invalid_token');
  if (reason) expect((err as AccessTokenError).reason).toBe(reason);
  const text = `${(err as Error).message} ${String((err as Error).stack)}`;
  for (const piece of parts(token)) if (piece.length > 8) expect(text).not.toContain(piece);
}

describe('access tokens', () => {
  test('sign → RFC 9068 header and claims; verify → the claims back', async () => {
    const { signer, clock } = setup();
    const { token, expiresAt, jti } = await signer.sign(CLAIMS);
    expect(header(token)).toEqual({ alg: 'EdDSA', typ: 'at+jwt', kid: '1' });
    const iat = Math.floor(clock.now().getTime() / 1000);
    expect(payload(token)).toEqual({
      iss: ISSUER,
      sub: 'user-1',
      aud: AUD,
      client_id: 'client-1',
      scope: 'rally:read rally:write',
      gid: 'grant-1',
      iat,
      exp: iat + 600,
      jti,
    });
    expect(expiresAt.getTime()).toBe((iat + 600) * 1000);
    expect(jti).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    await expect(signer.verify(token, { audience: AUD })).resolves.toEqual({
      sub: 'user-1',
      clientId: 'client-1',
      scopes: ['rally:read', 'rally:write'],
      grantId: 'grant-1',
      expiresAt: iat + 600,
      jti,
    });
  });

  test('two tokens get different jti', async () => {
    const { signer } = setup();
    expect((await signer.sign(CLAIMS)).jti).not.toBe((await signer.sign(CLAIMS)).jti);
  });

  test('I2 wrong audience → invalid_token', async () => {
    const { signer } = setup();
    const { token } = await signer.sign({ ...CLAIMS, aud: 'https://other.example.com/mcp' });
    await expectInvalid(signer.verify(token, { audience: AUD }), token, 'claims');
  });

  test('wrong issuer → invalid_token', async () => {
    const { source, clock, ring } = setup();
    const other = createAccessTokenSigner(ring, { issuer: 'https://evil.example.com', clock });
    const { token } = await other.sign(CLAIMS);
    const signer = createAccessTokenSigner(createSigningKeyRing(source, SIGNING, ['1']), { issuer: ISSUER, clock });
    await expectInvalid(signer.verify(token, { audience: AUD }), token, 'claims');
  });

  test('I3 expired (injected clock): valid at exp-1s and exp+4s (5 s tolerance), refused at exp+5s', async () => {
    const { signer, clock } = setup();
    const { token } = await signer.sign({ ...CLAIMS, ttlSeconds: 60 });
    clock.advanceSeconds(59);
    await expect(signer.verify(token, { audience: AUD })).resolves.toBeDefined();
    clock.advanceSeconds(5); // exp + 4 s: still inside the 5 s tolerance
    await expect(signer.verify(token, { audience: AUD })).resolves.toBeDefined();
    clock.advanceSeconds(1); // exp + 5 s
    await expectInvalid(signer.verify(token, { audience: AUD }), token, 'expired');
  });

  test('alg "none" (unsecured JWT) → invalid_token', async () => {
    const { signer, clock } = setup();
    const now = Math.floor(clock.now().getTime() / 1000);
    const token = new UnsecuredJWT({ client_id: 'c', scope: 's', gid: 'g', jti: 'j' })
      .setIssuer(ISSUER)
      .setSubject('user-1')
      .setAudience(AUD)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .encode();
    const withTyp = `${b64json({ alg: 'none', typ: 'at+jwt', kid: '1' })}.${parts(token)[1]}.`;
    await expectInvalid(signer.verify(token, { audience: AUD }), token);
    await expectInvalid(signer.verify(withTyp, { audience: AUD }), withTyp);
  });

  test('HS256 token keyed with the public key bytes (algorithm confusion) → invalid_token', async () => {
    const { signer, source, clock } = setup();
    const jwk = JSON.parse(new TextDecoder().decode(await source.access(SIGNING, '1'))) as { x: string };
    const now = Math.floor(clock.now().getTime() / 1000);
    const token = await new SignJWT({ client_id: 'c', scope: 's', gid: 'g' })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: '1' })
      .setIssuer(ISSUER)
      .setSubject('user-1')
      .setAudience(AUD)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .setJti('j')
      .sign(new Uint8Array(Buffer.from(jwk.x, 'base64url')));
    await expectInvalid(signer.verify(token, { audience: AUD }), token);
  });

  test('tampered signature or payload → invalid_token', async () => {
    const { signer } = setup();
    const { token } = await signer.sign(CLAIMS);
    const [h, p, s] = parts(token);
    const sig = Buffer.from(s, 'base64url');
    sig[10] = (sig[10] ?? 0) ^ 1;
    const badSig = `${h}.${p}.${sig.toString('base64url')}`;
    await expectInvalid(signer.verify(badSig, { audience: AUD }), badSig, 'signature');
    const escalated = `${h}.${b64json({ ...payload(token), scope: 'admin' })}.${s}`;
    await expectInvalid(signer.verify(escalated, { audience: AUD }), escalated, 'signature');
  });

  test('wrong typ (plain JWT) signed with the right key → invalid_token', async () => {
    const { signer, ring, clock } = setup();
    const now = Math.floor(clock.now().getTime() / 1000);
    const token = await new SignJWT({ client_id: 'c', scope: 's', gid: 'g' })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: '1' })
      .setIssuer(ISSUER)
      .setSubject('user-1')
      .setAudience(AUD)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .setJti('j')
      .sign((await ring.current()).privateKey);
    await expectInvalid(signer.verify(token, { audience: AUD }), token);
  });

  test('missing custom claims (gid) → invalid_token', async () => {
    const { signer, ring, clock } = setup();
    const now = Math.floor(clock.now().getTime() / 1000);
    const token = await new SignJWT({ client_id: 'c', scope: 's' })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: '1' })
      .setIssuer(ISSUER)
      .setSubject('user-1')
      .setAudience(AUD)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .setJti('j')
      .sign((await ring.current()).privateKey);
    await expectInvalid(signer.verify(token, { audience: AUD }), token, 'claims');
  });

  test('E5 signed by a key outside the ring, or with an unknown kid → invalid_token', async () => {
    const { signer, clock } = setup();
    const now = Math.floor(clock.now().getTime() / 1000);
    const stranger = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
    const strangerKey = await importJWK(stranger, 'EdDSA');
    for (const kid of ['1', '2', 'latest']) {
      const token = await new SignJWT({ client_id: 'c', scope: 's', gid: 'g' })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid })
        .setIssuer(ISSUER)
        .setSubject('user-1')
        .setAudience(AUD)
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .setJti('j')
        .sign(strangerKey);
      await expectInvalid(signer.verify(token, { audience: AUD }), token, kid === '1' ? 'signature' : 'unknown_kid');
    }
  });

  test('garbage input → invalid_token', async () => {
    const { signer } = setup();
    for (const t of ['', 'abc', 'a.b.c', 'x'.repeat(9000)]) {
      await expect(signer.verify(t, { audience: AUD })).rejects.toBeInstanceOf(AccessTokenError);
    }
  });

  test('rotation: tokens signed under v1 verify under [2,1]; new tokens carry kid 2', async () => {
    const { source, clock } = setup();
    const v1 = createAccessTokenSigner(createSigningKeyRing(source, SIGNING, ['1']), { issuer: ISSUER, clock });
    const both = createAccessTokenSigner(createSigningKeyRing(source, SIGNING, ['2', '1']), { issuer: ISSUER, clock });
    const old = await v1.sign(CLAIMS);
    await expect(both.verify(old.token, { audience: AUD })).resolves.toMatchObject({ sub: 'user-1' });
    const fresh = await both.sign(CLAIMS);
    expect(header(fresh.token).kid).toBe('2');
    await expectInvalid(v1.verify(fresh.token, { audience: AUD }), fresh.token, 'unknown_kid');
  });

  test('E8 signing key unavailable → SecretUnavailableError (503), not invalid_token', async () => {
    const { source, clock } = setup();
    const token = (
      await createAccessTokenSigner(createSigningKeyRing(source, SIGNING, ['1']), { issuer: ISSUER, clock }).sign(
        CLAIMS,
      )
    ).token;
    const signer = createAccessTokenSigner(createSigningKeyRing(source, SIGNING, ['1']), { issuer: ISSUER, clock });
    source.setDown(true);
    await expect(signer.verify(token, { audience: AUD })).rejects.toBeInstanceOf(SecretUnavailableError);
    await expect(signer.sign(CLAIMS)).rejects.toBeInstanceOf(SecretUnavailableError);
    source.setDown(false);
    await expect(signer.verify(token, { audience: AUD })).resolves.toBeDefined();
  });

  test('sign refuses a non-positive or oversized ttl', async () => {
    const { signer } = setup();
    await expect(signer.sign({ ...CLAIMS, ttlSeconds: 0 })).rejects.toThrow(RangeError);
    await expect(signer.sign({ ...CLAIMS, ttlSeconds: 90_000 })).rejects.toThrow(RangeError);
  });
});

describe('signing key ring', () => {
  test('rejects a JWK whose x does not match d, and non-JWK payloads, without quoting them', async () => {
    const a = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
    const b = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
    for (const bad of [
      JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: b.x, d: a.d }),
      'not json',
      JSON.stringify({ kty: 'EC', crv: 'P-256', x: a.x, d: a.d }),
    ]) {
      const source = memorySource();
      source.put(SIGNING, '1', bad);
      const err = await createSigningKeyRing(source, SIGNING, ['1'])
        .current()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KeyRingError);
      expect((err as KeyRingError).code).toBe('invalid_key');
      expect((err as Error).message).not.toContain(String(a.d));
    }
  });

  test('the private key is not extractable', async () => {
    const { ring } = setup();
    const { privateKey, publicKey } = await ring.current();
    expect(privateKey.extractable).toBe(false);
    expect(publicKey.type).toBe('public');
  });
});
