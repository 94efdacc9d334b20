/**
 * Applies the policy's per-minute limits (agent, user, session) to one tool
 * call. All applicable counters are consumed in parallel (one round trip of
 * latency); when one refuses, the others have still counted the call, which
 * errs on the side of refusing.
 * @module
 */
import type { RateLimits } from '../policy/policy.js';
import type { RateLimiter } from './rate-limiter.js';

export type LimitKind = 'agent' | 'user' | 'session';

export interface LimitSubjects {
  /** Copilot agent id (client-asserted label). */
  readonly agentId?: string | undefined;
  /** Stable user key: our `sub`, or for session principals the session hash. */
  readonly userKey?: string | undefined;
  /** Request-context session hash. */
  readonly sessionHash?: string | undefined;
}

export type LimitCheck =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      readonly kind: LimitKind;
      readonly limit: number;
      readonly windowSeconds: number;
      readonly retryAfterSeconds: number;
    };

export const RATE_WINDOW_SECONDS = 60;

/** Counter key per kind; the limiter hashes it before it becomes a document id. */
export const limitKey = (kind: LimitKind, id: string): string => `${kind}:${id}`;

export async function checkRateLimits(
  limiter: RateLimiter,
  limits: RateLimits,
  who: LimitSubjects,
): Promise<LimitCheck> {
  const checks: Array<{ kind: LimitKind; id: string; limit: number }> = [];
  // A limit no rule sets is infinite and costs nothing (no counter is touched).
  const add = (kind: LimitKind, id: string | undefined, limit: number) => {
    if (id && Number.isFinite(limit)) checks.push({ kind, id, limit });
  };
  add('user', who.userKey, limits.perUserPerMinute);
  add('session', who.sessionHash, limits.perSessionPerMinute);
  add('agent', who.agentId, limits.perAgentPerMinute);
  const results = await Promise.all(
    checks.map(async (c) => ({ c, r: await limiter.consume(limitKey(c.kind, c.id), c.limit, RATE_WINDOW_SECONDS) })),
  );
  let refused: LimitCheck | undefined;
  results.forEach(({ c, r }) => {
    if (
      !r.allowed &&
      (refused === undefined || (!refused.allowed && r.retryAfterSeconds > refused.retryAfterSeconds))
    ) {
      refused = {
        allowed: false,
        kind: c.kind,
        limit: c.limit,
        windowSeconds: RATE_WINDOW_SECONDS,
        retryAfterSeconds: r.retryAfterSeconds,
      };
    }
  });
  return refused ?? { allowed: true };
}
