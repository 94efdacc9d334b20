import {
  addressKey,
  clientAddress,
  createAddressThrottle,
  type AddressLimits,
} from '../../../shared/ratelimit/address-throttle.js';
import { FakeClock } from '../../helpers/clock.js';

const LIMITS: AddressLimits = {
  authorize: 3,
  register: 2,
  session_initialize: 0,
  connect_link: 60,
  connection_token_failure: 2,
};

describe('address throttle', () => {
  it('L20: allows the limit per minute and address, refuses the next with Retry-After, and refills on the injected clock', () => {
    const clock = new FakeClock('2026-01-05T10:00:00Z');
    const throttle = createAddressThrottle({ clock, limits: LIMITS });
    const taken = Array.from({ length: 4 }, () => throttle.take('authorize', '203.0.113.7'));
    expect(taken).toEqual([
      { allowed: true },
      { allowed: true },
      { allowed: true },
      { allowed: false, limit: 3, retryAfterSeconds: 20 },
    ]);
    expect(throttle.take('authorize', '203.0.113.8')).toEqual({ allowed: true }); // another address
    expect(throttle.take('register', '203.0.113.7')).toEqual({ allowed: true }); // another kind
    clock.advanceMs(19_000);
    expect(throttle.take('authorize', '203.0.113.7')).toEqual({ allowed: false, limit: 3, retryAfterSeconds: 1 });
    clock.advanceMs(1_000);
    expect(throttle.take('authorize', '203.0.113.7')).toEqual({ allowed: true });
  });

  it('O24: peek decides like take but takes nothing (a limit counted on failures only)', () => {
    const clock = new FakeClock('2026-01-05T10:00:00Z');
    const throttle = createAddressThrottle({ clock, limits: LIMITS });
    for (let i = 0; i < 5; i++)
      expect(throttle.peek('connection_token_failure', '203.0.113.7')).toEqual({ allowed: true });
    expect(throttle.take('connection_token_failure', '203.0.113.7')).toEqual({ allowed: true });
    expect(throttle.take('connection_token_failure', '203.0.113.7')).toEqual({ allowed: true });
    const over = { allowed: false, limit: 2, retryAfterSeconds: 30 };
    expect(throttle.peek('connection_token_failure', '203.0.113.7')).toEqual(over);
    expect(throttle.peek('connection_token_failure', '203.0.113.7')).toEqual(over); // still nothing taken
    expect(throttle.peek('connection_token_failure', '203.0.113.8')).toEqual({ allowed: true });
    clock.advanceMs(30_000);
    expect(throttle.peek('connection_token_failure', '203.0.113.7')).toEqual({ allowed: true });
  });

  it('a limit of 0 is off', () => {
    const throttle = createAddressThrottle({ clock: new FakeClock('2026-01-05T10:00:00Z'), limits: LIMITS });
    expect(
      Array.from({ length: 100 }, () => throttle.take('session_initialize', '203.0.113.7').allowed).every(Boolean),
    ).toBe(true);
  });

  it('keeps at most maxBuckets buckets, dropping the least recently used', () => {
    const throttle = createAddressThrottle({
      clock: new FakeClock('2026-01-05T10:00:00Z'),
      limits: LIMITS,
      maxBuckets: 2,
    });
    throttle.take('register', 'a');
    throttle.take('register', 'a');
    expect(throttle.take('register', 'a').allowed).toBe(false);
    throttle.take('register', 'b');
    throttle.take('register', 'c'); // evicts a's bucket (least recently used)
    expect(throttle.take('register', 'a').allowed).toBe(true);
  });
});

describe('client address', () => {
  it('L20: reads X-Forwarded-For from the right (what our front end appended), never the forgeable left-most entry', () => {
    expect(clientAddress('198.51.100.1, 203.0.113.7', '10.0.0.1', 1)).toBe('203.0.113.7');
    expect(clientAddress('198.51.100.1, 203.0.113.7, 192.0.2.9', '10.0.0.1', 2)).toBe('203.0.113.7');
    expect(clientAddress('203.0.113.7', '10.0.0.1', 2)).toBe('203.0.113.7'); // fewer entries than hops: the left-most was still appended by a trusted hop
    expect(clientAddress(undefined, '::ffff:127.0.0.2', 1)).toBe('127.0.0.2');
    expect(clientAddress(undefined, undefined, 1)).toBe('unknown');
  });

  it('keys IPv6 by /64 and anything unparseable into one shared bucket', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('[2001:db8:1:2:ffff:ffff:ffff:ffff]')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002::')).toBe('2001:db8:1:2::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('not-an-address')).toBe('unparseable');
  });
});
