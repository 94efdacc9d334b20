/**
 * Checking the names a caller gives before they reach a URL: repositories as
 * owner/name, git refs, pull-request numbers, and the repository a search item
 * belongs to (read from its repository_url, GitHub's text).
 * @module
 */
import { GitHubApiError } from './errors.js';
import { COMMIT_SHA, REPO_FULL_NAME } from './types.js';

const rejected = (what: string): GitHubApiError =>
  new GitHubApiError('github_rejected', { cause: new Error(`invalid ${what}`) });

/** owner/name → [owner, name]; anything else is refused before a request is made. */
export function splitRepo(repo: string): [string, string] {
  if (!REPO_FULL_NAME.test(repo)) throw rejected('repository');
  const [owner = '', name = ''] = repo.split('/');
  return [owner, name];
}

/** A branch name git would accept (check-ref-format, simplified) or a commit SHA. */
const BRANCH = /^(?![/.])(?!.*(?:\/\/|\.\.|@\{|\/\.|\.lock$|\/$|\.$))[A-Za-z0-9._/-]{1,255}$/;

export function assertRef(ref: string): void {
  if (!COMMIT_SHA.test(ref) && !BRANCH.test(ref)) throw rejected('ref');
}

export function assertNumber(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 1) throw rejected(what);
}

/** owner/name from `…/repos/{owner}/{name}`; undefined when the URL has another shape. */
export function repoFromApiUrl(url: string): string | undefined {
  let path: string[];
  try {
    path = new URL(url).pathname.split('/').map(decodeURIComponent);
  } catch {
    return undefined;
  }
  const [repos, owner, name] = path.slice(-3);
  const full = `${owner ?? ''}/${name ?? ''}`;
  return repos === 'repos' && REPO_FULL_NAME.test(full) ? full : undefined;
}
