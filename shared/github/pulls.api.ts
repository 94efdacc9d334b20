/**
 * Pull requests: those that mention a Rally FormattedID (`GET /search/issues`
 * with `is:pr`, the search rate limit: 30 a minute), and one by number
 * (`GET /repos/{owner}/{repo}/pulls/{number}`). The search query is built from
 * validated parts only, so no input adds a qualifier.
 * @module
 */
import type { GitHubClient } from './client.js';
import { GitHubApiError } from './errors.js';
import { assertNumber, repoFromApiUrl, splitRepo } from './refs.js';
import {
  FORMATTED_ID,
  PullRequestSchema,
  SearchIssuesSchema,
  type PullRequestDetail,
  type PullRequestPage,
  type PullRequestStateFilter,
  type PullRequestSummary,
} from './types.js';

export const DEFAULT_PER_PAGE = 30;
export const MAX_PER_PAGE = 100;
/** GitHub serves the first 1000 results of a search, no more. */
export const MAX_SEARCH_RESULTS = 1000;

export interface SearchPullRequestsInput {
  /** A Rally FormattedID, matched as a whole word in the title and body (not in the branch name: see docs/github-api.md §3.5). */
  readonly formattedId: string;
  /** owner/name; every repository the user can see when absent. */
  readonly repo?: string;
  /** Default 'all'. */
  readonly state?: PullRequestStateFilter;
  /** 1-based (default 1). */
  readonly page?: number;
  /** 1–100 (default 30). */
  readonly perPage?: number;
}

const STATE_QUALIFIER: Readonly<Record<PullRequestStateFilter, string | undefined>> = {
  open: 'is:open',
  closed: 'is:closed',
  merged: 'is:merged',
  all: undefined,
};

/** The `q` for a FormattedID search: `US12 is:pr [repo:o/n] [is:open|is:closed|is:merged]`. */
export function pullRequestQuery(input: SearchPullRequestsInput): string {
  if (!FORMATTED_ID.test(input.formattedId))
    throw new GitHubApiError('github_rejected', { cause: new Error('invalid FormattedID') });
  const parts = [input.formattedId, 'is:pr'];
  if (input.repo !== undefined) parts.push(`repo:${splitRepo(input.repo).join('/')}`);
  const state = STATE_QUALIFIER[input.state ?? 'all'];
  if (state) parts.push(state);
  return parts.join(' ');
}

export async function searchPullRequests(
  client: GitHubClient,
  input: SearchPullRequestsInput,
): Promise<PullRequestPage> {
  const q = pullRequestQuery(input);
  const perPage = input.perPage ?? DEFAULT_PER_PAGE;
  const page = input.page ?? 1;
  assertNumber(page, 'page');
  assertNumber(perPage, 'perPage');
  if (perPage > MAX_PER_PAGE || (page - 1) * perPage >= MAX_SEARCH_RESULTS)
    throw new GitHubApiError('github_rejected', { cause: new Error('page out of range') });
  const res = await client.get(
    {
      path: ['search', 'issues'],
      query: { q, sort: 'updated', order: 'desc', per_page: String(perPage), page: String(page) },
      route: '/search/issues',
    },
    SearchIssuesSchema,
  );
  const items = res.data.items.flatMap((item): PullRequestSummary[] => {
    const repo = repoFromApiUrl(item.repository_url);
    if (!item.pull_request || repo === undefined) return [];
    return [
      {
        repo,
        number: item.number,
        title: item.title,
        htmlUrl: item.html_url,
        state: item.state,
        merged: item.pull_request.merged_at != null,
        draft: item.draft ?? false,
        author: item.user?.login ?? null,
        updatedAt: item.updated_at,
      },
    ];
  });
  const next =
    res.nextPage !== undefined && (res.nextPage - 1) * perPage < MAX_SEARCH_RESULTS ? res.nextPage : undefined;
  return {
    totalCount: res.data.total_count,
    incompleteResults: res.data.incomplete_results,
    items,
    nextPage: next,
  };
}

export async function getPullRequest(
  client: GitHubClient,
  input: { readonly repo: string; readonly number: number },
): Promise<PullRequestDetail> {
  const [owner, name] = splitRepo(input.repo);
  assertNumber(input.number, 'pull request number');
  const { data } = await client.get(
    { path: ['repos', owner, name, 'pulls', String(input.number)], route: '/repos/{owner}/{repo}/pulls/{number}' },
    PullRequestSchema,
  );
  return {
    repo: `${owner}/${name}`,
    number: data.number,
    title: data.title,
    body: data.body,
    state: data.state,
    merged: data.merged ?? data.merged_at !== null,
    draft: data.draft ?? false,
    mergedAt: data.merged_at,
    htmlUrl: data.html_url,
    author: data.user?.login ?? null,
    headRef: data.head.ref,
    headSha: data.head.sha,
    baseRef: data.base.ref,
    createdAt: data.created_at,
    updatedAt: data.updated_at,
    commits: data.commits,
    additions: data.additions,
    deletions: data.deletions,
    changedFiles: data.changed_files,
  };
}
