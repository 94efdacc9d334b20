/** A closed-loop load runner: C workers, each bounded by a request count and a deadline. */
export interface LoadResult {
  readonly latencies: number[];
  readonly errors: number;
  readonly firstError: string | undefined;
  readonly elapsedMs: number;
  readonly requests: number;
}

export interface LoadOptions {
  readonly concurrency: number;
  /** Total requests over all workers. */
  readonly requests: number;
  /** Hard stop for the whole run. */
  readonly maxMs: number;
}

/** `call(worker)` resolves to an error string or undefined on success. */
export async function runLoad(
  o: LoadOptions,
  call: (worker: number) => Promise<string | undefined>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let issued = 0;
  const start = performance.now();
  const deadline = start + o.maxMs;
  const worker = async (w: number) => {
    while (issued < o.requests && performance.now() < deadline) {
      issued++;
      const t = performance.now();
      let err: string | undefined;
      try {
        err = await call(w);
      } catch (e) {
        err = e instanceof Error ? e.message : String(e);
      }
      const ms = performance.now() - t;
      if (err) {
        errors++;
        firstError ??= err;
      } else latencies.push(ms);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, (_, w) => worker(w)));
  return { latencies, errors, firstError, elapsedMs: performance.now() - start, requests: issued };
}
