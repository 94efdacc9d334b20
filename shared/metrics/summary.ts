/**
 * A tiny in-process view of tool calls for the local stack: counts by outcome
 * and p50/p95 latency over the last N calls, printed as one line. Production
 * metrics come from log-based metrics on the audit lines (docs/operating.md);
 * this is per-instance and resets with the process.
 * @module
 */
import type { AuditOutcome } from '../audit/audit.js';

export interface ToolMetrics {
  recordToolCall(tool: string, outcome: AuditOutcome, durationMs: number): void;
  /** e.g. `tools: 12 calls (success 10, error 1, denied 1, rate_limited 0); p50 34ms p95 120ms over last 12; top list_defects 5, get_item 4` */
  summaryLine(): string;
  /** Calls recorded since the instance started (or the last reset). */
  total(): number;
  reset(): void;
}

const OUTCOMES: readonly AuditOutcome[] = ['success', 'error', 'denied', 'rate_limited'];

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? 0;
}

export function createToolMetrics(options: { readonly window?: number } = {}): ToolMetrics {
  const size = options.window ?? 200;
  if (!Number.isInteger(size) || size < 1) throw new RangeError('window must be a positive integer');
  let byOutcome = new Map<AuditOutcome, number>();
  let byTool = new Map<string, number>();
  let latencies: number[] = []; // ring buffer of the last `size` durations
  let next = 0;
  let count = 0;

  return {
    recordToolCall(tool, outcome, durationMs) {
      count++;
      byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
      byTool.set(tool, (byTool.get(tool) ?? 0) + 1);
      const d = Number.isFinite(durationMs) ? Math.max(0, Math.round(durationMs)) : 0;
      if (latencies.length < size) latencies.push(d);
      else latencies[next] = d;
      next = (next + 1) % size;
    },
    summaryLine() {
      if (count === 0) return 'tools: no calls yet';
      const outcomes = OUTCOMES.map((o) => `${o} ${byOutcome.get(o) ?? 0}`).join(', ');
      const sorted = [...latencies].sort((a, b) => a - b);
      const top = [...byTool.entries()]
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .slice(0, 3)
        .map(([t, n]) => `${t} ${n}`)
        .join(', ');
      return `tools: ${count} calls (${outcomes}); p50 ${percentile(sorted, 50)}ms p95 ${percentile(sorted, 95)}ms over last ${sorted.length}; top ${top}`;
    },
    total: () => count,
    reset() {
      byOutcome = new Map();
      byTool = new Map();
      latencies = [];
      next = 0;
      count = 0;
    },
  };
}

/** The process-wide instance the handlers record into. */
export const toolMetrics: ToolMetrics = createToolMetrics();
export const recordToolCall = (tool: string, outcome: AuditOutcome, durationMs: number): void =>
  toolMetrics.recordToolCall(tool, outcome, durationMs);
export const summaryLine = (): string => toolMetrics.summaryLine();

/**
 * Prints the summary every `intervalMs` when there were new calls since the last print.
 * Returns a stop function; the timer never keeps the process alive.
 */
export function startSummaryTimer(
  print: (line: string) => void,
  intervalMs = 60_000,
  metrics: ToolMetrics = toolMetrics,
): () => void {
  let printedAt = metrics.total();
  const timer = setInterval(() => {
    if (metrics.total() === printedAt) return;
    printedAt = metrics.total();
    print(metrics.summaryLine());
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
