/**
 * Test-only fault injection by path prefix: latency, any status, connection
 * reset, cross-origin redirect. Not Rally behaviour; clearly non-canonical.
 * Generic over the rule shape, so the GitHub sandbox (github-sandbox/faults.ts)
 * uses the same matcher with its own fault kinds.
 * @module
 */
import type { FaultRule } from './types.js';

/** What every sandbox's fault rule has: a path prefix, an optional method, a count and its fault. */
export interface PathRule<K> {
  readonly pathPrefix: string;
  readonly method?: string;
  readonly times?: number;
  readonly fault: K;
}

interface ActiveRule<R> {
  readonly rule: R;
  remaining: number;
}

export class Faults<R extends PathRule<unknown> = FaultRule> {
  private rules: ActiveRule<R>[] = [];
  private readonly sleepers = new Set<() => void>();
  /** Bumped by clear(): a latency matched before a clear() no longer applies. */
  private generation = 0;

  add(rule: R): () => void {
    const active: ActiveRule<R> = { rule, remaining: rule.times ?? Number.POSITIVE_INFINITY };
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

  /** The first matching rule's fault (among those `applies` keeps), consuming one of its `times`. */
  match(method: string, path: string, applies: (rule: R) => boolean = () => true): R['fault'] | undefined {
    for (const r of this.rules) {
      if (r.remaining <= 0) continue;
      if (!path.startsWith(r.rule.pathPrefix) || !applies(r.rule)) continue;
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
