/**
 * Cleaning for every Rally string that reaches tool output: invisible and
 * control characters removed, Markdown images and non-http(s) links
 * neutralised, whitespace collapsed, length capped with a visible marker
 * (security cases J1, J3, J4, L7).
 * @module
 */
import { decodeHTMLStrict } from 'entities';

/** Per-field caps (characters). */
export const MAX_NAME_CHARS = 500;
export const MAX_DESCRIPTION_CHARS = 4000;
export const MAX_COMMENT_CHARS = 2000;
export const MAX_MESSAGE_CHARS = 300;
/** Cap for the text of one whole tool result. */
export const MAX_RESULT_CHARS = 24_000;

// Zero-width and bidi controls, word joiners and invisible operators, BOM,
// Unicode tag characters, C0/C1 controls except \n and \t, line/paragraph separators,
// soft hyphen, Mongolian vowel separator and the interlinear annotation characters.
const INVISIBLE =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u00ad\u180e\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]|\udb40[\udc00-\udc7f]/g;

/** Removes invisible, bidi, tag and control characters (keeps \n and \t). Lone surrogates are dropped too. */
export function stripInvisible(s: string): string {
  return s
    .replace(/\r\n?/g, '\n')
    .replace(INVISIBLE, '')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '');
}

// ---- Markdown: a best-effort readability pass, then a total gate ----
//
// The gate is what makes the output safe; the patterns before it only make common
// Markdown read better (an image becomes "[image]" without its URL, a link "label (url)").
// The gate substitutes characters instead of backslash-escaping them: tool results carry
// Rally text inside JSON, and JSON doubles every backslash, so "\[" would reach a
// Markdown renderer as "\\[" — an escaped backslash followed by a live "[".

