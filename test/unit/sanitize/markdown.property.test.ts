/**
 * Property test for L7: generated Markdown (image variants, reference definitions,
 * dangerous schemes with case, whitespace and entity tricks) through every cleaning
 * entry point, judged by a real CommonMark/GFM parser.
 */
import fc from 'fast-check';
import { htmlToText } from '../../../shared/sanitize/html.js';
import { cleanLine, cleanMultiline } from '../../../shared/sanitize/text.js';
import { renderedHazards } from '../../helpers/markdown-oracle.js';

const scheme = fc.constantFrom(
  'javascript:',
  'JaVaScRiPt:',
  ' javascript:',
  'java&#115;cript:',
  '&#106;avascript:',
  'javascript&colon;',
  'data:',
  'DATA:',
  'vbscript:',
  'file:',
  'file://',
  'blob:',
  'https://',
  'http://',
  'HTTPS://',
  '//',
  'mailto:',
);
const url = fc
  .tuple(
    scheme,
    fc.constantFrom('attacker.example/p.png?d=secret', 'alert(1)', 'text/html,<b>x</b>', '/etc/passwd', 'a/(b)', 'a b'),
  )
  .map(([s, rest]) => s + rest);
const label = fc.constantFrom('x', '', 'a [b] c', 's', 'r', '![i](u)', 'a\\]b', '`x`');
const title = fc.constantFrom('', ' "t"', " 't'", ' (t)', '\n"t"');
const bang = fc.constantFrom('!', '!!', '&#33;', '&excl;', '\\!', '');
const open = fc.constantFrom('[', '&#91;', '&lsqb;', '\\[');
const close = fc.constantFrom(']', '&#93;', '&rsqb;', '\\]');

const construct = fc.oneof(
  fc.tuple(bang, open, label, close, url, title).map(([b, o, l, c, u, t]) => `${b}${o}${l}${c}(${u}${t})`),
  fc.tuple(bang, open, label, close, url, title).map(([b, o, l, c, u, t]) => `${b}${o}${l}${c}(<${u}>${t})`),
  fc.tuple(bang, label, fc.constantFrom('', '[]', '[r]')).map(([b, l, ref]) => `${b}[${l}]${ref}`),
  fc.tuple(fc.constantFrom('', ' ', '   '), url, title).map(([indent, u, t]) => `\n${indent}[r]: ${u}${t}\n`),
  url.map((u) => `<${u}>`),
  url,
  fc.constantFrom(
    '<img src="https://attacker.example/p.png">',
    '<a href="javascript:alert(1)">x</a>',
    'bob@example.com',
    'www.ok.example',
  ),
);
const glue = fc.string({
  unit: fc.constantFrom(
    '!',
    '[',
    ']',
    '(',
    ')',
    '<',
    '>',
    '\\',
    '`',
    '&',
    '#',
    ';',
    ':',
    '"',
    "'",
    ' ',
    '\n',
    'a',
    '1',
    '@',
  ),
  maxLength: 12,
});
const markdown = fc.array(fc.oneof(construct, glue), { minLength: 1, maxLength: 8 }).map((parts) => parts.join(''));

const expectInert = (out: string): void => {
  expect(renderedHazards(out)).toEqual([]);
  expect(renderedHazards(JSON.stringify({ items: [{ name: { text: out } }] }))).toEqual([]);
};

describe('L7: property — no image, raw HTML or non-http(s) link survives cleaning', () => {
  it('L7: cleanLine, cleanMultiline and htmlToText outputs render inert, alone, in JSON and side by side', () => {
    fc.assert(
      fc.property(markdown, markdown, (a, b) => {
        const outs = [
          cleanLine(a),
          cleanMultiline(a, 4000),
          htmlToText(a, 4000),
          htmlToText(`<p>${b}</p><pre>${a}</pre>`, 4000),
        ];
        for (const out of outs) expectInert(out);
        expectInert(`${cleanMultiline(a, 4000)}\n\n${cleanMultiline(b, 4000)}\n${cleanLine(b)}`); // definitions in one field, references in another
      }),
      { numRuns: 250 },
    );
  });
});
