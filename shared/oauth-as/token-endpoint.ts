/**
 * POST /token (authorization_code with PKCE, refresh_token with rotation)
 * and POST /revoke (RFC 7009). Every answer carries Cache-Control: no-store (H17).
 * Clients authenticate only by the method they registered and use only the
 * grant types they registered (L18).
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import type { Request, Response } from '@google-cloud/functions-framework';
import { publicUrls } from '../config/config.js';
import type { Deps } from '../services/deps.js';
import type { AuthServices } from '../services/auth-services.js';
import { addSeconds } from '../kernel/clock.js';
import { randomToken, sha256Id } from '../kernel/hash.js';
import { redeemAuthCode, type RedeemRefusal } from '../store/auth-codes.repo.js';
import { createRefreshToken, findRefreshToken, rotateRefreshToken } from '../store/refresh-tokens.repo.js';
import { revokeGrant, revokeOlderGrants } from '../store/grants.repo.js';
import { GRANT_TYPES, type GrantType, type RegisteredClient } from '../store/clients.repo.js';
import { resolveClient } from './clients.js';
import { OAuthError } from './errors.js';
import { endGrant } from './revocation.js';
import { formParams } from '../http/params.js';
import { pkceChallenge } from '../rally/oauth.js';
import { parseScopes } from './scopes.js';

const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASIC = /^basic(?:[ \t]+(.*))?$/i;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

type AuthMethod = RegisteredClient['tokenEndpointAuthMethod'];

interface ClientCredentials {
  readonly clientId: string | undefined;
  readonly secret: string | undefined;
  /** The method this request used, compared with the registered one (L18). */
  readonly method: AuthMethod;
}

const percentDecode = (s: string): string | undefined => {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
};

/** RFC 6749 §2.3.1: base64 of percent-encoded `client_id:client_secret`. Anything else is undefined, never a throw (L13). */
function parseBasic(encoded: string): { clientId: string; secret: string } | undefined {
  if (!encoded || !BASE64.test(encoded)) return undefined;
  let decoded: string;
  try {
    decoded = strictUtf8.decode(Buffer.from(encoded, 'base64'));
  } catch {
    return undefined;
  }
  const i = decoded.indexOf(':');
  if (i < 0) return undefined;
  const clientId = percentDecode(decoded.slice(0, i));
  const secret = percentDecode(decoded.slice(i + 1));
  return clientId && secret !== undefined ? { clientId, secret } : undefined;
}

function credentials(req: Request, form: Record<string, string>): ClientCredentials {
  const basic = BASIC.exec(req.get('authorization') ?? '');
  if (basic) {
    // The value stays out of the log: it may be a real secret with a typo.
    const parsed = parseBasic(basic[1]?.trim() ?? '');
    if (!parsed)
      throw new OAuthError('invalid_client', 'Malformed Basic credentials.', { internal: 'malformed_basic' });
    // RFC 6749 §2.3: one authentication method per request.
    if (form.client_secret !== undefined || (form.client_id !== undefined && form.client_id !== parsed.clientId)) {
      throw new OAuthError('invalid_client', 'Use exactly one client authentication method.', {
        internal: 'basic_and_form',
      });
    }
    return { ...parsed, method: 'client_secret_basic' };
  }
  if (form.client_secret !== undefined)
    return { clientId: form.client_id, secret: form.client_secret, method: 'client_secret_post' };
  return { clientId: form.client_id, secret: undefined, method: 'none' };
}

/**
 * Authenticates the client by the method it registered, and only by that one
 * (L18); a bad secret is invalid_client, and nothing is consumed (H13).
 */
async function authenticateClient(
  deps: TokenEndpointDeps,
  req: Request,
  form: Record<string, string>,
): Promise<RegisteredClient> {
  const creds = credentials(req, form);
  const db = await deps.db();
  const client = creds.clientId
    ? await resolveClient(creds.clientId, {
        db,
        now: deps.clock.now(),
        allowLoopbackCimd: deps.config.DANGEROUSLY_ALLOW_LOOPBACK_CIMD,
      })
    : undefined;
  if (!client) throw new OAuthError('invalid_client', 'Unknown client.');
  if (creds.method !== client.tokenEndpointAuthMethod) {
    throw new OAuthError('invalid_client', `This client must authenticate with ${client.tokenEndpointAuthMethod}.`, {
      internal: `used ${creds.method}, registered ${client.tokenEndpointAuthMethod}`,
    });
  }
  if (client.tokenEndpointAuthMethod !== 'none') {
    const given = Buffer.from(sha256Id(creds.secret ?? ''));
    const expected = Buffer.from(client.clientSecretHash ?? '');
    if (!creds.secret || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new OAuthError('invalid_client', 'Client authentication failed.');
    }
  }
  return client;
}

