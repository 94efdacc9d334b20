import { capText, cleanLine, cleanMultiline, neutraliseMarkdown } from '../../../shared/sanitize/text.js';

describe('cleanLine', () => {
  it('collapses a name to one clean line', () => {
    expect(cleanLine('  Export\n\tdrops\u200b owner \u202e ')).toBe('Export drops owner');
  });

  it('neutralises markdown in names', () => {
    expect(cleanLine('Fix ![p](https://attacker.example/p.png) [here](javascript:x)')).toBe('Fix [image] here');
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
  it('removes leftover image openers', () => {
    expect(neutraliseMarkdown('![unterminated(')).toBe('[unterminated(');
  });
});
