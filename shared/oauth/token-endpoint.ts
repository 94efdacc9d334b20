/**
 * POST /token (authorization_code with PKCE, refresh_token with rotation)
 * and POST /revoke (RFC 7009). Every answer carries Cache-Control: no-store (H17).
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import type { Request, Response } from '@google-cloud/functions-framework';
import { publicUrls } from '../config/config.js';
import type { Deps } from '../app/deps.js';
import { addSeconds } from '../app/clock.js';
import { randomToken, sha256Id } from '../crypto/hash.js';
import { redeemAuthCode } from '../storage/auth-codes.repo.js';
import { createRefreshToken, findRefreshToken, rotateRefreshToken } from '../storage/refresh-tokens.repo.js';
import { revokeGrant } from '../storage/grants.repo.js';
import type { RegisteredClient } from '../storage/clients.repo.js';
import { resolveClient } from './clients.js';
import { OAuthError } from './errors.js';
import { formParams } from './params.js';
import { pkceChallenge } from './rally-oauth.js';
import { parseScopes } from './scopes.js';

const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

interface ClientCredentials {
  readonly clientId: string | undefined;
  readonly secret: string | undefined;
  readonly usedBasic: boolean;
}

function credentials(req: Request, form: Record<string, string>): ClientCredentials {
  const header = req.get('authorization');
  if (header?.toLowerCase().startsWith('basic ')) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) throw new OAuthError('invalid_client', 'Malformed Basic credentials.');
    return { clientId: decodeURIComponent(decoded.slice(0, i)), secret: decodeURIComponent(decoded.slice(i + 1)), usedBasic: true };
  }
  return { clientId: form.client_id, secret: form.client_secret, usedBasic: false };
}

/** Authenticates the client (H13: a bad secret is invalid_client, and nothing is consumed). */
async function authenticateClient(deps: Deps, req: Request, form: Record<string, string>): Promise<RegisteredClient> {
  const creds = credentials(req, form);
  const db = await deps.db();
  const client = creds.clientId
    ? await resolveClient(creds.clientId, { db, now: deps.clock.now(), allowLoopbackCimd: deps.config.DANGEROUSLY_ALLOW_LOOPBACK_CIMD })
    : undefined;
  if (!client) throw new OAuthError('invalid_client', 'Unknown client.');
  if (client.tokenEndpointAuthMethod !== 'none') {
    const given = Buffer.from(sha256Id(creds.secret ?? ''));
    const expected = Buffer.from(client.clientSecretHash ?? '');
    if (!creds.secret || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new OAuthError('invalid_client', 'Client authentication failed.', creds.usedBasic ? { status: 401 } : {});
    }
  }
  return client;
}

function readForm(req: Request): Record<string, string> {
  const form = formParams(req);
  if (!form) throw new OAuthError('invalid_request', 'The body must be application/x-www-form-urlencoded.');
  if (!form.ok) throw new OAuthError('invalid_request', `The parameter "${form.duplicate}" appears more than once.`);
  return form.values;
}

