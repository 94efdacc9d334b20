/** The pure parts of the body gate: JSON depth without parsing, strict forms. */
import { EdgeError } from '../../../shared/http/edge-error.js';
import { exceedsJsonDepth, MAX_FORM_FIELDS, parseForm } from '../../../shared/http/body.js';

describe('exceedsJsonDepth', () => {
  it('counts arrays and objects, not brackets inside strings or after escaped quotes', () => {
    expect(exceedsJsonDepth('[[[1]]]', 3)).toBe(false);
    expect(exceedsJsonDepth('[[[[1]]]]', 3)).toBe(true);
    expect(exceedsJsonDepth('{"a":{"b":{"c":1}}}', 3)).toBe(false);
    expect(exceedsJsonDepth(`{"s":"${'['.repeat(100)}\\"${'{'.repeat(100)}"}`, 2)).toBe(false);
    expect(exceedsJsonDepth(`["\\\\",${'['.repeat(5)}]`, 3)).toBe(true); // an escaped backslash closes nothing
  });

  it('stops at the limit: 10,000 levels cost one short scan', () => {
    expect(exceedsJsonDepth('['.repeat(10_000) + ']'.repeat(10_000), 32)).toBe(true);
  });
});

describe('parseForm', () => {
  it('decodes + and percent-escapes; a repeated name becomes an array; __proto__ is plain data', () => {
    const form = parseForm('a=1+2&b=%C3%A9&a=3&__proto__=x&flag');
    expect(Object.entries(form)).toEqual([
      ['a', ['1 2', '3']],
      ['b', 'é'],
      ['__proto__', 'x'],
      ['flag', ''],
    ]);
    expect(Object.getPrototypeOf(form)).toBe(Object.prototype);
    expect(Object.hasOwn(form, '__proto__')).toBe(true);
  });

  it.each(['a=%zz', 'a=%', 'a=%E0%A4%A', '%C0=1'])('refuses a bad percent-escape (%s) instead of guessing', (text) => {
    expect(() => parseForm(text)).toThrow(EdgeError);
  });

  it('refuses more than MAX_FORM_FIELDS fields', () => {
    expect(() => parseForm(Array.from({ length: MAX_FORM_FIELDS + 1 }, (_, i) => `f${i}=1`).join('&'))).toThrow(
      EdgeError,
    );
  });
});
