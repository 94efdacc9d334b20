/**
 * Rally's per-user limit of concurrent WSAPI requests (KB 95713: 12, extra
 * requests are slowed down). `reject` mode is a non-canonical test switch.
 * @module
 */

export class UserLimiter {
  private readonly inFlight = new Map<string, number>();
  private readonly queues = new Map<string, Array<() => void>>();
  private readonly maxSeen = new Map<string, number>();

  constructor(
    private readonly max: number,
    private readonly mode: 'wait' | 'reject',
  ) {}

  /** Resolves true once the request holds a slot, or false when rejected. */
  acquire(user: string): Promise<boolean> | boolean {
    const n = this.inFlight.get(user) ?? 0;
    if (n < this.max) {
      this.take(user, n + 1);
      return true;
    }
    if (this.mode === 'reject') return false;
    return new Promise<boolean>((resolve) => {
      let q = this.queues.get(user);
      if (!q) this.queues.set(user, (q = []));
      q.push(() => resolve(true));
    });
  }

  /** Hands the slot straight to the next waiter (FIFO), so the count never exceeds the limit. */
  release(user: string): void {
    const next = this.queues.get(user)?.shift();
    if (next) {
      next();
      return;
    }
    const n = (this.inFlight.get(user) ?? 1) - 1;
    if (n <= 0) this.inFlight.delete(user);
    else this.inFlight.set(user, n);
  }

  private take(user: string, n: number): void {
    this.inFlight.set(user, n);
    if (n > (this.maxSeen.get(user) ?? 0)) this.maxSeen.set(user, n);
  }

  snapshot(): {
    maxConcurrent: Record<string, number>;
    inFlight: Record<string, number>;
    queued: Record<string, number>;
  } {
    const queued: Record<string, number> = {};
    for (const [u, q] of this.queues) if (q.length > 0) queued[u] = q.length;
    return { maxConcurrent: Object.fromEntries(this.maxSeen), inFlight: Object.fromEntries(this.inFlight), queued };
  }

  /** Forgets the high-water marks (in-flight requests keep their slots). */
  resetStats(): void {
    this.maxSeen.clear();
    for (const [u, n] of this.inFlight) this.maxSeen.set(u, n);
  }
}
