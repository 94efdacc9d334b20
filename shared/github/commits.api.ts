/**
 * One commit: `GET /repos/{owner}/{repo}/commits/{ref}` by SHA (or unique prefix)
 * or branch. GitHub answers an unknown ref with 422 "No commit found for SHA";
 * that becomes github_not_found here, the same as an unknown repository.
 * @module
 */
import type { GitHubClient } from './client.js';
import { GitHubApiError } from './errors.js';
import { assertRef, splitRepo } from './refs.js';
import { CommitSchema, type CommitDetail } from './types.js';

export async function getCommit(
  client: GitHubClient,
  input: { readonly repo: string; readonly ref: string },
): Promise<CommitDetail> {
  const [owner, name] = splitRepo(input.repo);
  assertRef(input.ref);
  let data;
  try {
    // The ref is one path segment: a branch's `/` is sent as %2F, as GitHub asks of path parameters.
    ({ data } = await client.get(
      { path: ['repos', owner, name, 'commits', input.ref], route: '/repos/{owner}/{repo}/commits/{ref}' },
      CommitSchema,
    ));
  } catch (err) {
    if (err instanceof GitHubApiError && err.code === 'github_validation_failed')
      throw new GitHubApiError('github_not_found', {
        status: 422,
        ...(err.githubMessage ? { githubMessage: err.githubMessage } : {}),
        cause: err,
      });
    throw err;
  }
  return {
    repo: `${owner}/${name}`,
    sha: data.sha,
    message: data.commit.message,
    htmlUrl: data.html_url,
    authorName: data.commit.author?.name ?? null,
    authorLogin: data.author?.login ?? null,
    authoredAt: data.commit.author?.date ?? null,
    parents: data.parents.map((p) => p.sha),
    additions: data.stats?.additions,
    deletions: data.stats?.deletions,
  };
}
