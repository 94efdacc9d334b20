/**
 * What every tool receives: a per-request Rally client, a cursor codec and
 * labels. Built for each request (shared/mcp/call-context.ts); tools never
 * read globals. Gates are not part of it: see shared/mcp/execute.ts.
 * @module
 */
import type { Clock } from '../../kernel/clock.js';
import type { Logger } from '../../logging/logger.js';
import type { RallyClient } from '../../rally/client.js';
import type { GitHubClient } from '../../github/client.js';
import type { UpstreamProviderId, UpstreamTokenProvider } from '../../upstream/provider.js';
import type { CursorCodec } from './cursor.js';

export interface ToolContext {
  readonly rally: RallyClient;
  readonly requestId: string;
  readonly log: Logger;
  readonly clock: Clock;
  /** Rally's web origin for item links, e.g. https://rally1.rallydev.com (from configuration). */
  readonly rallyWebBaseUrl: string;
  /** Seals and opens paging cursors for this caller (L19). */
  readonly cursors: CursorCodec;
  /** The "Your access" page, where the user sees and ends every client acting for them. */
  readonly accessPageUrl: string;
  /**
   * The access tokens of an upstream provider for this caller (issue 19), for a provider's API
   * client (GitHub's): its link is read on the first token asked for, and a missing link throws
   * that provider's LinkRequiredError, which becomes its sign-in prompt. `rally` is the token
   * provider `rally` already uses.
   */
  upstreamTokens(provider: UpstreamProviderId): UpstreamTokenProvider;
  /**
   * Deletes the caller's stored tokens of `provider` (default Rally, which has no revocation
   * endpoint); another provider's disconnect leaves the Rally link alone and also ends our app's
   * authorization at that provider when it offers that (GitHub), best effort.
   */
  disconnect(provider?: UpstreamProviderId): Promise<Disconnected>;
  /**
   * A GitHub client for the caller (issue 19), built on first use over `upstreamTokens('github')`:
   * its first request reads the caller's GitHub link, and no link means GitHub's sign-in prompt.
   * Throws when this deployment does not enable GitHub (its tools are then not offered).
   */
  github(): GitHubClient;
  /** GitHub's web origin (from configuration) and the links built on it; never GitHub's own html_url. */
  readonly githubWeb: GitHubWeb;
}

export interface GitHubWeb {
  /** e.g. https://github.com, or https://HOST for GitHub Enterprise Server. */
  readonly baseUrl: string;
  pullRequestUrl(repo: string, number: number): string;
  commitUrl(repo: string, sha: string): string;
}

/** Links on GitHub's web origin from checked parts only (owner/name, a number, a hex SHA). */
export function githubWeb(baseUrl: string): GitHubWeb {
  const root = baseUrl.replace(/\/$/, '');
  return {
    baseUrl: root,
    pullRequestUrl: (repo, number) => `${root}/${repo}/pull/${number}`,
    commitUrl: (repo, sha) => `${root}/${repo}/commit/${sha}`,
  };
}

/** What a disconnect did beyond deleting our tokens. */
export interface Disconnected {
  /** The provider confirmed it ended our app's authorization (false: not offered, not reached, or it no longer knew the token). */
  readonly revokedAtProvider: boolean;
}
