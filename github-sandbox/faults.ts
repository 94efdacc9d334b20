/**
 * Test-only fault injection by origin and path prefix: latency, any status,
 * connection reset, redirect, GitHub's secondary rate limit. Not GitHub
 * behaviour except where docs/github-api.md says so. The matcher is the Rally
 * sandbox's (rally-sandbox/faults.ts); a rule may also name the origin.
 * @module
 */
import { Faults } from '../rally-sandbox/faults.js';
import type { GitHubFaultKind, GitHubFaultRule, GitHubSandboxServer } from './types.js';

export class GitHubFaults extends Faults<GitHubFaultRule> {
  /** The first rule for this origin (or both) that matches, consuming one of its `times`. */
  matchAt(server: GitHubSandboxServer, method: string, rawPath: string): GitHubFaultKind | undefined {
    return this.match(method, rawPath, (rule) => rule.server === undefined || rule.server === server);
  }
}
