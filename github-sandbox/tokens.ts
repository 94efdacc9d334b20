/**
 * OAuth state, in memory, with expiry from the injected clock: sign-ins in
 * progress, authorization codes, each user's authorization of the app, access
 * tokens and refresh tokens, in either token mode (docs/github-api.md §2).
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { GitHubIssuedTokens, GitHubTokenMode } from './types.js';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomAlnum(length: number): string {
  let out = '';
  for (const b of randomBytes(length)) out += ALNUM[b % ALNUM.length];
  return out;
}

/** An authorize request waiting for sign-in and the authorize decision. */
export interface SignInTx {
  readonly id: string;
  /** The callback the code goes to: the given redirect_uri, or the app's default callback. */
  readonly redirectUri: string;
  readonly state: string | null;
  /** Requested scopes (OAuth App mode), normalised; empty in GitHub App mode. */
  readonly scopes: readonly string[];
  readonly scopeGiven: boolean;
  readonly codeChallenge: string | null;
  readonly login: string | null;
  readonly expiresAt: number;
  /** Set once the password check passed. */
  user?: string;
}

export interface CodeRec {
  readonly login: string;
  readonly redirectUri: string;
  readonly codeChallenge: string | null;
  readonly scopes: readonly string[];
  readonly expiresAt: number;
}

export interface AccessRec {
  readonly login: string;
  readonly scopes: readonly string[];
  /** Undefined: never expires (OAuth App tokens). */
  expiresAt: number | undefined;
  readonly createdAt: number;
  /** The refresh token issued with it (GitHub App mode). */
  readonly refresh?: string;
}

export interface RefreshRec {
  readonly login: string;
  readonly scopes: readonly string[];
  readonly access: string;
  readonly expiresAt: number;
}

export interface TokenSettings {
  readonly mode: GitHubTokenMode;
  readonly accessTtl: number;
  readonly refreshTtl: number;
  readonly codeTtl: number;
}

const TX_TTL_MS = 10 * 60_000;
/** "A limit of ten tokens that are issued per user/application/scope combination" (docs/github-api.md §2.5). */
export const OAUTH_APP_TOKEN_LIMIT = 10;

export class TokenState {
  readonly txs = new Map<string, SignInTx>();
  readonly codes = new Map<string, CodeRec>();
  /** login → the scopes the user has authorized the app for (GitHub App mode: an empty set). */
  readonly authorizations = new Map<string, Set<string>>();
  readonly access = new Map<string, AccessRec>();
  readonly refresh = new Map<string, RefreshRec>();

  constructor(
    readonly settings: TokenSettings,
    private readonly now: () => number,
  ) {}

  clear(): void {
    this.txs.clear();
    this.codes.clear();
    this.authorizations.clear();
    this.access.clear();
    this.refresh.clear();
  }

  startTx(fields: Omit<SignInTx, 'id' | 'expiresAt'>): SignInTx {
    const tx: SignInTx = { ...fields, id: randomBytes(16).toString('hex'), expiresAt: this.now() + TX_TTL_MS };
    this.txs.set(tx.id, tx);
    return tx;
  }

  liveTx(id: string): SignInTx | undefined {
    const tx = this.txs.get(id);
    return tx && tx.expiresAt > this.now() ? tx : undefined;
  }

  /** Whether an earlier authorization covers this request, so GitHub skips the authorize page. */
  covers(login: string, tx: SignInTx): boolean {
    const granted = this.authorizations.get(login);
    if (!granted) return false;
    return tx.scopes.every((s) => granted.has(s));
  }

  /** The scopes a token from this sign-in carries: the request's, or (none given) everything authorized before. */
  scopesFor(login: string, tx: SignInTx): readonly string[] {
    if (this.settings.mode === 'github-app') return [];
    if (!tx.scopeGiven) return [...(this.authorizations.get(login) ?? [])].sort();
    return tx.scopes;
  }

  authorize(login: string, scopes: readonly string[]): void {
    const granted = this.authorizations.get(login) ?? new Set<string>();
    for (const s of scopes) granted.add(s);
    this.authorizations.set(login, granted);
  }

