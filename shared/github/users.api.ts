/**
 * Who the token belongs to: `GET /user`. Called after every sign-in (GitHub:
 * "use the token to revalidate the user's identity"), and by tools that show it.
 * @module
 */
import type { GitHubClient } from './client.js';
import { UserSchema, type GitHubUserSummary } from './types.js';

export async function whoAmI(client: GitHubClient): Promise<GitHubUserSummary> {
  const { data } = await client.get({ path: ['user'], route: '/user' }, UserSchema);
  return { login: data.login, id: data.id, name: data.name ?? null, htmlUrl: data.html_url };
}
