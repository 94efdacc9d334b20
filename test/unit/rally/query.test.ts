import { RallyQueryError } from '../../../shared/rally/errors.js';
import { andAll, andRaw, compileQuery, isQuotableValue, validateRawQuery } from '../../../shared/rally/query.js';

describe('compileQuery', () => {
  it('emits one parenthesised condition', () => {
    expect(compileQuery({ attr: 'FormattedID', op: '=', value: 'US1234' })).toBe('(FormattedID = "US1234")');
  });

  it('nests AND/OR strictly binary, folding left', () => {
    expect(
      compileQuery({
        and: [
          { attr: 'A', op: '=', value: 1 },
          { attr: 'B', op: '=', value: 2 },
          { attr: 'C', op: '=', value: 3 },
        ],
      }),
    ).toBe('(((A = 1) AND (B = 2)) AND (C = 3))');
    expect(
      compileQuery({
        and: [
          {
            or: [
              { attr: 'State', op: '=', value: 'Open' },
              { attr: 'State', op: '=', value: 'Submitted' },
            ],
          },
          { attr: 'Severity', op: '=', value: 'Major Problem' },
        ],
      }),
    ).toBe('(((State = "Open") OR (State = "Submitted")) AND (Severity = "Major Problem"))');
  });

  it('collapses a single-operand group to the operand', () => {
    expect(compileQuery({ or: [{ attr: 'Blocked', op: '=', value: true }] })).toBe('(Blocked = true)');
  });

  it('formats dotted paths, null, booleans, refs, today offsets and in-lists', () => {
    expect(
      compileQuery({
        and: [
          { attr: 'Owner.UserName', op: '=', value: 'ana.lima@example.com' },
          { attr: 'Owner', op: '=', value: null },
          { attr: 'Iteration', op: '=', value: { ref: '/iteration/712233445566' } },
          { attr: 'Iteration.StartDate', op: '<=', value: { today: 0 } },
          { attr: 'Iteration.EndDate', op: '>=', value: { today: -3 } },
          { attr: 'ScheduleState', op: 'in', value: ['Defined', 'In-Progress'] },
        ],
      }),
    ).toBe(
      '((((((Owner.UserName = "ana.lima@example.com") AND (Owner = null)) AND (Iteration = /iteration/712233445566))' +
        ' AND (Iteration.StartDate <= today)) AND (Iteration.EndDate >= today-3)) AND (ScheduleState in "Defined,In-Progress"))',
    );
  });

  it('quotes values with spaces and single quotes', () => {
    expect(compileQuery({ attr: 'Name', op: 'contains', value: "Bob's export (draft)" })).toBe(
      `(Name contains "Bob's export (draft)")`,
    );
  });

  describe('injection attempts', () => {
    it.each([
      'x") OR (Owner.UserName = "bob',
      'x\\") OR (Owner.UserName = \\"bob',
      'line\nbreak',
      'nul\u0000byte',
      'ls\u2028sep',
    ])('rejects %j', (value) => {
      expect(() => compileQuery({ attr: 'Name', op: 'contains', value })).toThrow(RallyQueryError);
      expect(isQuotableValue(value)).toBe(false);
    });

    it('rejects bad attribute names and operators', () => {
      expect(() => compileQuery({ attr: 'Name) OR (1', op: '=', value: 1 })).toThrow(RallyQueryError);
      expect(() => compileQuery({ attr: 'Name', op: 'zobolts' as '=', value: 1 })).toThrow(RallyQueryError);
      expect(() => compileQuery({ attr: 'Iteration', op: '=', value: { ref: '/iteration/1) OR (x' } })).toThrow(
        RallyQueryError,
      );
      expect(() => compileQuery({ attr: 'State', op: 'in', value: ['a,b'] })).toThrow(RallyQueryError);
      expect(() => compileQuery({ attr: 'X', op: '=', value: Number.NaN })).toThrow(RallyQueryError);
      expect(() => compileQuery({ and: [] })).toThrow(RallyQueryError);
    });

    it('rejects over-long values', () => {
      expect(() => compileQuery({ attr: 'Name', op: 'contains', value: 'a'.repeat(257) })).toThrow(RallyQueryError);
    });
  });

  it('andAll skips undefined filters', () => {
    expect(andAll([undefined, undefined])).toBeUndefined();
    expect(andAll([undefined, { attr: 'A', op: '=', value: 1 }])).toEqual({ attr: 'A', op: '=', value: 1 });
  });
});

describe('validateRawQuery', () => {
  it.each([
    ['(FormattedID = US1234)', '(FormattedID = US1234)'],
    ['  ((Owner = null) AND (Blocked = true))  ', '((Owner = null) AND (Blocked = true))'],
    ['(Name contains "a (b")', '(Name contains "a (b")'],
  ])('accepts %j', (raw, value) => {
    expect(validateRawQuery(raw)).toEqual({ ok: true, value });
  });

  it.each([
    ['', 'empty'],
    ['Name = x', 'not_parenthesised'],
    ['(A = 1) AND (B = 2)', 'not_parenthesised'],
    ['((A = 1)', 'unbalanced_parentheses'],
    ['(A = 1))', 'unbalanced_parentheses'],
    ['(Name = "x)', 'unbalanced_quotes'],
    ['(Name = x\u0000)', 'control_characters'],
    [`(Name = "${'a'.repeat(2000)}")`, 'too_long'],
  ])('rejects %j as %s', (raw, error) => {
    expect(validateRawQuery(raw)).toEqual({ ok: false, error });
  });

  it('andRaw combines two parenthesised queries', () => {
    expect(andRaw('(A = 1)', '(B = 2)')).toBe('((A = 1) AND (B = 2))');
    expect(andRaw(undefined, '(B = 2)')).toBe('(B = 2)');
  });
});
