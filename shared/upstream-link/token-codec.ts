/**
 * The one codec for what we seal (E1): every sealed payload is JSON with a zod schema, written
 * and read here only, so nothing opened is cast. The wire shapes are those of existing sealed
 * records and must stay byte-compatible (keys in this order; an undefined key is left out):
 *
 * - `LINK_TOKENS`: `{a, r?}` in a provider's token record (`rally_tokens`, `upstream_tokens`; the
 *   access and refresh expiries are fields of the document), bound to that document;
 * - `PENDING_TOKENS`: `{a, r?, e?}` (e: ISO access expiry, absent for a token that does not expire)
 *   of a session-link sign-in waiting for its confirmation code, bound to the session's pending slot;
 * - `SIGN_IN_SECRET`: `{clientState?, rallyVerifier}` of a sign-in in progress (the MCP client's
 *   `state` and our PKCE verifier for the provider, whichever it is: the key keeps the name it had
 *   when Rally was the only one), bound to its link transaction;
 * - `CLIENT_STATE`: the MCP client's `state` while its /authorize request waits for consent,
 *   sealed as the bare UTF-8 string (not JSON), bound to the auth request.
 *
 * Opening throws what the sealer throws (UnsealError, SecretUnavailableError), a SyntaxError for
 * a JSON payload that is not JSON, or a ZodError for one of the wrong shape; never the payload.
 * @module
 */
import { z } from 'zod';
import type { Sealer } from '../crypto/sealer.js';
import type { UpstreamTokens } from '../upstream/provider.js';

export interface Opened<T> {
  readonly value: T;
  /** Sealed under an older key version: re-seal and write back (lazy rotation, E6). */
  readonly needsReseal: boolean;
}

export interface SealedCodec<T> {
  /** Seals `value` under the current key, bound to `boundTo` (the owning document). */
  seal(sealer: Sealer, value: T, boundTo: string): Promise<string>;
  open(sealer: Sealer, jwe: string, boundTo: string): Promise<Opened<T>>;
}

const textDecoder = new TextDecoder();

function jsonCodec<W, T>(wire: z.ZodType<W>, toWire: (value: T) => W, fromWire: (w: W) => T): SealedCodec<T> {
  return {
    seal: (sealer, value, boundTo) => sealer.seal(JSON.stringify(toWire(value)), boundTo),
    async open(sealer, jwe, boundTo) {
      const opened = await sealer.unseal(jwe, boundTo);
      const value = fromWire(wire.parse(JSON.parse(textDecoder.decode(opened.plaintext))));
      return { value, needsReseal: opened.needsReseal };
    },
  };
}

const accessToken = z.string().min(1);
const refreshToken = z.string().min(1).optional();

/** The tokens of a stored link; their expiries are kept on the document, outside the seal. */
export type SealedTokens = Pick<UpstreamTokens, 'accessToken' | 'refreshToken'>;

export const LINK_TOKENS: SealedCodec<SealedTokens> = jsonCodec(
  z.object({ a: accessToken, r: refreshToken }),
  (t) => ({ a: t.accessToken, r: t.refreshToken }),
  (w) => ({ accessToken: w.a, refreshToken: w.r }),
);

export const PENDING_TOKENS: SealedCodec<UpstreamTokens> = jsonCodec(
  z.object({ a: accessToken, r: refreshToken, e: z.iso.datetime().optional() }),
  (t) => ({ a: t.accessToken, r: t.refreshToken, e: t.accessExpiresAt?.toISOString() }),
  (w) => ({ accessToken: w.a, refreshToken: w.r, accessExpiresAt: w.e === undefined ? undefined : new Date(w.e) }),
);

/** What a sign-in in progress keeps secret until the provider redirects back. */
export interface SignInSecret {
  /** The MCP client's `state`, echoed back to it (authorize flow only). */
  readonly clientState: string | undefined;
  /** The PKCE verifier of our authorization request to the provider. */
  readonly verifier: string;
}

export const SIGN_IN_SECRET: SealedCodec<SignInSecret> = jsonCodec(
  z.object({ clientState: z.string().optional(), rallyVerifier: z.string() }),
  (s) => ({ clientState: s.clientState, rallyVerifier: s.verifier }),
  (w) => ({ clientState: w.clientState, verifier: w.rallyVerifier }),
);

export const CLIENT_STATE: SealedCodec<string> = {
  seal: (sealer, state, boundTo) => sealer.seal(state, boundTo),
  async open(sealer, jwe, boundTo) {
    const opened = await sealer.unseal(jwe, boundTo);
    return { value: textDecoder.decode(opened.plaintext), needsReseal: opened.needsReseal };
  },
};
