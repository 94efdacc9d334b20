/**
 * The request digest a 2026-07-28 `requestState` is bound to (shared/mcp/sign-in-round.ts):
 * equal requests give equal bytes whatever their key order, different requests never do.
 */
import fc from 'fast-check';
import { canonicalJson } from '../../../shared/mcp/sign-in-round.js';

/** The same value with every object's keys in reverse order. */
function reorder(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reorder);
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([k, v]) => [k, reorder(v)]),
    );
  return value;
}

describe('canonicalJson (N4: the request a state is bound to)', () => {
  it('is independent of key order at every depth', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonicalJson(reorder(value))).toBe(canonicalJson(value));
      }),
    );
  });

  it('keeps array order and tells apart values that differ', () => {
    expect(canonicalJson({ types: ['story', 'defect'] })).not.toBe(canonicalJson({ types: ['defect', 'story'] }));
    expect(canonicalJson({ id: 'US1' })).not.toBe(canonicalJson({ id: 'US2' }));
    expect(canonicalJson({ a: { b: 1, c: 2 } })).toBe('{"a":{"b":1,"c":2}}');
  });
});
