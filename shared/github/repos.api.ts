/**
 * One repository: `GET /repos/{owner}/{repo}`, for its default branch. A private
 * repository the user cannot see is a 404 (github_not_found), like a missing one.
 * @module
 */
import type { GitHubClient } from './client.js';
import { splitRepo } from './refs.js';
import { RepoSchema, type RepoDetail } from './types.js';

export async function getRepo(client: GitHubClient, input: { readonly repo: string }): Promise<RepoDetail> {
  const [owner, name] = splitRepo(input.repo);
  const { data } = await client.get({ path: ['repos', owner, name], route: '/repos/{owner}/{repo}' }, RepoSchema);
  return {
    fullName: data.full_name,
    private: data.private,
    defaultBranch: data.default_branch,
    htmlUrl: data.html_url,
    description: data.description,
    archived: data.archived ?? false,
  };
}
