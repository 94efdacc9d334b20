/**
 * Our access tokens: RFC 9068 JWTs (`typ: at+jwt`) signed with EdDSA (Ed25519)
 * under a key ring whose `kid` is the Secret Manager version.
 * @module
 */
// jose's subpath exports: the package root would load all of jose (46 modules) at cold start.
import type { JWTHeaderParameters } from 'jose';
import * as joseErrors from 'jose/errors';
import { SignJWT } from 'jose/jwt/sign';
import { jwtVerify } from 'jose/jwt/verify';
import { z } from 'zod';
import type { Clock } from '../kernel/clock.js';
import { SecretUnavailableError } from '../secrets/errors.js';
import { randomToken, sha256Id } from '../kernel/hash.js';
import type { KeyRing, SigningKeyPair } from './key-ring.js';
import { CodedError } from '../kernel/errors.js';
import { evictOldest } from '../kernel/lru.js';

export interface AccessTokenClaims {
  readonly sub: string;
  /** The resource (RFC 8707 / RFC 9068 §2.2), e.g. `${PUBLIC_BASE_URL}/mcp`. */
  readonly aud: string;
  readonly client_id: string;
  /** Space-separated scopes. */
  readonly scope: string;
  /** Grant id: lets revocation of a grant invalidate its tokens. */
  readonly gid: string;
  readonly ttlSeconds: number;
}

export interface SignedAccessToken {
  readonly token: string;
  readonly expiresAt: Date;
  readonly jti: string;
}

export interface VerifiedAccessToken {
  readonly sub: string;
  readonly clientId: string;
  readonly scopes: string[];
  readonly grantId: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
  readonly jti: string;
}

export interface AccessTokenSigner {
  sign(claims: AccessTokenClaims): Promise<SignedAccessToken>;
  /** Throws AccessTokenError for any invalid token; SecretUnavailableError (→ 503) if the key cannot be loaded. */
  verify(token: string, expected: { audience: string }): Promise<VerifiedAccessToken>;
}

export interface AccessTokenSignerOptions {
  readonly issuer: string;
  readonly clock: Clock;
}

/** Why a token was refused: for logs (`reason`), never for the client, which only sees `invalid_token`. */
export type AccessTokenRejection = 'malformed' | 'expired' | 'signature' | 'claims' | 'unknown_kid' | 'too_long';

/** Any invalid access token (RFC 6750 §3.1 `invalid_token`). The message never contains the token. */
export class AccessTokenError extends CodedError<'invalid_token'> {
  readonly reason: AccessTokenRejection;
  constructor(reason: AccessTokenRejection) {
    super('invalid_token', `invalid_token (${reason})`);
    this.name = 'AccessTokenError';
    this.reason = reason;
  }
}

const ALG = 'EdDSA';
const TYP = 'at+jwt';
const CLOCK_TOLERANCE_SECONDS = 5;
const MAX_TOKEN_CHARS = 8 * 1024;
const MAX_TTL_SECONDS = 86_400;

const Payload = z.object({
  sub: z.string().min(1),
  client_id: z.string().min(1),
  scope: z.string(),
  gid: z.string().min(1),
  exp: z.number().int(),
  iat: z.number().int(),
  jti: z.string().min(1),
});

function rejectionOf(err: unknown): AccessTokenRejection {
  if (err instanceof joseErrors.JWTExpired) return 'expired';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return 'claims';
  return 'malformed';
}

const VERIFIED_CACHE_LIMIT = 10_000;

export function createAccessTokenSigner(
  ring: KeyRing<SigningKeyPair>,
  options: AccessTokenSignerOptions,
): AccessTokenSigner {
  const verified = new Map<string, VerifiedAccessToken>();
  const { issuer, clock } = options;
  return {
    async sign(claims) {
      if (!Number.isInteger(claims.ttlSeconds) || claims.ttlSeconds <= 0 || claims.ttlSeconds > MAX_TTL_SECONDS) {
        throw new RangeError('access token ttlSeconds must be an integer in 1..86400');
      }
      for (const k of ['sub', 'aud', 'client_id', 'gid'] as const) {
        if (!claims[k]) throw new TypeError(`access token claim ${k} must be a non-empty string`);
      }
      const kid = ring.currentKid;
      const { privateKey } = await ring.current();
      const iat = Math.floor(clock.now().getTime() / 1000);
      const exp = iat + claims.ttlSeconds;
      const jti = randomToken(16);
      const token = await new SignJWT({ client_id: claims.client_id, scope: claims.scope, gid: claims.gid })
        .setProtectedHeader({ alg: ALG, typ: TYP, kid })
        .setIssuer(issuer)
        .setSubject(claims.sub)
        .setAudience(claims.aud)
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .setJti(jti)
        .sign(privateKey);
      return { token, expiresAt: new Date(exp * 1000), jti };
    },

    async verify(token, expected) {
      if (typeof token !== 'string' || token.length === 0) throw new AccessTokenError('malformed');
      if (token.length > MAX_TOKEN_CHARS) throw new AccessTokenError('too_long');
      // A signature that verified once verifies again: skip the crypto until the token expires.
      // Revocation does not depend on this: a tool call needs the grant's token record (see RallyTokenStore.read).
      const cacheKey = `${expected.audience} ${sha256Id(token)}`;
      const hit = verified.get(cacheKey);
      if (hit && hit.expiresAt + CLOCK_TOLERANCE_SECONDS > clock.now().getTime() / 1000) return hit;
      let payload: unknown;
      try {
        ({ payload } = await jwtVerify(
          token,
          async (header: JWTHeaderParameters) => {
            if (typeof header.kid !== 'string') throw new AccessTokenError('unknown_kid');
            try {
              return (await ring.byKid(header.kid)).publicKey;
            } catch (err) {
              if (err instanceof SecretUnavailableError) throw err; // outage, not a bad token (E8)
              throw new AccessTokenError('unknown_kid');
            }
          },
          {
            algorithms: [ALG],
            typ: TYP,
            issuer,
            audience: expected.audience,
            currentDate: clock.now(),
            clockTolerance: CLOCK_TOLERANCE_SECONDS,
            requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti'],
          },
        ));
      } catch (err) {
        if (err instanceof AccessTokenError || err instanceof SecretUnavailableError) throw err;
        throw new AccessTokenError(rejectionOf(err));
      }
      const parsed = Payload.safeParse(payload);
      if (!parsed.success) throw new AccessTokenError('claims');
      const p = parsed.data;
      const result: VerifiedAccessToken = {
        sub: p.sub,
        clientId: p.client_id,
        scopes: p.scope.split(' ').filter(Boolean),
        grantId: p.gid,
        expiresAt: p.exp,
        jti: p.jti,
      };
      evictOldest(verified, VERIFIED_CACHE_LIMIT);
      verified.set(cacheKey, result);
      return result;
    },
  };
}
