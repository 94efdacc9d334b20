/**
 * Test-only fault injection by origin and path prefix: latency, any status,
 * connection reset, redirect, GitHub's secondary rate limit. Not GitHub
 * behaviour except where docs/github-api.md says so.
 * @module
 */
import type { GitHubFaultKind, GitHubFaultRule, GitHubSandboxServer } from './types.js';

interface ActiveRule {
  readonly rule: GitHubFaultRule;
  remaining: number;
}

export class Faults {
  private rules: ActiveRule[] = [];
  private readonly sleepers = new Set<() => void>();
  /** Bumped by clear(): a latency matched before a clear() no longer applies. */
  private generation = 0;

  add(rule: GitHubFaultRule): () => void {
    const active: ActiveRule = { rule, remaining: rule.times ?? Number.POSITIVE_INFINITY };
    this.rules.push(active);
    return () => {
      this.rules = this.rules.filter((r) => r !== active);
    };
  }

  /** Removes every rule and ends pending latency delays, so held requests complete. */
  clear(): void {
    this.rules = [];
    this.generation += 1;
    for (const wake of this.sleepers) wake();
    this.sleepers.clear();
  }

  get epoch(): number {
    return this.generation;
  }

  /** The first matching rule's fault, consuming one of its `times`. */
  match(server: GitHubSandboxServer, method: string, rawPath: string): GitHubFaultKind | undefined {
    for (const r of this.rules) {
      if (r.remaining <= 0) continue;
      if (r.rule.server !== undefined && r.rule.server !== server) continue;
      if (!rawPath.startsWith(r.rule.pathPrefix)) continue;
      if (r.rule.method !== undefined && r.rule.method.toUpperCase() !== method) continue;
      r.remaining -= 1;
      return r.rule.fault;
    }
    return undefined;
  }

  /** Waits `ms`, unless clear() ran since `epoch` (then resolves at once). */
  sleep(ms: number, epoch: number): Promise<void> {
    if (epoch !== this.generation) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }
}
