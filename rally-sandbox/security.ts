/**
 * The legacy security token (rally-api.md §2.11): `GET /security/authorize`
 * hands out a token that Basic-authenticated writes must send as `?key=`.
 * API keys and OAuth tokens (ZSESSIONID) never need it.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { json, type Reply } from './http.js';

export class SecurityTokens {
  private readonly byToken = new Map<string, string>();

  /** A fresh token for `login`; earlier ones stay valid (Rally ties them to the session, unverified). */
  issue(login: string): string {
    const token = randomBytes(24).toString('base64url');
    this.byToken.set(token, login);
    return token;
  }

  valid(token: string | null, login: string): boolean {
    return token !== null && this.byToken.get(token) === login;
  }

  clear(): void {
    this.byToken.clear();
  }
}

/** A Basic-auth write without a valid `key`: HTTP 200, the error inside the envelope of the operation. */
export function invalidKey(sub: string): Reply {
  const envelope = /\/create\/?$/i.test(sub) ? 'CreateResult' : 'OperationResult';
  return json(200, {
    [envelope]: {
      _rallyAPIMajor: '2',
      _rallyAPIMinor: '0',
      Errors: ['Not authorized to perform action: Invalid key'],
      Warnings: [],
    },
  });
}
