/**
 * Who is calling /mcp: a verified bearer token of ours (default mode), a
 * connection token of a headless agent (issue 18: as a bearer or in the
 * X-Rally-MCP-Token header; ./connection-auth.ts), or, when session-link
 * mode is on and no bearer is sent, a session header.
 * Failures become 401/403 with WWW-Authenticate (RFC 6750 §3, RFC 9728 §5.1).
 * @module
 */
import type { Request } from '@google-cloud/functions-framework';
import { publicUrls } from '../config/config.js';
import type { Deps } from '../services/deps.js';
import type { AuthServices } from '../services/auth-services.js';
import { AccessTokenError, type VerifiedAccessToken } from '../crypto/access-token.js';
import { SCOPES } from '../oauth-as/scopes.js';
import { readSessionHeader, type SessionCredential } from '../http/session-id.js';
import { CodedError, type McpAuthErrorCode } from '../kernel/errors.js';
import { looksLikeConnectionToken } from '../crypto/connection-token.js';
import { CONNECTION_TOKEN_HEADER, verifyConnectionToken, type ConnectionTokenLimits } from './connection-auth.js';

export type McpPrincipal =
  | {
      readonly kind: 'grant';
      readonly token: VerifiedAccessToken;
      /** Set when the caller presented a connection token (issue 18) instead of an access token. */
      readonly connection?: ConnectionTokenLimits;
    }
  | { readonly kind: 'session'; readonly session: SessionCredential };

/** A refusal at the HTTP layer, before any MCP processing. */
export class McpAuthError extends CodedError<McpAuthErrorCode> {
  readonly status: 401 | 403 | 400;
  readonly wwwAuthenticate: string | undefined;
  readonly publicMessage: string;
  constructor(code: McpAuthErrorCode, status: 401 | 403 | 400, publicMessage: string, wwwAuthenticate?: string) {
    super(code, code);
    this.name = 'McpAuthError';
    this.status = status;
    this.publicMessage = publicMessage;
    this.wwwAuthenticate = wwwAuthenticate;
  }
}

const q = (s: string) => `"${s.replace(/["\\]/g, '')}"`;

export function challenge(deps: Pick<Deps, 'config'>, params: Record<string, string> = {}): string {
  const all = { ...params, resource_metadata: publicUrls(deps.config).resourceMetadata };
  return `Bearer ${Object.entries(all)
    .map(([k, v]) => `${k}=${q(v)}`)
    .join(', ')}`;
}

/** What authenticating a caller uses (the instance's services satisfy it). */
export interface AuthenticateDeps extends Pick<
  Deps,
  'config' | 'audit' | 'clock' | 'documents' | 'db' | 'log' | 'limitAddress' | 'checkAddress'
> {
  auth(): Promise<Pick<AuthServices, 'signer'>>;
}

const invalidToken = (deps: Pick<Deps, 'config'>) =>
  new McpAuthError(
    'invalid_token',
    401,
    'The access token is invalid or expired.',
    challenge(deps, { error: 'invalid_token', error_description: 'The access token is invalid or expired' }),
  );

/** Refusals that look like guessing (O24); a revoked or expired token is a known one, and `off` no lookup. */
const GUESSES: ReadonlySet<string> = new Set(['malformed', 'unknown', 'secret']);

/**
 * A connection token, from `Authorization: Bearer` or the plain header: a grant principal, or the 401.
 * O24: an address over its limit of failed lookups is refused (429) before any lookup, and each
 * guess counts against it (the one that crosses the limit gets the 429 too).
 */
async function connectionPrincipal(deps: AuthenticateDeps, presented: string): Promise<McpPrincipal> {
  deps.checkAddress('connection_token_failure');
  const verified = await verifyConnectionToken(deps, presented);
  if (verified.kind === 'ok') return { kind: 'grant', token: verified.token, connection: verified.connection };
  deps.audit('access_denied', { reason: `connection_token_${verified.reason}` });
  if (GUESSES.has(verified.reason)) deps.limitAddress('connection_token_failure');
  throw invalidToken(deps);
}

/**
 * MCP 2026-07-28 forbids sessions as authentication ("MUST NOT use sessions for authentication")
 * and removed the session header: such a request with a session id and no bearer gets the same
 * 401 + OAuth challenge as one without, and a message that says why (README, "Session-link mode").
 */
const SESSION_LINK_NOT_SERVED =
  'Sign-in required. Session-link mode serves MCP 2025 clients only: under MCP 2026-07-28 a session id is not a sign-in, so sign in with OAuth.';

export interface AuthenticateOptions {
  /** Whether a session-link session may stand in for a bearer token (false for 2026-07-28 requests). */
  readonly sessions: boolean;
}

export async function authenticate(
  deps: AuthenticateDeps,
  req: Request,
  options: AuthenticateOptions = { sessions: true },
): Promise<McpPrincipal> {
  const header = req.get('authorization');
  const plain = req.get(CONNECTION_TOKEN_HEADER)?.trim();
  if (header !== undefined || plain !== undefined) {
    const bearer = header === undefined ? plain : /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim())?.[1];
    if (bearer === undefined || bearer === '') {
      throw new McpAuthError(
        'invalid_token',
        401,
        'Malformed Authorization header.',
        challenge(deps, { error: 'invalid_token', error_description: 'Malformed bearer token' }),
      );
    }
    if (plain !== undefined && plain !== bearer) {
      // O7: two different credentials in one request: which one counts would be a guess (RFC 6750 §3.1).
      deps.audit('access_denied', { reason: 'conflicting_credentials' });
      throw new McpAuthError(
        'invalid_token',
        400,
        'Send one credential: Authorization and X-Rally-MCP-Token differ.',
        challenge(deps, { error: 'invalid_request', error_description: 'Conflicting credentials' }),
      );
    }
    if (looksLikeConnectionToken(bearer) || plain !== undefined) return connectionPrincipal(deps, bearer);
    const { signer } = await deps.auth();
    try {
      const token = await signer.verify(bearer, { audience: publicUrls(deps.config).resource });
      return { kind: 'grant', token };
    } catch (err) {
      if (!(err instanceof AccessTokenError)) throw err; // e.g. Secret Manager down → 503, not 401
      deps.audit('access_denied', { reason: `token_${err.reason}` });
      throw new McpAuthError(
        'invalid_token',
        401,
        'The access token is invalid or expired.',
        challenge(deps, { error: 'invalid_token', error_description: 'The access token is invalid or expired' }),
      );
    }
  }
  if (deps.config.SESSION_LINK_MODE && !options.sessions) {
    if ((await readSessionHeader(req)).kind !== 'none')
      throw new McpAuthError(
        'missing_token',
        401,
        SESSION_LINK_NOT_SERVED,
        challenge(deps, { scope: SCOPES.join(' ') }),
      );
  } else if (deps.config.SESSION_LINK_MODE) {
    const session = await readSessionHeader(req);
    if (session.kind === 'ok') return { kind: 'session', session: session.credential };
    if (session.kind === 'weak') throw new McpAuthError('invalid_session', 400, session.message);
  }
  throw new McpAuthError('missing_token', 401, 'Sign-in required.', challenge(deps, { scope: SCOPES.join(' ') }));
}
