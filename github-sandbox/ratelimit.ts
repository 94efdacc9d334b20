/**
 * GitHub's primary rate limits (docs/github-api.md §3.3): per user and resource,
 * a window that opens with the first request and resets at a fixed time;
 * `core` 5000 an hour, `search` 30 a minute; unauthenticated requests share one
 * address bucket (60 an hour, 10 searches a minute).
 * @module
 */
import type { GitHubRateResource, GitHubRateState } from './types.js';

interface Window {
  used: number;
  /** Epoch ms. */
  resetAt: number;
}

const WINDOW_MS: Readonly<Record<GitHubRateResource, number>> = { core: 3_600_000, search: 60_000 };

export const ANONYMOUS = '(address)';

export class RateLimits {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly limits: Readonly<Record<GitHubRateResource, number>>,
    private readonly now: () => number,
  ) {}

  limitOf(who: string, resource: GitHubRateResource): number {
    if (who === ANONYMOUS) return resource === 'core' ? 60 : 10;
    return this.limits[resource];
  }

  private window(who: string, resource: GitHubRateResource): Window {
    const key = `${resource}:${who}`;
    let w = this.windows.get(key);
    if (!w || w.resetAt <= this.now()) {
      w = { used: 0, resetAt: this.now() + WINDOW_MS[resource] };
      this.windows.set(key, w);
    }
    return w;
  }

  private state(who: string, resource: GitHubRateResource, w: Window): GitHubRateState {
    const limit = this.limitOf(who, resource);
    return {
      limit,
      used: Math.min(w.used, limit),
      remaining: Math.max(0, limit - w.used),
      reset: Math.ceil(w.resetAt / 1000),
    };
  }

  /** Counts one request; `exceeded` when the window was already used up (the request is refused, not counted). */
  take(who: string, resource: GitHubRateResource): GitHubRateState & { readonly exceeded: boolean } {
    const w = this.window(who, resource);
    const limit = this.limitOf(who, resource);
    if (w.used >= limit) return { ...this.state(who, resource, w), exceeded: true };
    w.used += 1;
    return { ...this.state(who, resource, w), exceeded: false };
  }

  peek(who: string, resource: GitHubRateResource): GitHubRateState {
    return this.state(who, resource, this.window(who, resource));
  }

  exhaust(who: string, resource: GitHubRateResource): void {
    this.window(who, resource).used = this.limitOf(who, resource);
  }

  clear(): void {
    this.windows.clear();
  }
}
