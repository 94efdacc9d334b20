/**
 * Our side of GitHub OAuth (docs/github-api.md §2), mirroring shared/rally/oauth.ts:
 * the authorize URL (pure, from configuration only, PKCE S256 always), and the
 * token requests, with request building and response parsing kept apart.
 * GitHub's quirk: a refused token request is HTTP 200 with an `error` field.
 * One parser serves both kinds of app: an OAuth App's token never expires and
 * has no refresh token; a GitHub App's expiring user token comes with a
 * single-use refresh token.
 * @module
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { addSeconds } from '../kernel/clock.js';
import type { FetchLike } from '../kernel/fetch.js';
import { CodedError } from '../kernel/errors.js';

export interface GitHubOAuthConfig {
  /** Where the browser signs in and the token endpoint lives: https://github.com (or a GHES host). Never from input. */
  readonly authorizeBaseUrl: string;
  /** The REST API: https://api.github.com (GHES: https://HOST/api/v3). Used here only to revoke. */
  readonly apiBaseUrl: string;
  readonly clientId: string;
  /** Our callback, exactly as registered (a GitHub App compares it exactly). */
  readonly redirectUri: string;
  /** OAuth App scopes, e.g. ['repo', 'read:user']; a GitHub App ignores them (send [] or the same list). */
  readonly scopes: readonly string[];
  readonly timeoutMs: number;
}

export interface GitHubTokens {
  readonly accessToken: string;
  /** A GitHub App's refresh token (single use); undefined for an OAuth App. */
  readonly refreshToken: string | undefined;
  /** Undefined: the token does not expire (OAuth App, or a GitHub App that opted out of expiry). */
  readonly accessExpiresAt: Date | undefined;
  readonly refreshExpiresAt: Date | undefined;
  /**
   * The scopes GitHub granted, comma-separated as GitHub writes them ("repo,read:user"); "" for a GitHub App.
   * The user may have granted fewer than we asked for.
   */
  readonly scope?: string;
}

export class GitHubRefreshRejected extends CodedError<'github_refresh_rejected'> {
  constructor() {
    super('github_refresh_rejected', 'GitHub rejected the refresh token');
    this.name = 'GitHubRefreshRejected';
  }
}

export class GitHubTokenResponseError extends CodedError<'github_token_response_invalid'> {
  constructor(
    readonly status: number,
    /** GitHub's `error` (bad_verification_code, incorrect_client_credentials, redirect_uri_mismatch, bad_refresh_token, …). */
    readonly oauthError: string | undefined,
  ) {
    super(
      'github_token_response_invalid',
      `GitHub token endpoint answered ${status}${oauthError ? ` (${oauthError})` : ''}`,
    );
    this.name = 'GitHubTokenResponseError';
  }
}

export const githubPkceChallenge = (verifier: string): string =>
  createHash('sha256').update(verifier).digest('base64url');

const SCOPE = /^[a-z_]+(?::[a-z_]+)?$/;