export async function handleToken(deps: Deps, req: Request, res: Response): Promise<void> {
  res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  const form = readForm(req);
  const client = await authenticateClient(deps, req, form);
  const { signer } = await deps.auth();
  const db = await deps.db();
  const { resource } = publicUrls(deps.config);
  const now = deps.clock.now();

  let grantId: string;
  let sub: string;
  let scopes: string[];
  let refreshToken: string;
  if (form.grant_type === 'authorization_code') {
    if (!form.code || !form.redirect_uri) throw new OAuthError('invalid_request', 'code and redirect_uri are required.');
    if (form.resource !== undefined && form.resource !== resource) throw new OAuthError('invalid_target', `resource must be ${resource}.`);
    const redeemed = await redeemAuthCode(db, form.code, now);
    if (!redeemed.ok) {
      if (redeemed.reason === 'reused') {
        await revokeGrant(db, redeemed.grantId, now); // H14: the first redemption's tokens stop working
        deps.audit('token_revoked', { reason: 'code_reuse', clientId: client.clientId, grantId: redeemed.grantId });
      }
      throw new OAuthError('invalid_grant', 'The authorization code is invalid, expired or already used.', { internal: redeemed.reason });
    }
    const code = redeemed.code;
    if (code.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'The authorization code was issued to another client.');
    if (code.redirectUri !== form.redirect_uri) throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request.');
    if (!form.code_verifier || !VERIFIER.test(form.code_verifier) || pkceChallenge(form.code_verifier) !== code.codeChallenge) {
      throw new OAuthError('invalid_grant', 'PKCE verification failed.');
    }
    grantId = code.grantId;
    sub = code.sub;
    scopes = code.scopes;
    refreshToken = randomToken(32);
    await createRefreshToken(db, refreshToken, {
      grantId, sub, clientId: client.clientId, scopes, createdAt: now, expiresAt: addSeconds(now, deps.config.REFRESH_TOKEN_TTL_SECONDS),
    });
    deps.audit('token_issued', { clientId: client.clientId, sub, grantId });
  } else if (form.grant_type === 'refresh_token') {
    if (!form.refresh_token) throw new OAuthError('invalid_request', 'refresh_token is required.');
    if (form.resource !== undefined && form.resource !== resource) throw new OAuthError('invalid_target', `resource must be ${resource}.`);
    refreshToken = randomToken(32);
    const rotated = await rotateRefreshToken(db, form.refresh_token, refreshToken, {
      clientId: client.clientId, now, graceSeconds: deps.config.REFRESH_GRACE_SECONDS, ttlSeconds: deps.config.REFRESH_TOKEN_TTL_SECONDS,
    });
    if (!rotated.ok) {
      if (rotated.reason === 'reused') deps.audit('token_revoked', { reason: 'refresh_reuse', clientId: client.clientId, grantId: rotated.grantId });
      throw new OAuthError('invalid_grant', 'The refresh token is invalid, expired or revoked.', { internal: rotated.reason });
    }
    grantId = rotated.record.grantId;
    sub = rotated.record.sub;
    scopes = rotated.record.scopes;
    if (form.scope !== undefined) {
      const wanted = parseScopes(form.scope);
      if (!wanted || !wanted.every((s) => scopes.includes(s))) throw new OAuthError('invalid_scope', 'A refresh cannot add scopes.');
      scopes = wanted;
    }
    deps.audit('token_refreshed', { clientId: client.clientId, sub, grantId });
  } else {
    throw new OAuthError('unsupported_grant_type', 'grant_type must be authorization_code or refresh_token.');
  }
  const access = await signer.sign({
    sub, aud: resource, client_id: client.clientId, scope: scopes.join(' '), gid: grantId, ttlSeconds: deps.config.ACCESS_TOKEN_TTL_SECONDS,
  });
  res.status(200).json({
    access_token: access.token,
    token_type: 'Bearer',
    expires_in: deps.config.ACCESS_TOKEN_TTL_SECONDS,
    refresh_token: refreshToken,
    scope: scopes.join(' '),
  });
}

/** RFC 7009: always 200 for a well-formed request; another client's token is left alone (H20). */
export async function handleRevoke(deps: Deps, req: Request, res: Response): Promise<void> {
  res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  const form = readForm(req);
  const client = await authenticateClient(deps, req, form);
  if (!form.token) throw new OAuthError('invalid_request', 'token is required.');
  const { signer } = await deps.auth();
  const db = await deps.db();
  const now = deps.clock.now();
  let grantId: string | undefined;
  const refresh = await findRefreshToken(db, form.token);
  if (refresh?.clientId === client.clientId) grantId = refresh.grantId;
  if (!grantId && form.token.split('.').length === 3) {
    const verified = await signer.verify(form.token, { audience: publicUrls(deps.config).resource }).catch(() => undefined);
    if (verified?.clientId === client.clientId) grantId = verified.grantId;
  }
  if (grantId && (await revokeGrant(db, grantId, now))) {
    deps.audit('token_revoked', { reason: 'client_request', clientId: client.clientId, grantId });
  }
  res.status(200).end();
}
