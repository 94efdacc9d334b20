/**
 * Time as a port: every expiry decision takes its "now" from a Clock so tests can move time.
 * @module
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export const isExpired = (expiresAt: Date, now: Date): boolean => expiresAt.getTime() <= now.getTime();

export const addSeconds = (d: Date, s: number): Date => new Date(d.getTime() + s * 1000);