/** The grant types the client registered; records from before they were kept allow both. */
const allowedGrantTypes = (client: RegisteredClient): readonly GrantType[] => client.grantTypes ?? GRANT_TYPES;

/** The grant type asked for, if we support it and the client registered it (L18). */
function grantTypeOf(client: RegisteredClient, form: Record<string, string>): GrantType {
  const grantType = GRANT_TYPES.find((g) => g === form.grant_type);
  if (!grantType)
    throw new OAuthError('unsupported_grant_type', 'grant_type must be authorization_code or refresh_token.');
  if (!allowedGrantTypes(client).includes(grantType)) {
    throw new OAuthError('unauthorized_client', `This client did not register the ${grantType} grant type.`);
  }
  return grantType;
}

function readForm(req: Request): Record<string, string> {
  const form = formParams(req);
  if (!form) throw new OAuthError('invalid_request', 'The body must be application/x-www-form-urlencoded.');
  if (!form.ok) throw new OAuthError('invalid_request', `The parameter "${form.duplicate}" appears more than once.`);
  return form.values;
}

const REDEEM_REFUSED: Record<RedeemRefusal, string> = {
  missing: 'The authorization code is invalid, expired or already used.',
  expired: 'The authorization code is invalid, expired or already used.',
  wrong_client: 'The authorization code was issued to another client.',
  wrong_redirect_uri: 'redirect_uri does not match the authorization request.',
  pkce_mismatch: 'PKCE verification failed.',
};

/** What the token and revocation endpoints use (the instance's services satisfy it). */
export interface TokenEndpointDeps extends Pick<Deps, 'config' | 'clock' | 'db' | 'audit'> {
  auth(): Promise<Pick<AuthServices, 'signer'>>;
}

interface Issued {
  readonly grantId: string;
  readonly sub: string;
  readonly scopes: readonly string[];
  readonly refreshToken: string | undefined;
}

async function exchangeCode(
  deps: TokenEndpointDeps,
  client: RegisteredClient,
  form: Record<string, string>,
  resource: string,
): Promise<Issued> {
  if (!form.code || !form.redirect_uri) throw new OAuthError('invalid_request', 'code and redirect_uri are required.');
  if (form.resource !== undefined && form.resource !== resource)
    throw new OAuthError('invalid_target', `resource must be ${resource}.`);
  if (!form.code_verifier || !VERIFIER.test(form.code_verifier))
    throw new OAuthError('invalid_grant', REDEEM_REFUSED.pkce_mismatch);
  const db = await deps.db();
  const now = deps.clock.now();
  // Checked before the code is marked used: a wrong client, redirect or verifier burns nothing (L4).
  const redeemed = await redeemAuthCode(
    db,
    form.code,
    {
      clientId: client.clientId,
      redirectUri: form.redirect_uri,
      codeChallenge: pkceChallenge(form.code_verifier),
    },
    now,
  );
  if (!redeemed.ok) {
    if (redeemed.reason === 'reused') {
      await revokeGrant(db, redeemed.grantId, now); // H14: the first redemption's tokens stop working
      deps.audit('token_revoked', { reason: 'code_reuse', clientId: client.clientId, grantId: redeemed.grantId });
      throw new OAuthError('invalid_grant', REDEEM_REFUSED.missing, { internal: 'reused' });
    }
    throw new OAuthError('invalid_grant', REDEEM_REFUSED[redeemed.reason], { internal: redeemed.reason });
  }
  const { grantId, sub, scopes } = redeemed.code;
  // H21 once the new consent is really in use, so a sign-in whose code is never redeemed ends nothing (L16).
  const superseded = await revokeOlderGrants(db, sub, client.clientId, grantId, now);
  if (superseded > 0)
    deps.audit('token_revoked', { reason: 'new_consent', clientId: client.clientId, sub, count: superseded });
  let refreshToken: string | undefined;
  if (allowedGrantTypes(client).includes('refresh_token')) {
    refreshToken = randomToken(32);
    await createRefreshToken(db, refreshToken, {
      grantId,
      sub,
      clientId: client.clientId,
      scopes,
      createdAt: now,
      expiresAt: addSeconds(now, deps.config.REFRESH_TOKEN_TTL_SECONDS),
    });
  }
  deps.audit('token_issued', { clientId: client.clientId, sub, grantId });
  return { grantId, sub, scopes, refreshToken };
}

