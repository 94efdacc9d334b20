import { createHash } from 'node:crypto';
import { randomToken, sha256Id } from '../../../shared/kernel/hash.js';

describe('hash', () => {
  test('E9/F6 sha256Id is 43-char base64url SHA-256', () => {
    expect(sha256Id('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
    const id = sha256Id('state-value');
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(id).toBe(createHash('sha256').update('state-value').digest('base64url'));
    expect(sha256Id('a')).not.toBe(sha256Id('b'));
  });

  test('randomToken is base64url of the requested size and does not repeat', () => {
    expect(randomToken()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomToken(16)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const seen = new Set(Array.from({ length: 1000 }, () => randomToken()));
    expect(seen.size).toBe(1000);
    expect(randomToken(9)).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(() => randomToken(0)).toThrow(RangeError);
    expect(() => randomToken(1.5)).toThrow(RangeError);
  });
});
