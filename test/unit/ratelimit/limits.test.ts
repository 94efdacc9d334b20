import { createInstanceLimits, type RateLimiter } from '../../../shared/ratelimit/rate-limiter.js';
import { checkRateLimits, limitKey } from '../../../shared/ratelimit/enforce.js';
import { DEFAULT_RATE_LIMITS } from '../../../shared/policy/policy.js';

const LIMITS = { perAgentPerMinute: 600, perUserPerMinute: 120, perSessionPerMinute: 60 };

describe('instance limits', () => {
  it('admits up to maxConcurrent and frees a slot on release (release is idempotent)', () => {
    const limits = createInstanceLimits({ maxConcurrent: 2 });
    const a = limits.tryAcquire();
    const b = limits.tryAcquire();
    expect(a).toBeDefined();
    expect(b).toBeDefined();
    expect(limits.tryAcquire()).toBeUndefined();
    expect(limits.inFlight()).toBe(2);
    a?.();
    a?.();
    expect(limits.inFlight()).toBe(1);
    expect(limits.tryAcquire()).toBeDefined();
    expect(limits.tryAcquire()).toBeUndefined();
    expect(() => createInstanceLimits({ maxConcurrent: 0 })).toThrow(RangeError);
  });
});

describe('checkRateLimits', () => {
  const fake = (refuse: Record<string, number>): RateLimiter & { calls: string[] } => {
    const calls: string[] = [];
    return {
      calls,
      consume: async (key, limit, windowSeconds) => {
        calls.push(`${key}|${limit}|${windowSeconds}`);
        const wait = refuse[key];
        return wait === undefined
          ? { allowed: true, remaining: limit - 1, retryAfterSeconds: 0 }
          : { allowed: false, remaining: 0, retryAfterSeconds: wait };
      },
    };
  };

  it('consumes one counter per known subject with the policy limit and a 60 s window', async () => {
    const limiter = fake({});
    const r = await checkRateLimits(limiter, LIMITS, { agentId: 'ag', userKey: 'sub-1', sessionHash: 'h' });
    expect(r).toEqual({ allowed: true });
    expect(limiter.calls.sort()).toEqual(['agent:ag|600|60', 'session:h|60|60', 'user:sub-1|120|60']);
    const none = fake({});
    expect(await checkRateLimits(none, LIMITS, {})).toEqual({ allowed: true });
    expect(none.calls).toEqual([]);
    // The defaults set no limit: nothing is consumed (no Firestore cost per call).
    const free = fake({});
    expect(await checkRateLimits(free, DEFAULT_RATE_LIMITS, { agentId: 'ag', userKey: 'u', sessionHash: 'h' })).toEqual(
      { allowed: true },
    );
    expect(free.calls).toEqual([]);
  });

  it('reports the refusing limit (the longest wait when several refuse)', async () => {
    const one = await checkRateLimits(fake({ [limitKey('user', 'u')]: 12 }), LIMITS, { agentId: 'ag', userKey: 'u' });
    expect(one).toEqual({ allowed: false, kind: 'user', limit: 120, windowSeconds: 60, retryAfterSeconds: 12 });
    const two = await checkRateLimits(fake({ 'user:u': 12, 'agent:ag': 30 }), LIMITS, { agentId: 'ag', userKey: 'u' });
    expect(two).toMatchObject({ allowed: false, kind: 'agent', retryAfterSeconds: 30 });
  });
});
