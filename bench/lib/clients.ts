/**
 * A benchmark user: signed in to our server through the real OAuth flow, with the sandbox token the
 * baseline sends for the same user, the story it reads, and its WSAPI plan (the requests ours made
 * for it, which the baseline replays). One definition for `npm run bench` and its tracing tools.
 * @module
 */
import type { RallySandbox } from '../../rally-sandbox/types.js';
import { signIn } from '../../test/helpers/oauth-flow.js';

export interface Client {
  readonly user: string;
  /** Our OAuth access token. */
  readonly accessToken: string;
  /** The sandbox token the baseline uses (a fixed ZSESSIONID). */
  readonly rallyToken: string;
  /** A story the user can read (US1 for alice, their first private story otherwise). */
  readonly itemId: string;
  plan: string[][];
}

/** Signs `user` in to our server at `url` and pairs them with their sandbox token and story. */
export async function signInClient(url: string, sandbox: RallySandbox, user: string, itemId: string): Promise<Client> {
  const { accessToken } = await signIn(url, user);
  return { user, accessToken, rallyToken: sandbox.issueTokens(user).access_token, itemId, plan: [] };
}
