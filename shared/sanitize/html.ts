/**
 * Rally rich text (Description, Notes, discussion posts) to readable plain
 * text. Parses with parse5 (the WHATWG algorithm) into a domhandler tree and walks it, keeping
 * only visible text (security cases J1, J3, J4, L8).
 * @module
 */
import { parseFragment } from 'parse5';
import { adapter } from 'parse5-htmlparser2-tree-adapter';
import { isTag, isText, type ChildNode, type Element } from 'domhandler';
import { applyStyle, endsOffLeft, isUnreadable, ROOT_RENDERING, type Rendering, type StyleVerdict } from './css.js';
import { cleanMultiline, stripInvisible } from './text.js';

export { styleHides } from './css.js';

/** Elements whose whole subtree is never shown. */
const DROPPED = new Set([
  'script',
  'style',
  'template',
  'noscript',
  'iframe',
  'object',
  'embed',
  'applet',
  'svg',
  'math',
  'head',
  'title',
  'meta',
  'link',
  'base',
  'frame',
  'frameset',
  'canvas',
  'audio',
  'video',
  'source',
  'track',
  'input',
  'textarea',
  'select',
  'option',
  'button',
  'form',
  'dialog',
  'param',
  'map',
  'area',
]);

/** Elements that start and end on their own line. */
const BLOCK = new Set([
  'div',
  'section',
  'article',
  'header',
  'footer',
  'main',
  'nav',
  'aside',
  'address',
  'figure',
  'figcaption',
  'blockquote',
  'pre',
  'ul',
  'ol',
  'dl',
  'dt',
  'dd',
  'table',
  'thead',
  'tbody',
  'tfoot',
  'caption',
  'details',
  'summary',
  'fieldset',
  'legend',
  'center',
  'hr',
]);
/** Elements that get a blank line around them. */
const PARAGRAPH = new Set(['p', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6']);
/** Elements whose content starts a new line box, so a shift before them does not reach it. */
const STARTS_LINE = new Set([...BLOCK, ...PARAGRAPH, 'br', 'li', 'tr', 'td', 'th']);

// Sentinels for structure. Text nodes are stripped of every control character first,
// so Rally content can never forge one.
const NL = '\u0001'; // soft line break: a run of them is one newline
const INDENT = '\u0002'; // one level of list indentation
const PARA = '\u0003'; // paragraph break: a run containing one is a blank line
// eslint-disable-next-line no-control-regex -- sentinels are control characters on purpose
const SENTINELS = /[\u0001\u0002\u0003]/g;

/**
 * Whether an element is hidden, and what it passes to its children. `hidden` hides in
 * every browser; aria-hidden text is visible but explicitly not meant for assistive
 * readers, and the model reads like one, so it is dropped too.
 */
function look(el: Element, parent: Rendering): StyleVerdict {
  const a = el.attribs;
  if ('hidden' in a || (a['aria-hidden'] ?? '').trim().toLowerCase() === 'true')
    return { hidden: true, shiftsFollowing: false, lineShiftPx: 0, rendering: parent };
  const style = legacyColors(el.name.toLowerCase(), a) + (a.style ?? '');
  return style === ''
    ? { hidden: false, shiftsFollowing: false, lineShiftPx: 0, rendering: parent }
    : applyStyle(style, parent);
}

const LEGACY_BGCOLOR = new Set(['body', 'table', 'tr', 'td', 'th']);

/** `<font color>` and `bgcolor` paint like their CSS properties (before the inline style, which wins). */
function legacyColors(name: string, a: Record<string, string>): string {
  // HTML's legacy colour parsing reads "ffffff" as #ffffff.
  const colour = (v: string) =>
    (/^[0-9a-f]{3}(?:[0-9a-f]{3})?$/i.test(v.trim()) ? `#${v.trim()}` : v.trim()).replace(/[;:]/g, '');
  return (
    (name === 'font' && a.color !== undefined ? `color:${colour(a.color)};` : '') +
    (LEGACY_BGCOLOR.has(name) && a.bgcolor !== undefined ? `background-color:${colour(a.bgcolor)};` : '')
  );
}

/** An absolute http(s) URL with credentials removed, or undefined. */
export function safeHttpUrl(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const trimmed = stripInvisible(raw).trim();
  if (!/^https?:\/\//i.test(trimmed)) return undefined;
  try {
    const url = new URL(trimmed);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    url.username = '';
    url.password = '';
    return url.href.length <= 2000 ? url.href : undefined;
  } catch {
    return undefined;
  }
}

interface WalkState {
  rendering: Rendering;
  /** Shared by the inline content of one line: set once something pulls the rest of the line off screen. */
  line: { shifted: boolean; offsetPx: number };
  listDepth: number;
  inPre: boolean;
  inCell: boolean;
}

/** True when some inline descendant pulls the rest of the line away (checked for elements we skip). */
function inlineShiftWithin(el: Element, rendering: Rendering): boolean {
  return el.children.some((c) => {
    if (!isTag(c) || STARTS_LINE.has(c.name.toLowerCase())) return false;
    const verdict = look(c, rendering);
    return verdict.shiftsFollowing || inlineShiftWithin(c, verdict.rendering);
  });
}

function textOf(nodes: readonly ChildNode[], state: WalkState, out: string[]): void {
  for (const node of nodes) {
    if (isText(node)) {
      if (state.line.shifted || isUnreadable(state.rendering)) continue;
      let t = stripInvisible(node.data).replace(SENTINELS, '');
      if (endsOffLeft(t.replace(/\s/g, '').length, state.rendering.offsetXPx + state.line.offsetPx, state.rendering))
        continue;
      if (!state.inPre || state.inCell) t = t.replace(/\s+/g, ' ');
      // inside <pre>, source newlines are hard newlines and survive as-is
      out.push(t);
      continue;
    }
    if (!isTag(node)) continue; // comments, CDATA, directives, processing instructions
    const name = node.name.toLowerCase();
    if (DROPPED.has(name) || (state.line.shifted && !STARTS_LINE.has(name))) continue;
    const verdict = look(node, state.rendering);
    if (STARTS_LINE.has(name)) {
      // A hidden block may generate no box at all (display:none) and then ends no line: what follows it
      // stays on the shifted line, so only a shown block resets the shift (errs towards hiding).
      if (verdict.hidden) continue;
      walkElement(node, name, { ...state, rendering: verdict.rendering, line: { shifted: false, offsetPx: 0 } }, out);
      state.line.shifted = false; // what follows a block (or <br>) starts on a new line
      state.line.offsetPx = 0;
      continue;
    }
    // e.g. an inline span with margin-left:-9999px; a hidden span (clip-path, opacity) still takes part in layout
    if (verdict.shiftsFollowing || (verdict.hidden && inlineShiftWithin(node, verdict.rendering)))
      state.line.shifted = true;
    if (!verdict.hidden) walkElement(node, name, { ...state, rendering: verdict.rendering }, out);
    state.line.offsetPx += verdict.lineShiftPx;
  }
}

function walkElement(el: Element, name: string, state: WalkState, out: string[]): void {
  const sep = state.inCell ? ' ' : NL;
  switch (name) {
    case 'br':
      out.push(state.inCell ? ' ' : '\n'); // a hard newline: <br><br> leaves a blank line
      return;
    case 'img':
      out.push('[image]');
      return;
    case 'a': {
      const inner: string[] = [];
      textOf(el.children, state, inner);
      const text = inner.join('').trim();
      const href = safeHttpUrl(el.attribs.href);
      if (href && text && text !== href) out.push(`${text} (${href})`);
      else if (href && !text) out.push(href);
      else out.push(text);
      return;
    }
    case 'li': {
      out.push(NL, INDENT.repeat(Math.max(0, state.listDepth - 1)), '- ');
      textOf(el.children, state, out);
      out.push(NL);
      return;
    }
    case 'ul':
    case 'ol': {
      const brk = state.listDepth === 0 && !state.inCell ? PARA : sep; // a top-level list is its own paragraph
      out.push(brk);
      textOf(el.children, { ...state, listDepth: state.listDepth + 1 }, out);
      out.push(brk);
      return;
    }
    case 'tr': {
      const cells = el.children
        .filter((c): c is Element => isTag(c) && ['td', 'th'].includes(c.name.toLowerCase()))
        .map((cell) => ({ cell, verdict: look(cell, state.rendering) }))
        .filter(({ verdict }) => !verdict.hidden);
      const rendered = cells.map(({ cell, verdict }) => {
        const parts: string[] = [];
        textOf(
          cell.children,
          { ...state, rendering: verdict.rendering, line: { shifted: false, offsetPx: 0 }, inCell: true },
          parts,
        );
        return parts.join('').replace(SENTINELS, ' ').replace(/\s+/g, ' ').trim();
      });
      out.push(NL, rendered.join(' | '), NL);
      return;
    }
    case 'table':
      out.push(PARA);
      textOf(el.children, state, out);
      out.push(PARA);
      return;
    case 'pre':
      out.push(NL);
      textOf(el.children, { ...state, inPre: true }, out);
      out.push(NL);
      return;
    default:
      if (PARAGRAPH.has(name)) {
        out.push(PARA);
        textOf(el.children, state, out);
        out.push(PARA);
      } else if (BLOCK.has(name)) {
        out.push(sep);
        textOf(el.children, state, out);
        out.push(sep);
      } else {
        textOf(el.children, state, out);
      }
  }
}

/**
 * Converts an HTML fragment to plain text: hidden and active content dropped,
 * links as "text (url)" for http(s) only, images as "[image]", lists as "- ",
 * table rows as "a | b", then cleaned and capped at `maxChars`.
 */
export function htmlToText(html: string, maxChars: number): string {
  // parse5 builds the tree the way a browser does (implied end tags, reconstructed formatting
  // elements, foster parenting), so "hidden" is decided on the tree a browser would render.
  const doc = parseFragment(html, { treeAdapter: adapter });
  const out: string[] = [];
  textOf(
    doc.children,
    { rendering: ROOT_RENDERING, line: { shifted: false, offsetPx: 0 }, listDepth: 0, inPre: false, inCell: false },
    out,
  );
  const text = out
    .join('')
    // eslint-disable-next-line no-control-regex -- sentinels are control characters on purpose
    .replace(/[\u0001\u0003][\u0001\u0003 \t]*/g, (run) => (run.includes(PARA) ? '\n\n' : '\n'))
    .split('\n')
    .map((line) => {
      // eslint-disable-next-line no-control-regex -- sentinels are control characters on purpose
      const indent = /^[ \t]*(\u0002*)/.exec(line)?.[1]?.length ?? 0;
      const rest = line
        // eslint-disable-next-line no-control-regex -- sentinels are control characters on purpose
        .replace(/^[ \t\u0002]*/, '')
        .replace(SENTINELS, '')
        .replace(/[ \t]+/g, ' ')
        .trimEnd();
      return rest ? '  '.repeat(indent) + rest : '';
    })
    .join('\n');
  return cleanMultiline(text, maxChars);
}