// Character references a renderer could decode into Markdown punctuation (CommonMark
// decodes them in link destinations, and some renderers decode them before parsing).
// They are decoded here so the gate sees the character; "&amp;" is kept as written.
const CHAR_REF = /&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});/g;
const ASCII_PUNCTUATION = /^[!-/:-@[-`{-~]$/;
const decodePunctuationRefs = (s: string): string =>
  s.replace(CHAR_REF, (ref) => {
    const ch = decodeHTMLStrict(ref);
    return ch !== '&' && ASCII_PUNCTUATION.test(ch) ? ch : ref;
  });

const LABEL = String.raw`((?:[^\[\]\n\\]|\\.|\[[^\[\]\n]{0,200}\]){0,500})`;
const DEST = String.raw`<[^<>\n]*>|(?:[^\s()<>\\]|\\.|\((?:[^\s()\\]|\\.|\([^\s()]*\))*\))+`;
const TITLE = String.raw`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\((?:[^()\\]|\\.)*\)`;
const TARGET = String.raw`\(\s*(${DEST})?(?:\s+(?:${TITLE}))?\s*\)`;
const MD_IMAGE = new RegExp(String.raw`!\[${LABEL}\](?:${TARGET}|\[[^\[\]\n]{0,200}\])?`, 'g');
const MD_LINK = new RegExp(String.raw`\[${LABEL}\]${TARGET}`, 'g');
const MD_REF_DEF = /^ {0,3}\[[^\]\n]{1,999}\]:.*$/gm;
const BAD_SCHEME = /\b(?:javascript|vbscript|livescript)\s*:[^\s]*|\b(?:data|file|blob|filesystem):(?=\S)[^\s]*/gi;

/** "label (url)" for an http(s) target (credentials dropped), else the label alone. */
function linkText(label: string, rawTarget: string | undefined): string {
  const text = label.trim();
  const target = (rawTarget ?? '').replace(/^<|>$/g, '').replace(/\\(.)/g, '$1');
  const url = /^https?:\/\//i.test(target) ? safeUrl(target) : undefined;
  if (!url) return text;
  return text && text !== target && text !== url ? `${text} (${url})` : url;
}

function safeUrl(raw: string): string | undefined {
  try {
    const url = new URL(raw);
    url.username = '';
    url.password = '';
    return url.href;
  } catch {
    return undefined;
  }
}

/**
 * The gate: after it no "[" or "]" remains (so no image, link, reference definition or
 * footnote can form, in the text alone or next to JSON's own brackets), and no "<" that
 * could open an HTML tag or an autolink (it stays only before whitespace). The
 * substitutes are look-alikes, so the text still reads the same.
 */
export function gateMarkdown(s: string): string {
  return s
    .replace(/\[/g, '［')
    .replace(/\]/g, '］')
    .replace(/<(?![ \t\n])/g, '‹');
}

/**
 * Makes Rally text inert in any CommonMark/GFM renderer: images become "[image]", links
 * "text (url)" for http(s) targets and plain text otherwise, reference definitions are
 * dropped, bare javascript:/data:/vbscript:/file: URLs become "[link removed]"; then
 * {@link gateMarkdown} removes every bracket and tag opener whatever the patterns missed.
 */
export function neutraliseMarkdown(s: string): string {
  const readable = decodePunctuationRefs(s)
    .replace(MD_IMAGE, '[image]')
    .replace(MD_LINK, (_m, label: string, target: string | undefined) => linkText(label, target))
    .replace(MD_REF_DEF, '')
    .replace(BAD_SCHEME, '[link removed]');
  return gateMarkdown(readable);
}

/** Collapses runs of spaces and tabs, trims lines (keeping bounded indentation), and keeps at most one blank line. */
export function collapseWhitespace(s: string): string {
  return s
    .split('\n')
    .map((line) => {
      // Leading indentation (nested lists) survives, bounded; everything else collapses.
      const indent = Math.min(16, (/^[ \t]*/.exec(line)?.[0] ?? '').replace(/\t/g, '  ').length);
      const rest = line.replace(/[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+/g, ' ').trim();
      return rest ? ' '.repeat(indent) + rest : '';
    })
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

const fmt = (n: number): string => n.toLocaleString('en-US');

/** Index at which to cut `s` to at most `max` characters without splitting a surrogate pair. */
function cutIndex(s: string, max: number): number {
  if (s.length <= max) return s.length;
  const code = s.charCodeAt(max - 1);
  return code >= 0xd800 && code <= 0xdbff ? max - 1 : max;
}

const marker = (omitted: number): string => `… [truncated: ${fmt(omitted)} more characters]`;

/** Cuts `s` to `max` characters and appends a visible marker counting what was left out. */
export function capText(s: string, max: number): string {
  if (s.length <= max) return s;
  const cut = cutIndex(s, max);
  return s.slice(0, cut) + marker(s.length - cut);
}

// Text beyond the cap (plus this margin) is never scanned by the Markdown rules, which keeps
// the work bounded for a 5 MB description; the marker still counts what was left out.
const SCAN_MARGIN_CHARS = 2000;

function cleanBounded(stripped: string, max: number, finish: (s: string) => string): string {
  const scanned = stripped.length > max + SCAN_MARGIN_CHARS ? stripped.slice(0, max + SCAN_MARGIN_CHARS) : stripped;
  const unseen = stripped.length - scanned.length;
  const done = finish(neutraliseMarkdown(scanned));
  if (done.length <= max && unseen === 0) return done;
  const cut = cutIndex(done, max);
  return done.slice(0, cut) + marker(done.length - cut + unseen);
}

/** Full cleaning for multi-line plain text (already decoded). */
export function cleanMultiline(s: string, max: number): string {
  return cleanBounded(collapseWhitespace(stripInvisible(s)), max, collapseWhitespace);
}

/** Full cleaning for a one-line Rally string: names, user names, Rally error messages. */
export function cleanLine(s: string, max: number = MAX_NAME_CHARS): string {
  const oneLine = (t: string): string => t.replace(/\s+/g, ' ').trim();
  return cleanBounded(oneLine(stripInvisible(s)), max, oneLine);
}
