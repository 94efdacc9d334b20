/**
 * Coded errors for everything that goes wrong talking to GitHub's REST API.
 * Callers branch on `code` (and the rate-limit fields), never on message text.
 * GitHub's own words are cleaned and capped before they are kept: they are
 * untrusted text.
 * @module
 */
import { CodedError, type GitHubErrorCode } from '../kernel/errors.js';

export type { GitHubErrorCode };

/** One entry of a 422's `errors[]`: GitHub's `code` (missing, missing_field, invalid, already_exists, unprocessable, custom). */
export interface GitHubValidationDetail {
  readonly code?: string;
  readonly field?: string;
  readonly resource?: string;
  /** Cleaned and capped; may be shown to the user as GitHub's words. */
  readonly message?: string;
}

export interface GitHubApiErrorOptions {
  readonly status?: number;
  /** GitHub's `message`, already cleaned and capped. */
  readonly githubMessage?: string;
  readonly details?: readonly GitHubValidationDetail[];
  readonly cause?: unknown;
}

export class GitHubApiError extends CodedError<GitHubErrorCode> {
  readonly status?: number;
  readonly githubMessage?: string;
  readonly details: readonly GitHubValidationDetail[];
  constructor(code: GitHubErrorCode, options: GitHubApiErrorOptions = {}) {
    super(code, code, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GitHubApiError';
    if (options.status !== undefined) this.status = options.status;
    if (options.githubMessage !== undefined) this.githubMessage = options.githubMessage;
    this.details = options.details ?? [];
  }
}

/**
 * GitHub refused for a rate limit (403 or 429). `primary`: the hourly (or, for search, per-minute)
 * budget is used up until `resetAt`; `secondary`: too much too fast. `retryAfterSeconds` is when to try
 * again, from `retry-after`, else `x-ratelimit-reset`, else GitHub's "at least one minute".
 */
export class GitHubRateLimitedError extends GitHubApiError {
  readonly limitKind: 'primary' | 'secondary';
  readonly retryAfterSeconds: number;
  readonly resetAt?: Date;
  /** `x-ratelimit-resource`: core, search, … */
  readonly resource?: string;
  constructor(
    limitKind: 'primary' | 'secondary',
    retryAfterSeconds: number,
    options: GitHubApiErrorOptions & { readonly resetAt?: Date; readonly resource?: string } = {},
  ) {
    super('github_rate_limited', options);
    this.name = 'GitHubRateLimitedError';
    this.limitKind = limitKind;
    this.retryAfterSeconds = retryAfterSeconds;
    if (options.resetAt !== undefined) this.resetAt = options.resetAt;
    if (options.resource !== undefined) this.resource = options.resource;
  }
}
