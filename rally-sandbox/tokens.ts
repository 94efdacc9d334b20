/**
 * OAuth state: sign-in transactions, authorization codes, grants, access and
 * refresh tokens, all in memory with expiry times from the injected clock.
 * @module
 */
import { randomBytes } from 'node:crypto';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random alphanumeric string (access tokens look like the 42-char sample in rally-api.md §2.4). */
export function randomAlnum(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ALNUM[b % ALNUM.length];
  return out;
}

export const randomHex = (bytes: number): string => randomBytes(bytes).toString('hex');

/** An authorize request waiting for sign-in and consent. */
export interface SignInTx {
  readonly id: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly state: string | null;
  readonly scope: string;
  readonly codeChallenge: string | null;
  readonly codeChallengeMethod: string | null;
  readonly expiresAt: number;
  /** Set once the password check passed. */
  login?: string;
}

export interface CodeRecord {
  readonly login: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly codeChallenge: string | null;
  readonly codeChallengeMethod: string | null;
  readonly expiresAt: number;
}

export interface Grant {
  readonly id: string;
  readonly login: string;
  readonly clientId: string;
  revoked: boolean;
}

export interface TokenRecord {
  readonly login: string;
  readonly grantId: string;
  expiresAt: number;
}

export interface TokenSettings {
  readonly accessTtl: number;
  readonly refreshTtl: number;
  readonly codeTtl: number;
  readonly rotate: boolean;
}

const TX_TTL_MS = 10 * 60_000;

export class TokenState {
  readonly txs = new Map<string, SignInTx>();
  readonly codes = new Map<string, CodeRecord>();
  readonly grants = new Map<string, Grant>();
  readonly access = new Map<string, TokenRecord>();
  readonly refresh = new Map<string, TokenRecord>();

  constructor(
    private readonly settings: TokenSettings,
    private readonly now: () => number,
  ) {}

  clear(): void {
    this.txs.clear();
    this.codes.clear();
    this.grants.clear();
    this.access.clear();
    this.refresh.clear();
  }

  startTx(fields: Omit<SignInTx, 'id' | 'expiresAt'>): SignInTx {
    const tx: SignInTx = { ...fields, id: randomHex(16), expiresAt: this.now() + TX_TTL_MS };
    this.txs.set(tx.id, tx);
    return tx;
  }

  liveTx(id: string): SignInTx | undefined {
    const tx = this.txs.get(id);
    if (!tx || tx.expiresAt <= this.now()) return undefined;
    return tx;
  }

  issueCode(tx: SignInTx, login: string): string {
    this.txs.delete(tx.id); // single use: a replayed form post finds nothing
    const code = randomAlnum(32);
    this.codes.set(code, {
      login,
      clientId: tx.clientId,
      redirectUri: tx.redirectUri,
      codeChallenge: tx.codeChallenge,
      codeChallengeMethod: tx.codeChallengeMethod,
      expiresAt: this.now() + this.settings.codeTtl * 1000,
    });
    return code;
  }

  /** Removes the code whatever happens next: codes are single-use (RFC 6749 §4.1.2). */
  takeCode(code: string): CodeRecord | undefined {
    const rec = this.codes.get(code);
    this.codes.delete(code);
    if (!rec || rec.expiresAt <= this.now()) return undefined;
    return rec;
  }

  newGrant(login: string, clientId: string): Grant {
    const grant: Grant = { id: randomHex(8), login, clientId, revoked: false };
    this.grants.set(grant.id, grant);
    return grant;
  }

  /** Issues an access token and, unless `keepRefresh` is given, a new refresh token. */
  issue(grant: Grant, keepRefresh?: string): { access_token: string; refresh_token: string; expires_in: number } {
    const accessToken = randomAlnum(42);
    const now = this.now();
    this.access.set(accessToken, {
      login: grant.login,
      grantId: grant.id,
      expiresAt: now + this.settings.accessTtl * 1000,
    });
    let refreshToken = keepRefresh;
    if (refreshToken === undefined) {
      refreshToken = randomHex(16);
      this.refresh.set(refreshToken, {
        login: grant.login,
        grantId: grant.id,
        expiresAt: now + this.settings.refreshTtl * 1000,
      });
    }
    return { access_token: accessToken, refresh_token: refreshToken, expires_in: this.settings.accessTtl };
  }

  /** The live refresh record and its grant, or undefined (unknown, expired, revoked). */
  liveRefresh(token: string): { rec: TokenRecord; grant: Grant } | undefined {
    const rec = this.refresh.get(token);
    if (!rec || rec.expiresAt <= this.now()) return undefined;
    const grant = this.grants.get(rec.grantId);
    if (!grant || grant.revoked) return undefined;
    return { rec, grant };
  }

  get rotate(): boolean {
    return this.settings.rotate;
  }

  /** The login an access token acts for, or undefined (unknown, expired, revoked). */
  accessLogin(token: string): string | undefined {
    const rec = this.access.get(token);
    if (!rec || rec.expiresAt <= this.now()) return undefined;
    if (this.grants.get(rec.grantId)?.revoked !== false) return undefined;
    return rec.login;
  }

  expireAccess(login?: string): void {
    const now = this.now();
    for (const rec of this.access.values()) if (login === undefined || rec.login === login) rec.expiresAt = now;
  }

  revoke(login: string): void {
    for (const g of this.grants.values()) if (g.login === login) g.revoked = true;
    for (const [t, rec] of this.access) if (rec.login === login) this.access.delete(t);
    for (const [t, rec] of this.refresh) if (rec.login === login) this.refresh.delete(t);
  }
}
