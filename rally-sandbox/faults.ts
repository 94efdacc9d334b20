/**
 * Test-only fault injection by path prefix: latency, any status, connection
 * reset, cross-origin redirect. Not Rally behaviour; clearly non-canonical.
 * @module
 */
import type { FaultKind, FaultRule } from './types.js';

interface ActiveRule {
  readonly rule: FaultRule;
  remaining: number;
}

export class Faults {
  private rules: ActiveRule[] = [];
  private readonly sleepers = new Set<() => void>();
  /** Bumped by clear(): a latency matched before a clear() no longer applies. */
  private generation = 0;

  add(rule: FaultRule): () => void {
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
  match(method: string, path: string): FaultKind | undefined {
    for (const r of this.rules) {
      if (r.remaining <= 0) continue;
      if (!path.startsWith(r.rule.pathPrefix)) continue;
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