/** client_id, exact redirect_uri, scope (space-separated), fresh state, PKCE S256 (GitHub supports S256 only). */
export function buildGitHubAuthorizeUrl(c: GitHubOAuthConfig, state: string, verifier: string): string {
  for (const s of c.scopes) if (!SCOPE.test(s)) throw new Error(`invalid GitHub scope in configuration: ${s}`);
  const url = new URL('/login/oauth/authorize', c.authorizeBaseUrl);
  url.searchParams.set('client_id', c.clientId);
  url.searchParams.set('redirect_uri', c.redirectUri);
  if (c.scopes.length) url.searchParams.set('scope', c.scopes.join(' '));
  url.searchParams.set('state', state);
  url.searchParams.set('code_challenge', githubPkceChallenge(verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  return url.toString();
}

const TEN_YEARS = 10 * 365 * 86_400;
const Seconds = z
  .union([z.number(), z.string().regex(/^\d+$/).transform(Number)])
  .pipe(z.number().int().positive().max(TEN_YEARS));

const TokenBody = z.object({
  access_token: z.string().min(1).max(4096),
  token_type: z.string().refine((t) => t.toLowerCase() === 'bearer', 'token_type must be bearer'),
  scope: z.string().max(4096).optional(),
  expires_in: Seconds.optional(),
  refresh_token: z.string().min(1).max(4096).optional(),
  refresh_token_expires_in: Seconds.optional(),
});

/** GitHub's error answer (status 200 or not): only `error` is read; its description is GitHub's text. */
const ErrorBody = z.object({ error: z.string().regex(/^[a-z_]{1,64}$/) });

/**
 * Anything but a 200 JSON body with a bearer access token, sane lifetimes and no `error` is a failure.
 * A refresh token without a lifetime, or a lifetime without a refresh token, is accepted as given.
 */
export async function parseGitHubTokenResponse(res: Response, now: Date): Promise<GitHubTokens> {
  const text = await res.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const err = ErrorBody.safeParse(body);
  if (res.status !== 200 || err.success) {
    throw new GitHubTokenResponseError(res.status, err.success ? err.data.error : undefined);
  }
  const parsed = TokenBody.safeParse(body);
  if (!parsed.success) throw new GitHubTokenResponseError(res.status, 'invalid_response');
  const t = parsed.data;
  return {
    accessToken: t.access_token,
    refreshToken: t.refresh_token,
    accessExpiresAt: t.expires_in === undefined ? undefined : addSeconds(now, t.expires_in),
    refreshExpiresAt:
      t.refresh_token === undefined || t.refresh_token_expires_in === undefined
        ? undefined
        : addSeconds(now, t.refresh_token_expires_in),
    ...(t.scope === undefined ? {} : { scope: t.scope }),
  };
}

function tokenRequest(
  c: GitHubOAuthConfig,
  fetchFn: FetchLike,
  clientSecret: string,
  params: Record<string, string>,
): Promise<Response> {
  const body = new URLSearchParams({ ...params, client_id: c.clientId, client_secret: clientSecret });
  // Only ever the configured token endpoint; never follow a redirect with the secret in hand (B16).
  return fetchFn(new URL('/login/oauth/access_token', c.authorizeBaseUrl), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: body.toString(),
    redirect: 'manual',
    signal: AbortSignal.timeout(c.timeoutMs),
  });
}

export async function exchangeGitHubCode(
  c: GitHubOAuthConfig,
  fetchFn: FetchLike,
  clientSecret: string,
  code: string,
  verifier: string,
  now: () => Date,
): Promise<GitHubTokens> {
  const res = await tokenRequest(c, fetchFn, clientSecret, {
    code,
    redirect_uri: c.redirectUri,
    code_verifier: verifier,
  });
  return parseGitHubTokenResponse(res, now());
}

/**
 * Refresh (GitHub App user tokens): the refresh token is single use and the old access token dies with it.
 * `bad_refresh_token` (used, expired, revoked) becomes GitHubRefreshRejected so the store can re-read and re-link.
 */
export async function refreshGitHubTokens(
  c: GitHubOAuthConfig,
  fetchFn: FetchLike,
  clientSecret: string,
  refreshToken: string,
  now: () => Date,
): Promise<GitHubTokens> {
  const res = await tokenRequest(c, fetchFn, clientSecret, {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
  });
  try {
    return await parseGitHubTokenResponse(res, now());
  } catch (err) {
    if (err instanceof GitHubTokenResponseError && err.oauthError === 'bad_refresh_token')
      throw new GitHubRefreshRejected();
    throw err;
  }
}

/**
 * Deletes the user's whole authorization of our app (`DELETE /applications/{client_id}/grant`, Basic
 * client_id:client_secret): every token of theirs for the app stops working. True on 204, false when GitHub
 * no longer knows the token (404); throws on anything else.
 */
export async function revokeGitHubGrant(
  c: GitHubOAuthConfig,
  fetchFn: FetchLike,
  clientSecret: string,
  accessToken: string,
  userAgent: string,
): Promise<boolean> {
  const base = c.apiBaseUrl.replace(/\/+$/, '');
  const res = await fetchFn(`${base}/applications/${encodeURIComponent(c.clientId)}/grant`, {
    method: 'DELETE',
    headers: {
      Authorization: `Basic ${Buffer.from(`${c.clientId}:${clientSecret}`).toString('base64')}`,
      Accept: 'application/vnd.github+json',
      'Content-Type': 'application/json',
      'X-GitHub-Api-Version': '2022-11-28',
      'User-Agent': userAgent,
    },
    body: JSON.stringify({ access_token: accessToken }),
    redirect: 'manual',
    signal: AbortSignal.timeout(c.timeoutMs),
  });
  await res.body?.cancel().catch(() => undefined);
  if (res.status === 204) return true;
  if (res.status === 404) return false;
  throw new GitHubTokenResponseError(res.status, undefined);
}
