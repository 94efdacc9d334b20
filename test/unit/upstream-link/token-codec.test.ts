import { ZodError } from 'zod';
import type { Sealer } from '../../../shared/crypto/sealer.js';
import {
  CLIENT_STATE,
  PENDING_TOKENS,
  LINK_TOKENS,
  SIGN_IN_SECRET,
} from '../../../shared/upstream-link/token-codec.js';

/** A sealer that hands back what it was given, so the wire bytes can be compared. */
function transparentSealer(): Sealer & { sealed: string[] } {
  const sealed: string[] = [];
  return {
    sealed,
    async seal(plaintext, boundTo) {
      const text = typeof plaintext === 'string' ? plaintext : new TextDecoder().decode(plaintext);
      sealed.push(text);
      return `${boundTo}|${text}`;
    },
    async unseal(jwe, boundTo) {
      if (!jwe.startsWith(`${boundTo}|`)) throw new Error('binding_mismatch');
      return { plaintext: new TextEncoder().encode(jwe.slice(boundTo.length + 1)), kid: '1', needsReseal: false };
    },
  };
}

const DOC = 'rally_tokens/abc';
const expiry = new Date('2030-01-02T03:04:05.678Z');

describe('sealed-token codec: the wire formats of existing sealed records', () => {
  it('link tokens (Rally and every other provider) are {a, r?}; an absent refresh token is left out', async () => {
    const sealer = transparentSealer();
    await LINK_TOKENS.seal(sealer, { accessToken: 'at', refreshToken: 'rt' }, DOC);
    await LINK_TOKENS.seal(sealer, { accessToken: 'at', refreshToken: undefined }, DOC);
    expect(sealer.sealed).toEqual(['{"a":"at","r":"rt"}', '{"a":"at"}']);
    expect((await LINK_TOKENS.open(sealer, `${DOC}|{"a":"at","r":"rt"}`, DOC)).value).toEqual({
      accessToken: 'at',
      refreshToken: 'rt',
    });
    expect((await LINK_TOKENS.open(sealer, `${DOC}|{"a":"at"}`, DOC)).value).toEqual({
      accessToken: 'at',
      refreshToken: undefined,
    });
  });

  it('pending session tokens are {a, r?, e} with an ISO expiry', async () => {
    const sealer = transparentSealer();
    await PENDING_TOKENS.seal(sealer, { accessToken: 'at', refreshToken: 'rt', accessExpiresAt: expiry }, DOC);
    await PENDING_TOKENS.seal(sealer, { accessToken: 'at', refreshToken: undefined, accessExpiresAt: expiry }, DOC);
    expect(sealer.sealed).toEqual([
      '{"a":"at","r":"rt","e":"2030-01-02T03:04:05.678Z"}',
      '{"a":"at","e":"2030-01-02T03:04:05.678Z"}',
    ]);
    const opened = await PENDING_TOKENS.open(sealer, `${DOC}|${sealer.sealed[0]}`, DOC);
    expect(opened.value).toEqual({ accessToken: 'at', refreshToken: 'rt', accessExpiresAt: expiry });
  });

  it('pending tokens of an access token that does not expire leave e out', async () => {
    const sealer = transparentSealer();
    await PENDING_TOKENS.seal(sealer, { accessToken: 'at', refreshToken: undefined, accessExpiresAt: undefined }, DOC);
    expect(sealer.sealed).toEqual(['{"a":"at"}']);
    expect((await PENDING_TOKENS.open(sealer, `${DOC}|{"a":"at"}`, DOC)).value).toEqual({
      accessToken: 'at',
      refreshToken: undefined,
      accessExpiresAt: undefined,
    });
  });

  it('the sign-in secret is {clientState?, rallyVerifier}, whichever provider the verifier is for', async () => {
    const sealer = transparentSealer();
    await SIGN_IN_SECRET.seal(sealer, { clientState: 's', verifier: 'v' }, DOC);
    await SIGN_IN_SECRET.seal(sealer, { clientState: undefined, verifier: 'v' }, DOC);
    expect(sealer.sealed).toEqual(['{"clientState":"s","rallyVerifier":"v"}', '{"rallyVerifier":"v"}']);
    expect((await SIGN_IN_SECRET.open(sealer, `${DOC}|{"rallyVerifier":"v"}`, DOC)).value).toEqual({
      clientState: undefined,
      verifier: 'v',
    });
  });

  it("the client's state is sealed as the bare string", async () => {
    const sealer = transparentSealer();
    await CLIENT_STATE.seal(sealer, 'a "state" é', DOC);
    expect(sealer.sealed).toEqual(['a "state" é']);
    expect((await CLIENT_STATE.open(sealer, `${DOC}|a "state" é`, DOC)).value).toBe('a "state" é');
  });

  it('a payload of the wrong shape is refused, never cast', async () => {
    const sealer = transparentSealer();
    await expect(LINK_TOKENS.open(sealer, `${DOC}|{"r":"rt"}`, DOC)).rejects.toBeInstanceOf(ZodError);
    await expect(PENDING_TOKENS.open(sealer, `${DOC}|{"a":"at","e":"soon"}`, DOC)).rejects.toBeInstanceOf(ZodError);
    await expect(SIGN_IN_SECRET.open(sealer, `${DOC}|{"clientState":"s"}`, DOC)).rejects.toBeInstanceOf(ZodError);
    await expect(LINK_TOKENS.open(sealer, `${DOC}|not json`, DOC)).rejects.toBeInstanceOf(SyntaxError);
  });
});
