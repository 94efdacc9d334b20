/**
 * Per-instance throttle of unauthenticated requests that would create
 * Firestore documents (L20): token buckets keyed by client address, in
 * memory, bounded in size, on the injected clock, with no Firestore writes
 * of its own (a throttle that wrote per request would be the flood it stops).
 *
 * Per instance means an attacker spread over N instances gets N times the
 * limit: this caps the write rate an address can cause, it is not an exact
 * quota (the policy's Firestore-backed limits are, for signed-in callers).
 * @module
 */
import { isIP } from 'node:net';
import type { Clock } from '../kernel/clock.js';
import { CodedError } from '../kernel/errors.js';
import { evictOldest } from '../kernel/lru.js';

/**
 * The unauthenticated writes we throttle, one bucket per kind and address; and failed
 * connection-token lookups (O24), which are guesses that each cost a Firestore read.
 */
export type AddressLimitKind =
  'authorize' | 'register' | 'session_initialize' | 'connect_link' | 'connection_token_failure';

/** Requests per minute per address for each kind; 0 turns that limit off. */
export type AddressLimits = Readonly<Record<AddressLimitKind, number>>;

export type ThrottleDecision =
  { readonly allowed: true } | { readonly allowed: false; readonly limit: number; readonly retryAfterSeconds: number };

export interface AddressThrottle {
  /** Takes one request from the bucket of (`kind`, `address`). */
  take(kind: AddressLimitKind, address: string): ThrottleDecision;
  /** What `take` would decide now, taking nothing: for a limit counted on failures only. */
  peek(kind: AddressLimitKind, address: string): ThrottleDecision;
}

export interface AddressThrottleOptions {
  readonly clock: Clock;
  readonly limits: AddressLimits;
  /** Buckets kept per instance; the least recently used goes first beyond it. */
  readonly maxBuckets?: number;
}

/** Too many requests of one kind from one address: 429 with Retry-After on every surface. */
export class AddressThrottledError extends CodedError<'address_throttled'> {
  readonly kind: AddressLimitKind;
  readonly limit: number;
  readonly retryAfterSeconds: number;
  /** What a JSON-RPC error carries as `data` when this error leaves an MCP request handler. */
  readonly data: { readonly reason: 'rate_limited'; readonly retryAfterSeconds: number };
  constructor(kind: AddressLimitKind, limit: number, retryAfterSeconds: number) {
    super('address_throttled', `Too many requests from your network address. Try again in ${retryAfterSeconds} s.`);
    this.name = 'AddressThrottledError';
    this.kind = kind;
    this.limit = limit;
    this.retryAfterSeconds = retryAfterSeconds;
    this.data = { reason: 'rate_limited', retryAfterSeconds };
  }
}

export const DEFAULT_MAX_BUCKETS = 10_000;

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms, injected clock). */
  at: number;
}

export function createAddressThrottle(options: AddressThrottleOptions): AddressThrottle {
  const maxBuckets = options.maxBuckets ?? DEFAULT_MAX_BUCKETS;
  const buckets = new Map<string, Bucket>();
  /** The bucket of (`kind`, `address`) brought up to now; `taking` takes one request from it. */
  function decide(kind: AddressLimitKind, address: string, taking: boolean): ThrottleDecision {
    const capacity = options.limits[kind];
    if (capacity <= 0) return { allowed: true };
    const perMs = capacity / 60_000;
    const now = options.clock.now().getTime();
    const key = `${kind} ${address}`;
    const found = buckets.get(key);
    const elapsed = found ? Math.max(0, now - found.at) : 0;
    const bucket: Bucket = found
      ? { tokens: Math.min(capacity, found.tokens + elapsed * perMs), at: now }
      : { tokens: capacity, at: now };
    const allowed = bucket.tokens >= 1;
    if (taking) {
      if (allowed) bucket.tokens -= 1;
      buckets.delete(key); // re-inserted: the map's order is the eviction order
      evictOldest(buckets, maxBuckets);
      buckets.set(key, bucket);
    }
    if (allowed) return { allowed: true };
    return {
      allowed: false,
      limit: capacity,
      retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000)),
    };
  }
  return {
    take: (kind, address) => decide(kind, address, true),
    peek: (kind, address) => decide(kind, address, false),
  };
}

/**
 * The client address of a request, as a throttle key.
 *
 * On Cloud Functions gen2 (Cloud Run) every request passes Google's front end, which *appends*
 * the address that connected to it to X-Forwarded-For; anything to its left came with the
 * request and the client can write whatever it likes there. So the address is counted from the
 * right: `trustedHops` = how many proxies we run behind that append (1: Google's front end, the
 * right-most entry). Behind Firebase Hosting the right-most entry is what connected to Google's
 * front end; if that proves to be the CDN's egress rather than the client, the throttle groups
 * clients by CDN node (coarser, still not forgeable) and 2 reads the entry Hosting appended.
 * Never the left-most entry: that one is forgeable, and a throttle keyed on it is no throttle.
 *
 * IPv6 addresses are keyed by their /64: one subscriber usually holds a whole /64 and could
 * otherwise take a fresh bucket per address.
 */
export function clientAddress(
  forwardedFor: string | undefined,
  peerAddress: string | undefined,
  trustedHops: number,
): string {
  const hops = (forwardedFor ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  const chosen = hops.length > 0 ? hops[Math.max(0, hops.length - trustedHops)] : peerAddress;
  return chosen === undefined ? 'unknown' : addressKey(chosen);
}

/** A canonical key: IPv4 as is (also when IPv4-mapped), IPv6 as its /64, anything else one shared bucket. */
export function addressKey(raw: string): string {
  const address = raw.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address)?.[1];
  if (mapped !== undefined) return mapped;
  if (isIP(address) === 4) return address;
  if (isIP(address) !== 6) return 'unparseable';
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

function expandIPv6(address: string): string[] {
  const [head, tail] = address.includes('::') ? (address.split('::') as [string, string]) : [address, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((g) => (g.includes('.') ? g : parseInt(g, 16).toString(16)));
}
