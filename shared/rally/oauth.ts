/**
 * Our side of Rally OAuth 2.0 (rally-api.md §2): building the authorize URL
 * (pure, from configuration only — A4/A5), and the token requests, with
 * request building and response parsing kept apart (B14, B16).
 * @module
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { addSeconds } from '../kernel/clock.js';
import type { FetchLike } from '../kernel/fetch.js';
import { CodedError } from '../kernel/errors.js';

export interface RallyTokens {
  readonly accessToken: string;
  readonly refreshToken: string | undefined;
  readonly accessExpiresAt: Date;
}

export class RallyRefreshRejected extends CodedError<'rally_refresh_rejected'> {
  constructor() {
    super('rally_refresh_rejected', 'Rally rejected the refresh token');
    this.name = 'RallyRefreshRejected';
  }
}

export const RALLY_SCOPE = 'alm';

export interface RallyOAuthConfig {
  readonly baseUrl: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly usePkce: boolean;
  readonly timeoutMs: number;
}

export const pkceChallenge = (verifier: string): string => createHash('sha256').update(verifier).digest('base64url');

/** A1: response_type=code, scope=alm, our client id and exact redirect URI, fresh state, PKCE S256. */
export function buildRallyAuthorizeUrl(c: RallyOAuthConfig, state: string, verifier: string): string {
  const url = new URL('/login/oauth2/auth', c.baseUrl);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', c.clientId);
  url.searchParams.set('redirect_uri', c.redirectUri);
  url.searchParams.set('scope', RALLY_SCOPE);
  url.searchParams.set('state', state);
  if (c.usePkce) {
    url.searchParams.set('code_challenge', pkceChallenge(verifier));
    url.searchParams.set('code_challenge_method', 'S256');
  }
  return url.toString();
}

const TokenBody = z.object({
  access_token: z.string().min(1).max(4096),
  token_type: z.string().refine((t) => t.toLowerCase() === 'bearer', 'token_type must be Bearer'),
  expires_in: z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]).pipe(
    z
      .number()
      .int()
      .nonnegative()
      .max(10 * 365 * 86_400),
  ),
  refresh_token: z.string().min(1).max(4096).optional(),
});

export class RallyTokenResponseError extends CodedError<'rally_token_response_invalid'> {
  constructor(
    readonly status: number,
    readonly oauthError: string | undefined,
  ) {
    super(
      'rally_token_response_invalid',
      `Rally token endpoint answered ${status}${oauthError ? ` (${oauthError})` : ''}`,
    );
    this.name = 'RallyTokenResponseError';
  }
}

/** B14: anything but a 200 JSON body with a Bearer access token and sane expiry is a failure. */
export async function parseRallyTokenResponse(res: Response, now: Date): Promise<RallyTokens> {
  const text = await res.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (res.status !== 200) {
    const err = z.object({ error: z.string().max(100) }).safeParse(body);
    throw new RallyTokenResponseError(res.status, err.success ? err.data.error : undefined);
  }
  const parsed = TokenBody.safeParse(body);
  if (!parsed.success) throw new RallyTokenResponseError(res.status, 'invalid_response');
  return {
    accessToken: parsed.data.access_token,
    refreshToken: parsed.data.refresh_token,
    accessExpiresAt: addSeconds(now, parsed.data.expires_in),
  };
}

function tokenRequest(
  c: RallyOAuthConfig,
  fetchFn: FetchLike,
  clientSecret: string,
  params: Record<string, string>,
): Promise<Response> {
  const body = new URLSearchParams({ ...params, client_id: c.clientId, client_secret: clientSecret });
  // B16: only ever the configured token endpoint; never follow a redirect with the secret in hand.
  return fetchFn(new URL('/login/oauth2/token', c.baseUrl), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body,
    redirect: 'manual',
    signal: AbortSignal.timeout(c.timeoutMs),
  });
}

export async function exchangeRallyCode(
  c: RallyOAuthConfig,
  fetchFn: FetchLike,
  clientSecret: string,
  code: string,
  verifier: string,
  now: () => Date,
): Promise<RallyTokens> {
  const params: Record<string, string> = { grant_type: 'authorization_code', code, redirect_uri: c.redirectUri };
  if (c.usePkce) params.code_verifier = verifier;
  return parseRallyTokenResponse(await tokenRequest(c, fetchFn, clientSecret, params), now());
}

/** Refresh; `invalid_grant` becomes RallyRefreshRejected so the store can re-read and re-link (D3). */
export async function refreshRallyTokens(
  c: RallyOAuthConfig,
  fetchFn: FetchLike,
  clientSecret: string,
  refreshToken: string,
  now: () => Date,
): Promise<RallyTokens> {
  const res = await tokenRequest(c, fetchFn, clientSecret, {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
  });
  try {
    return await parseRallyTokenResponse(res, now());
  } catch (err) {
    if (err instanceof RallyTokenResponseError && err.oauthError === 'invalid_grant') throw new RallyRefreshRejected();
    throw err;
  }
}
