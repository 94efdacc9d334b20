/**
 * What we read of GitHub's REST answers (docs/github-api.md §3), as zod schemas
 * (unknown keys are dropped), and the shapes the *.api.ts functions return.
 * Titles, bodies, messages, names and URLs are GitHub's text: bounded here,
 * never interpreted; the MCP tools layer sanitises them before a model sees them.
 * @module
 */
import { z } from 'zod';

/** owner/name: GitHub's login rule for the owner (1–39 letters, digits, hyphens) and its repository-name characters. */
export const REPO_FULL_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}\/(?!\.{1,2}$)[A-Za-z0-9._-]{1,100}$/;
/** A Rally FormattedID (US123, DE7, TA42, F3): the same rule as shared/rally/lookup.api.ts. */
export const FORMATTED_ID = /^[A-Z]{1,4}\d{1,9}$/;
/** A commit SHA, full or abbreviated (GitHub accepts a unique prefix). */
export const COMMIT_SHA = /^[0-9a-f]{7,64}$/i;

const Url = z.string().max(2048);
const Timestamp = z.string().max(40);
const Text = (max: number) => z.string().max(max);
const Sha = z.string().regex(/^[0-9a-f]{40,64}$/);
const Count = z.number().int().nonnegative();

const Account = z.object({ login: Text(100).min(1), id: z.number().int() });

export const UserSchema = z.object({
  login: Text(100).min(1),
  id: z.number().int(),
  name: Text(1000).nullable().optional(),
  html_url: Url,
});

export const SearchItemSchema = z.object({
  number: z.number().int().positive(),
  title: Text(100_000),
  html_url: Url,
  repository_url: Url,
  state: z.enum(['open', 'closed']),
  user: Account.nullable(),
  draft: z.boolean().optional(),
  created_at: Timestamp,
  updated_at: Timestamp,
  pull_request: z.object({ merged_at: Timestamp.nullable().optional() }).optional(),
});

export const SearchIssuesSchema = z.object({
  total_count: Count,
  incomplete_results: z.boolean(),
  items: z.array(SearchItemSchema).max(100),
});

const BranchRef = z.object({ ref: Text(1000), sha: Sha });

export const PullRequestSchema = z.object({
  number: z.number().int().positive(),
  title: Text(100_000),
  body: Text(1_000_000).nullable(),
  state: z.enum(['open', 'closed']),
  draft: z.boolean().optional(),
  merged: z.boolean().optional(),
  merged_at: Timestamp.nullable(),
  html_url: Url,
  user: Account.nullable(),
  head: BranchRef,
  base: BranchRef,
  created_at: Timestamp,
  updated_at: Timestamp,
  commits: Count.optional(),
  additions: Count.optional(),
  deletions: Count.optional(),
  changed_files: Count.optional(),
});

export const CommitSchema = z.object({
  sha: Sha,
  html_url: Url,
  commit: z.object({
    message: Text(1_000_000),
    author: z.object({ name: Text(1000).optional(), date: Timestamp.optional() }).nullable(),
  }),
  author: Account.nullable(),
  parents: z.array(z.object({ sha: Sha })).max(100),
  stats: z.object({ additions: Count, deletions: Count }).optional(),
});

export const RepoSchema = z.object({
  full_name: Text(200),
  private: z.boolean(),
  default_branch: Text(1000),
  html_url: Url,
  description: Text(10_000).nullable(),
  archived: z.boolean().optional(),
});

export interface GitHubUserSummary {
  readonly login: string;
  readonly id: number;
  readonly name: string | null;
  readonly htmlUrl: string;
}

export type PullRequestStateFilter = 'open' | 'closed' | 'merged' | 'all';

export interface PullRequestSummary {
  /** owner/name, from the item's repository_url. */
  readonly repo: string;
  readonly number: number;
  readonly title: string;
  readonly htmlUrl: string;
  readonly state: 'open' | 'closed';
  readonly merged: boolean;
  readonly draft: boolean;
  readonly author: string | null;
  readonly updatedAt: string;
}

export interface PullRequestPage {
  readonly totalCount: number;
  /** GitHub stopped the search early: more may match. */
  readonly incompleteResults: boolean;
  readonly items: readonly PullRequestSummary[];
  /** The next page (1-based), or undefined on the last one. */
  readonly nextPage: number | undefined;
}

export interface PullRequestDetail {
  readonly repo: string;
  readonly number: number;
  readonly title: string;
  readonly body: string | null;
  readonly state: 'open' | 'closed';
  readonly merged: boolean;
  readonly draft: boolean;
  readonly mergedAt: string | null;
  readonly htmlUrl: string;
  readonly author: string | null;
  readonly headRef: string;
  readonly headSha: string;
  readonly baseRef: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly commits: number | undefined;
  readonly additions: number | undefined;
  readonly deletions: number | undefined;
  readonly changedFiles: number | undefined;
}

export interface CommitDetail {
  readonly repo: string;
  readonly sha: string;
  readonly message: string;
  readonly htmlUrl: string;
  /** The git author's name (any text the committer chose). */
  readonly authorName: string | null;
  /** The GitHub account of the author e-mail; null when no account claims it. */
  readonly authorLogin: string | null;
  readonly authoredAt: string | null;
  readonly parents: readonly string[];
  readonly additions: number | undefined;
  readonly deletions: number | undefined;
}

export interface RepoDetail {
  readonly fullName: string;
  readonly private: boolean;
  readonly defaultBranch: string;
  readonly htmlUrl: string;
  readonly description: string | null;
  readonly archived: boolean;
}