async function exchangeRefreshToken(
  deps: TokenEndpointDeps,
  client: RegisteredClient,
  form: Record<string, string>,
  resource: string,
): Promise<Issued> {
  if (!form.refresh_token) throw new OAuthError('invalid_request', 'refresh_token is required.');
  if (form.resource !== undefined && form.resource !== resource)
    throw new OAuthError('invalid_target', `resource must be ${resource}.`);
  const requested = form.scope === undefined ? undefined : parseScopes(form.scope);
  if (form.scope !== undefined && !requested) throw new OAuthError('invalid_scope', 'Unknown scope.');
  const db = await deps.db();
  const refreshToken = randomToken(32);
  const rotated = await rotateRefreshToken(db, form.refresh_token, refreshToken, {
    clientId: client.clientId,
    now: deps.clock.now(),
    graceSeconds: deps.config.REFRESH_GRACE_SECONDS,
    ttlSeconds: deps.config.REFRESH_TOKEN_TTL_SECONDS,
    ...(requested ? { requestedScopes: requested } : {}),
  });
  if (!rotated.ok) {
    if (rotated.reason === 'reused')
      deps.audit('token_revoked', { reason: 'refresh_reuse', clientId: client.clientId, grantId: rotated.grantId });
    // Checked inside the rotation, before it writes: the presented token still works (L17).
    if (rotated.reason === 'scope_not_granted') throw new OAuthError('invalid_scope', 'A refresh cannot add scopes.');
    throw new OAuthError('invalid_grant', 'The refresh token is invalid, expired or revoked.', {
      internal: rotated.reason,
    });
  }
  const { grantId, sub } = rotated.record;
  deps.audit('token_refreshed', { clientId: client.clientId, sub, grantId });
  return { grantId, sub, scopes: requested ?? rotated.record.scopes, refreshToken };
}

export async function handleToken(deps: TokenEndpointDeps, req: Request, res: Response): Promise<void> {
  res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  const form = readForm(req);
  const client = await authenticateClient(deps, req, form);
  const grantType = grantTypeOf(client, form);
  const { resource } = publicUrls(deps.config);
  const issued =
    grantType === 'authorization_code'
      ? await exchangeCode(deps, client, form, resource)
      : await exchangeRefreshToken(deps, client, form, resource);
  const { signer } = await deps.auth();
  const scope = issued.scopes.join(' ');
  const access = await signer.sign({
    sub: issued.sub,
    aud: resource,
    client_id: client.clientId,
    scope,
    gid: issued.grantId,
    ttlSeconds: deps.config.ACCESS_TOKEN_TTL_SECONDS,
  });
  res.status(200).json({
    access_token: access.token,
    token_type: 'Bearer',
    expires_in: deps.config.ACCESS_TOKEN_TTL_SECONDS,
    ...(issued.refreshToken ? { refresh_token: issued.refreshToken } : {}),
    scope,
  });
}

/** RFC 7009: always 200 for a well-formed request; another client's token is left alone (H20). */
export async function handleRevoke(deps: TokenEndpointDeps, req: Request, res: Response): Promise<void> {
  res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  const form = readForm(req);
  const client = await authenticateClient(deps, req, form);
  if (!form.token) throw new OAuthError('invalid_request', 'token is required.');
  const { signer } = await deps.auth();
  const db = await deps.db();
  let grantId: string | undefined;
  const refresh = await findRefreshToken(db, form.token);
  if (refresh?.clientId === client.clientId) grantId = refresh.grantId;
  if (!grantId && form.token.split('.').length === 3) {
    const verified = await signer
      .verify(form.token, { audience: publicUrls(deps.config).resource })
      .catch(() => undefined);
    if (verified?.clientId === client.clientId) grantId = verified.grantId;
  }
  if (grantId) await endGrant(deps, { grantId, clientId: client.clientId }, 'client_request');
  res.status(200).end();
}