  /** Single use: the sign-in is consumed, a replayed form post finds nothing. */
  issueCode(tx: SignInTx, login: string, scopes: readonly string[]): string {
    this.txs.delete(tx.id);
    const code = randomBytes(10).toString('hex');
    this.codes.set(code, {
      login,
      redirectUri: tx.redirectUri,
      codeChallenge: tx.codeChallenge,
      scopes,
      expiresAt: this.now() + this.settings.codeTtl * 1000,
    });
    return code;
  }

  /** Removes the code whatever happens next: codes are single use. */
  takeCode(code: string): CodeRec | undefined {
    const rec = this.codes.get(code);
    this.codes.delete(code);
    return rec && rec.expiresAt > this.now() ? rec : undefined;
  }

  /** A token answer for `login` in this mode; registers the tokens. */
  issue(login: string, scopes: readonly string[]): GitHubIssuedTokens {
    const now = this.now();
    if (this.settings.mode === 'oauth-app') {
      const token = `gho_${randomAlnum(36)}`;
      this.access.set(token, { login, scopes, expiresAt: undefined, createdAt: now });
      this.enforceTokenLimit(login, scopes);
      return { access_token: token, token_type: 'bearer', scope: scopes.join(',') };
    }
    const token = `ghu_${randomAlnum(36)}`;
    const refresh = `ghr_${randomAlnum(76)}`;
    this.access.set(token, {
      login,
      scopes: [],
      expiresAt: now + this.settings.accessTtl * 1000,
      createdAt: now,
      refresh,
    });
    this.refresh.set(refresh, {
      login,
      scopes: [],
      access: token,
      expiresAt: now + this.settings.refreshTtl * 1000,
    });
    return {
      access_token: token,
      expires_in: this.settings.accessTtl,
      refresh_token: refresh,
      refresh_token_expires_in: this.settings.refreshTtl,
      scope: '',
      token_type: 'bearer',
    };
  }

  /** The eleventh token for one user and scope set revokes the oldest (OAuth Apps only). */
  private enforceTokenLimit(login: string, scopes: readonly string[]): void {
    const key = [...scopes].sort().join(' ');
    const same = [...this.access.entries()]
      .filter(([, r]) => r.login === login && [...r.scopes].sort().join(' ') === key)
      .sort((a, b) => a[1].createdAt - b[1].createdAt);
    for (const [token] of same.slice(0, Math.max(0, same.length - OAUTH_APP_TOKEN_LIMIT))) this.access.delete(token);
  }

  /**
   * `grant_type=refresh_token`: a new token pair. "Once you use a refresh token, that refresh
   * token and the old user access token will no longer work" (docs/github-api.md §2.4).
   */
  refreshWith(refreshToken: string): GitHubIssuedTokens | undefined {
    const rec = this.refresh.get(refreshToken);
    if (!rec || rec.expiresAt <= this.now() || !this.authorizations.has(rec.login)) return undefined;
    this.refresh.delete(refreshToken);
    this.access.delete(rec.access);
    return this.issue(rec.login, rec.scopes);
  }

  /** The user and scopes an access token acts for, or undefined (unknown, expired, revoked). */
  accessOf(token: string): AccessRec | undefined {
    const rec = this.access.get(token);
    if (!rec) return undefined;
    if (rec.expiresAt !== undefined && rec.expiresAt <= this.now()) return undefined;
    return rec;
  }

  /** The user revokes the app: its authorization and every token of theirs go. */
  revokeUser(login: string): void {
    this.authorizations.delete(login);
    for (const [t, r] of this.access) if (r.login === login) this.access.delete(t);
    for (const [t, r] of this.refresh) if (r.login === login) this.refresh.delete(t);
  }

  revokeAccess(token: string): boolean {
    const rec = this.access.get(token);
    if (!rec) return false;
    this.access.delete(token);
    if (rec.refresh !== undefined) this.refresh.delete(rec.refresh);
    return true;
  }

  /** Only tokens that expire can be made to expire. */
  expireAccess(login?: string): void {
    const now = this.now();
    for (const r of this.access.values())
      if (r.expiresAt !== undefined && (login === undefined || r.login === login)) r.expiresAt = now;
  }
}
