/**
 * Cleaning for every Rally string that reaches tool output: invisible and
 * control characters removed, Markdown images and non-http(s) links
 * neutralised, whitespace collapsed, length capped with a visible marker
 * (security cases J1, J3, J4).
 * @module
 */

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
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u00ad\u180e\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]|\udb40[\udc00-\udc7f]/g;

/** Removes invisible, bidi, tag and control characters (keeps \n and \t). Lone surrogates are dropped too. */
export function stripInvisible(s: string): string {
  return s
    .replace(/\r\n?/g, '\n')
    .replace(INVISIBLE, '')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '');
}

const SAFE_SCHEME = /^https?:\/\//i;
// A link target with at most one level of balanced parentheses, e.g. javascript:alert(1).
const TARGET = String.raw`\s*<?((?:[^()\s<>]|\([^()\s]*\))*)>?(?:\s+"[^"\n]*")?\s*`;
const MD_IMAGE = new RegExp(String.raw`!\[([^\]\n]{0,1000})\]\(${TARGET}\)`, 'g');
const MD_IMAGE_REF = /!\[([^\]\n]{0,1000})\]\[[^\]\n]{0,200}\]/g;
const MD_LINK = new RegExp(String.raw`\[([^\]\n]{0,1000})\]\(${TARGET}\)`, 'g');
const MD_REF_DEF = /^\s{0,3}\[[^\]\n]{1,200}\]:\s*\S+.*$/gm;
const BAD_SCHEME = /\b(?:javascript|vbscript|livescript)\s*:[^\s]*|\b(?:data|file|blob|filesystem):(?=\S)[^\s]*/gi;

/**
 * Neutralises Markdown that a chat client could render into a request or a
 * dangerous link: images become "[image]", links become "text (url)" for
 * http(s) targets and plain text otherwise, reference definitions are dropped,
 * bare javascript:/data:/vbscript:/file: URLs become "[link removed]", and a literal
 * "<" that would open a tag becomes "‹".
 */
export function neutraliseMarkdown(s: string): string {
  return s
    .replace(MD_IMAGE, '[image]')
    .replace(MD_IMAGE_REF, '[image]')
    .replace(MD_LINK, (_m, text: string, target: string) => {
      const label = text.trim();
      if (SAFE_SCHEME.test(target)) return label && label !== target ? `${label} (${target})` : target;
      return label;
    })
    .replace(MD_REF_DEF, '')
    .replace(BAD_SCHEME, '[link removed]')
    .replace(/!\[/g, '[')
    // Literal tag-like text (from escaped entities) must not become markup in a client that
    // renders HTML inside Markdown, e.g. an <img> that fetches an attacker URL.
    .replace(/<(?=[A-Za-z/!?])/g, '‹');
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
