/** Shared helpers of the resilience suites: tool calls with a timeout, bounded concurrency, the summary file. */
import { appendFileSync } from 'node:fs';
import { mcpCall, toolCallBody } from '../helpers/oauth-flow.js';

export const SUMMARY_FILE = new URL('../../test-results/resilience-summary.jsonl', import.meta.url).pathname;

export function recordSummary(suite: string, counts: Record<string, number | string>): void {
  appendFileSync(SUMMARY_FILE, `${JSON.stringify({ suite, counts })}\n`);
  process.stdout.write(`[resilience] ${suite}: ${JSON.stringify(counts)}\n`);
}

export interface ToolOutcome {
  readonly status: number;
  readonly requestId: string | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON that the test reads freely and checks with expect()
  readonly rpc: any;
  readonly isError: boolean;
  readonly text: string;
  readonly structured: unknown;
  readonly ms: number;
}

/** A tools/call with a per-request timeout (a hang fails the caller, never the run). */
export async function callTool(
  url: string,
  token: string,
  name: string,
  args: Record<string, unknown>,
  headers: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<ToolOutcome> {
  const t = performance.now();
  const r = await withTimeout(
    mcpCall(`${url}/mcp`, toolCallBody(name, args), { authorization: `Bearer ${token}`, ...headers }),
    timeoutMs,
    `${name} timed out after ${timeoutMs} ms`,
  );
  const result = r.json?.result;
  const text =
    (result?.content ?? []).map((c: { text?: string }) => c.text ?? '').join('\n') ||
    JSON.stringify(r.json?.error ?? '');
  return {
    status: r.status,
    requestId: r.headers.get('x-request-id'),
    rpc: r.json,
    isError: Boolean(result?.isError) || !result,
    text,
    structured: result?.structuredContent,
    ms: performance.now() - t,
  };
}

export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms))),
  ]).finally(() => clearTimeout(timer));
}

export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (t: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

/** A counting semaphore for the load loops. */
export function semaphore(max: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (fn) => {
    if (active >= max) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/** True when a message carries a request id the user can quote (tool errors and JSON-RPC errors). */
export const hasRequestId = (text: string): boolean => /Request ID:?\s*[\w-]{6,}/i.test(text);
