/**
 * The one outbound HTTP seam: everything that calls out (Rally, Firestore REST, client metadata
 * documents) takes a `FetchLike`, so tests inject a fake and production passes `globalThis.fetch`.
 * @module
 */
export type FetchLike = typeof fetch;

/** What a fetch's deadline ends with: the same reason `AbortSignal.timeout` gives. */
const timeoutReason = () => new DOMException('The operation was aborted due to timeout', 'TimeoutError');

/**
 * A deadline for one outbound request: `signal` aborts after `ms` exactly as `AbortSignal.timeout(ms)`
 * would (same `TimeoutError` reason, the timer does not keep the process alive), and `done()` drops the
 * timer once the answer is read. `AbortSignal.timeout` cannot be cancelled: its timer, the signal and the
 * listeners fetch attaches to it stay alive for the whole timeout after the answer came (15 s for Rally),
 * and under load that was thousands of them, promoted to the old space before they became garbage.
 */
export function fetchDeadline(ms: number): { readonly signal: AbortSignal; done(): void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(timeoutReason()), ms);
  timer.unref();
  return { signal: controller.signal, done: () => clearTimeout(timer) };
}
