/**
 * Decides whether an inline `style` hides text in a browser (security cases J1, L8).
 * The style is unescaped per CSS Syntax Level 3 first, so `display:\6e one`,
 * `disp\lay:none` and `display:/**\/none` are seen as written. Every rule errs towards
 * "hidden": a value we cannot evaluate (calc(), var(), an unknown unit) on a property
 * that can hide text counts as hiding.
 * @module
 */
import COLOR_NAMES from 'color-name';

/** What a parent passes down: its computed font size, and how much it scales and fades its content. */
export interface Rendering {
  readonly fontPx: number;
  readonly opacity: number;
  readonly scale: number;
  /** Some ancestor (or the element) clips overflow / is sized below MIN_BOX_PX: together they clip its content away. */
  readonly clipsOverflow: boolean;
  readonly tinyBox: boolean;
  /** How far right of the container's left edge content starts (negative: pulled towards or past the edge). */
  readonly offsetXPx: number;
  /** The text colour content inherits, when we can tell. */
  readonly color: Rgb | undefined;
  /** The opaque colour behind the content, when we can tell (an image or gradient: undefined). */
  readonly background: Rgb | undefined;
}

export type Rgb = readonly [number, number, number];

/** Rally shows rich text black on white. */
export const ROOT_RENDERING: Rendering = {
  fontPx: 16,
  opacity: 1,
  scale: 1,
  clipsOverflow: false,
  tinyBox: false,
  offsetXPx: 0,
  color: [0, 0, 0],
  background: [255, 255, 255],
};

/** Below these, text counts as hidden (tests use the same numbers against Chromium). */
export const MIN_VISIBLE_FONT_PX = 6;
export const MIN_VISIBLE_OPACITY = 0.1;
/**
 * Text in (nearly) the colour behind it is unreadable to a person reviewing the item in Rally, but
 * not to the model: a WCAG contrast ratio below this hides it (#fff on #f0f0f0 is 1.14; #ddd on white 1.36).
 */
export const MIN_VISIBLE_CONTRAST = 1.25;
const MIN_BOX_PX = 5; // a clipped box smaller than this shows nothing readable
const OFFSCREEN_NEAR_PX = 200; // moved this far towards the top or left
const OFFSCREEN_FAR_PX = 1000; // moved this far towards the bottom or right

/**
 * CSS Syntax Level 3 §4.3.7 escapes and §4.3.2 comments: "\6e " and "\6e" are "n",
 * "\l" is "l", a lone "\" at the end is U+FFFD; comments are removed outright (which
 * joins "dis/**\/play" into "display": a browser would not, so this only hides more).
 */
export function unescapeCss(css: string): string {
  let out = '';
  let i = 0;
  while (i < css.length) {
    const c = css.charAt(i);
    if (c === '/' && css[i + 1] === '*') {
      const end = css.indexOf('*/', i + 2);
      i = end < 0 ? css.length : end + 2;
      continue;
    }
    if (c !== '\\') {
      out += c;
      i++;
      continue;
    }
    const hex = /^[0-9a-fA-F]{1,6}/.exec(css.slice(i + 1, i + 7))?.[0];
    if (hex) {
      const cp = parseInt(hex, 16);
      out += cp === 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ? '\ufffd' : String.fromCodePoint(cp);
      i += 1 + hex.length;
      if (css.startsWith('\r\n', i)) i += 2;
      else if (/^[ \t\n\r\f]/.test(css.slice(i, i + 1))) i++;
      continue;
    }
    const next = css.codePointAt(i + 1);
    if (next === undefined) {
      out += '\ufffd';
      i++;
    } else if (next === 0x0a || next === 0x0c || next === 0x0d) {
      i += 2; // a line continuation inside a string; elsewhere invalid, and dropping it only joins more
    } else {
      out += String.fromCodePoint(next);
      i += 1 + (next > 0xffff ? 2 : 1);
    }
  }
  return out;
}

/** `prop: value` pairs, unescaped, lower-cased, `!important` removed. Every declaration counts, even overridden ones. */
export function declarations(style: string): Array<[string, string]> {
  return unescapeCss(style.replace(/\0/g, '\ufffd'))
    .toLowerCase()
    .split(';')
    .flatMap((decl): Array<[string, string]> => {
      const idx = decl.indexOf(':');
      if (idx < 0) return [];
      const prop = decl.slice(0, idx).replace(/\s+/g, '');
      const value = decl
        .slice(idx + 1)
        .replace(/!\s*important/g, '')
        .replace(/\s+/g, ' ')
        .trim();
      return [[prop, value]];
    });
}

const NUMBER = String.raw`[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?`;
const DIMENSION = new RegExp(`^(${NUMBER})([a-z%]*)$`);
const ABSOLUTE_PX: Readonly<Record<string, number>> = {
  '': 1,
  px: 1,
  pt: 4 / 3,
  pc: 16,
  in: 96,
  cm: 96 / 2.54,
  mm: 96 / 25.4,
  q: 96 / 101.6,
};

/**
 * A length in px, or undefined when it cannot be evaluated. `viewportPx` is the
 * viewport size that makes the value most hiding (small for font sizes, large for offsets).
 */
function lengthPx(token: string, fontPx: number, percentOfPx: number, viewportPx: number): number | undefined {
  const m = DIMENSION.exec(token);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? '';
  if (!Number.isFinite(n)) return undefined;
  if (Object.hasOwn(ABSOLUTE_PX, unit)) return n * Number(ABSOLUTE_PX[unit]);
  if (unit === 'em') return n * fontPx;
  if (unit === 'rem') return n * 16;
  if (unit === 'ex' || unit === 'ch' || unit === 'cap' || unit === 'ic') return n * fontPx * (unit === 'ic' ? 1 : 0.5);
  if (unit === 'lh' || unit === 'rlh') return n * fontPx * 1.2;
  if (unit === '%') return (n / 100) * percentOfPx;
  if (/^[sld]?v(w|h|i|b|min|max)$/.test(unit)) return (n / 100) * viewportPx;
  return undefined;
}

const FONT_KEYWORDS: Readonly<Record<string, number>> = {
  'xx-small': 9,
  'x-small': 10,
  small: 13,
  medium: 16,
  large: 18,
  'x-large': 24,
  'xx-large': 32,
  'xxx-large': 48,
};
const KEEPS_PARENT = new Set(['inherit', 'initial', 'unset', 'revert', 'revert-layer']);

function fontSizePx(value: string, parentPx: number): number {
  if (KEEPS_PARENT.has(value)) return parentPx;
  if (Object.hasOwn(FONT_KEYWORDS, value)) return Number(FONT_KEYWORDS[value]);
  if (value === 'smaller') return parentPx / 1.2;
  if (value === 'larger') return parentPx * 1.2;
  return lengthPx(value, parentPx, parentPx, 320) ?? 0; // unknown: treat as tiny
}

/** The size in a `font` shorthand ("bold 0/0 a", "12px/1.4 Arial"), if any. */
function fontShorthandSize(value: string): string | undefined {
  return value
    .split(/[\s/]+/)
    .find((t) => Object.hasOwn(FONT_KEYWORDS, t) || (/^[+-]?[\d.]/.test(t) && !/^\d+$/.test(t)) || t === '0');
}

function numberOrPercent(value: string): number | undefined {
  const m = DIMENSION.exec(value);
  if (!m || (m[2] !== '' && m[2] !== '%')) return undefined;
  const n = Number(m[1]);
  return m[2] === '%' ? n / 100 : n;
}

/** Alpha of a color value; 1 for anything opaque or unknown but plain (named colors). */
function colorAlpha(value: string): number {
  if (value === 'transparent') return 0;
  const hex = /^#([0-9a-f]{4}|[0-9a-f]{8})$/.exec(value)?.[1];
  if (hex) return parseInt(hex.length === 4 ? hex.charAt(3).repeat(2) : hex.slice(6), 16) / 255;
  const fn = /^(?:rgba?|hsla?|hwb|lab|lch|oklab|oklch|color)\((.*)\)$/.exec(value)?.[1];
  if (fn === undefined) return /[(]/.test(value) ? 0 : 1; // other functions (color-mix, var): unknown, treat as transparent
  const alpha =
    /\/\s*([^\s)]+)\s*$/.exec(fn)?.[1] ?? (fn.split(',').length === 4 ? fn.split(',')[3]?.trim() : undefined);
  if (alpha === undefined) return 1;
  return numberOrPercent(alpha) ?? 0;
}

/** An opaque colour as [r, g, b] (alpha ≥ 0.9), or undefined for anything we cannot read as one. */
export function opaqueRgb(value: string): Rgb | undefined {
  const named = COLOR_NAMES[value];
  if (named) return named;
  const hex = /^#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/.exec(value)?.[1];
  if (hex) {
    const full = hex.length <= 4 ? [...hex].map((c) => c + c).join('') : hex;
    return colorAlpha(value) >= 0.9
      ? ([0, 2, 4].map((i) => parseInt(full.slice(i, i + 2), 16)) as unknown as Rgb)
      : undefined;
  }
  const fn = /^rgba?\((.*)\)$/.exec(value)?.[1];
  if (fn === undefined || colorAlpha(value) < 0.9) return undefined;
  const parts = fn
    .split(/[\s,/]+/)
    .filter(Boolean)
    .slice(0, 3);
  const channels = parts.map((p) => (p.endsWith('%') ? (numberOrPercent(p) ?? NaN) * 255 : Number(p)));
  return channels.length === 3 && channels.every((c) => Number.isFinite(c))
    ? (channels.map((c) => Math.min(255, Math.max(0, c))) as unknown as Rgb)
    : undefined;
}

/** Text drawn with this rendering cannot be told from what is behind it (decided per text run: a child may set its own colour). */
export const isUnreadable = (r: Rendering): boolean =>
  r.color !== undefined && r.background !== undefined && contrastRatio(r.color, r.background) < MIN_VISIBLE_CONTRAST;

/** WCAG 2 contrast ratio of two colours (1: identical, 21: black on white). */
export function contrastRatio(a: Rgb, b: Rgb): number {
  const luminance = (c: Rgb) => {
    const [r, g, bl] = c.map((v) => {
      const s = v / 255;
      return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    }) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/** The colour a `background` shorthand paints, undefined when it also paints an image or gradient we cannot see. */
function backgroundOf(value: string, parent: Rgb | undefined): Rgb | undefined {
  if (/\b(?:url|image|image-set|cross-fade|element|paint)\s*\(|gradient\s*\(/.test(value)) return undefined;
  for (const token of value.split(/\s+(?![^(]*\))/)) {
    const rgb = opaqueRgb(token);
    if (rgb) return rgb;
  }
  return parent; // no colour (or a translucent one): what is behind shows through
}

/** Top, right, bottom, left of a 1–4 value box shorthand (margin, inset). */
function boxSides(value: string): [string, string, string, string] {
  const v = value.split(' ');
  const [t = '0', r = t, b = t, l = r] = v;
  return [t, r, b, l];
}

/** True when moving a box by `px` along a top/left axis (or, if `fromFarSide`, a bottom/right one) takes it off screen. */
function offscreen(token: string, fontPx: number, fromFarSide: boolean): boolean {
  if (token === 'auto' || token === 'normal' || KEEPS_PARENT.has(token)) return false;
  const px = lengthPx(token, fontPx, 1920, 1920);
  if (px === undefined) return true;
  const towardsTopLeft = fromFarSide ? px : -px;
  return towardsTopLeft >= OFFSCREEN_NEAR_PX || -towardsTopLeft >= OFFSCREEN_FAR_PX;
}

const TRANSFORM_FN = /([a-z0-9-]+)\(([^()]*)\)/g;

/** Scale factor a transform applies, or 0 when it can hide (off-screen, turned, edge-on, unknown). */
function transformScale(value: string, fontPx: number): number {
  if (value === 'none' || KEEPS_PARENT.has(value)) return 1;
  let scale = 1;
  let matched = '';
  for (const [whole, fn = '', rawArgs = ''] of value.matchAll(TRANSFORM_FN)) {
    matched += whole;
    const args = rawArgs.split(/[\s,]+/).filter(Boolean);
    if (fn.startsWith('scale')) {
      for (const a of args) scale *= Math.abs(numberOrPercent(a) ?? 0);
    } else if (fn.startsWith('translate')) {
      if (args.some((a) => offscreen(a, fontPx, false))) return 0;
    } else {
      return 0; // rotate and skew (a turned wide block lifts its start off the page), matrix, perspective, unknown
    }
  }
  return matched.replace(/\s+/g, '') === value.replace(/\s+/g, '') ? scale : 0; // leftover text (var(), calc()) → unknown
}

const OVERFLOW_CLIPS = /^(hidden|clip|scroll|auto)( (hidden|clip|scroll|auto|visible))?$/;
const SIZE_PROPS = new Set([
  'width',
  'height',
  'max-width',
  'max-height',
  'block-size',
  'inline-size',
  'max-block-size',
  'max-inline-size',
]);

export interface StyleVerdict {
  readonly hidden: boolean;
  /**
   * True when the element pulls the content after it (on the same line) off screen:
   * a large negative inline margin or spacing moves everything that follows with it.
   */
  readonly shiftsFollowing: boolean;
  /** Negative inline margins: how far the content after this element (on the same line) moves left. */
  readonly lineShiftPx: number;
  /** What this element passes to its children. */
  readonly rendering: Rendering;
}

/** CSS functions whose value depends on what an inline style cannot see. */
const UNCOMPUTABLE = /\b(?:var|env|attr|if|inherit-value)\s*\(/i;

/** Applies an inline style to what the parent passes down and says whether the element's text is hidden. */
export function applyStyle(style: string, parent: Rendering): StyleVerdict {
  let opacity = parent.opacity;
  let scale = parent.scale;
  // The smallest declared font size wins (overridden declarations count too); em sizes after it use it.
  let hidden = false;
  const decls = declarations(style);
  const fontPx =
    decls.reduce(
      (px, [prop, value]) => {
        if (prop === 'font-size') return Math.min(px ?? Infinity, fontSizePx(value, parent.fontPx));
        const size = prop === 'font' ? fontShorthandSize(value) : undefined;
        return size === undefined ? px : Math.min(px ?? Infinity, fontSizePx(size, parent.fontPx));
      },
      undefined as number | undefined,
    ) ?? parent.fontPx;
  let shiftsFollowing = false;
  let offsetXPx = parent.offsetXPx;
  let lineShiftPx = 0;
  // With escapes or comments our reading may differ from the browser's (it drops "3\36pt"),
  // so a value that would move text back into view is only trusted from a plain style.
  const isPlain = !/\\|\/\*/.test(style);
  const px = (token: string | undefined): number => {
    const v = token === undefined ? 0 : (lengthPx(token, fontPx, 1920, 1920) ?? 0);
    return isPlain ? v : Math.min(0, v);
  };
  let color = parent.color;
  let background = parent.background;
  let clipsOverflow = parent.clipsOverflow;
  let tinyBox = parent.tinyBox; // an auto-sized child of a tiny box is tiny too
  for (const [prop, value] of decls) {
    // A value we cannot compute here (custom properties, environment, attributes) may resolve to
    // display:none, visibility:hidden or any other hiding value: it hides (Rally's editor writes none).
    if (!prop.startsWith('--') && UNCOMPUTABLE.test(value)) {
      hidden = true;
      continue;
    }
    switch (prop) {
      case 'display':
        hidden ||= value === 'none';
        break;
      // Out of flow inside a clipping ancestor: the ancestor may shrink to nothing around it.
      case 'position':
        hidden ||= parent.clipsOverflow && value !== 'static' && value !== 'relative' && !KEEPS_PARENT.has(value);
        break;
      case 'visibility':
        hidden ||= value === 'hidden' || value === 'collapse';
        break;
      case 'content-visibility':
        hidden ||= value === 'hidden';
        break;
      case 'opacity':
        opacity = Math.min(
          opacity,
          parent.opacity * Math.max(0, KEEPS_PARENT.has(value) ? 1 : (numberOrPercent(value) ?? 0)),
        );
        break;
      case 'zoom':
        scale *= Math.abs(
          value === 'normal' || value === 'reset' || KEEPS_PARENT.has(value) ? 1 : (numberOrPercent(value) ?? 0),
        );
        break;
      case 'transform':
        scale *= transformScale(value, fontPx);
        break;
      case 'scale':
        scale *= value === 'none' ? 1 : value.split(' ').reduce((s, a) => s * Math.abs(numberOrPercent(a) ?? 0), 1);
        break;
      case 'translate':
        hidden ||= value !== 'none' && value.split(' ').some((a) => offscreen(a, fontPx, false));
        break;
      case 'color':
      case '-webkit-text-fill-color':
        hidden ||= colorAlpha(value) < MIN_VISIBLE_OPACITY;
        if (!KEEPS_PARENT.has(value) && value !== 'currentcolor') color = opaqueRgb(value);
        break;
      case 'background-color':
        background = value === 'transparent' || KEEPS_PARENT.has(value) ? background : opaqueRgb(value);
        break;
      case 'background':
        background = KEEPS_PARENT.has(value) ? background : backgroundOf(value, background);
        break;
      case 'clip':
        hidden ||= value !== 'auto' && !KEEPS_PARENT.has(value);
        break;
      case 'clip-path':
      case 'mask':
      case 'mask-image':
      case '-webkit-mask':
      case '-webkit-mask-image':
      case 'filter':
        hidden ||= value !== 'none' && !KEEPS_PARENT.has(value);
        break;
      case 'margin-left':
      case 'margin-right':
      case 'margin-inline-start':
      case 'margin-inline-end':
      case 'margin-inline':
      case 'letter-spacing':
      case 'word-spacing': {
        const pulls = value.split(' ').some((v) => offscreen(v, fontPx, false));
        hidden ||= pulls;
        shiftsFollowing ||= pulls;
        const m = px(value.split(' ')[0]);
        if (prop === 'margin-left' || prop === 'margin-inline-start' || prop === 'margin-inline') offsetXPx += m;
        if (prop.startsWith('margin')) lineShiftPx += Math.min(0, m);
        break;
      }
      case 'padding-left':
      case 'padding-inline-start':
        offsetXPx += Math.max(0, px(value));
        break;
      case 'padding':
        offsetXPx += Math.max(0, px(boxSides(value)[3]));
        break;
      case 'left':
      case 'top':
      case 'margin-top':
      case 'text-indent':
      case 'inset-inline-start':
      case 'inset-block-start':
      case 'margin-block-start':
        hidden ||= offscreen(value.split(' ')[0] ?? '', fontPx, false);
        if (prop === 'left' || prop === 'text-indent' || prop === 'inset-inline-start')
          offsetXPx += px(value.split(' ')[0]);
        break;
      case 'right':
      case 'bottom':
      case 'inset-inline-end':
      case 'inset-block-end':
        hidden ||= offscreen(value, fontPx, true);
        break;
      case 'margin':
      case 'inset': {
        const [t, r, b, l] = boxSides(value);
        hidden ||=
          offscreen(t, fontPx, false) ||
          offscreen(l, fontPx, false) ||
          (prop === 'inset' && (offscreen(r, fontPx, true) || offscreen(b, fontPx, true)));
        shiftsFollowing ||= prop === 'margin' && (offscreen(l, fontPx, false) || offscreen(r, fontPx, false));
        offsetXPx += px(l);
        if (prop === 'margin') lineShiftPx += Math.min(0, px(l)) + Math.min(0, px(r));
        break;
      }
      case 'overflow':
      case 'overflow-x':
      case 'overflow-y':
      case 'overflow-clip-margin':
        clipsOverflow ||= OVERFLOW_CLIPS.test(value);
        break;
      default:
        if (SIZE_PROPS.has(prop) && !KEEPS_PARENT.has(value) && value !== 'auto' && value !== 'none') {
          const px = lengthPx(value, fontPx, 1920, 320);
          tinyBox ||= px === undefined || px < MIN_BOX_PX;
        }
    }
  }
  hidden ||= (clipsOverflow && tinyBox) || opacity < MIN_VISIBLE_OPACITY || fontPx * scale < MIN_VISIBLE_FONT_PX;
  return {
    hidden: hidden || shiftsFollowing,
    shiftsFollowing,
    lineShiftPx,
    rendering: { fontPx, opacity, scale, clipsOverflow, tinyBox, offsetXPx, color, background },
  };
}

// A glyph is at least this wide (in em): underestimating text width can only drop more.
const MIN_GLYPH_EM = 0.25;

/** True when text of `chars` visible characters, starting `offsetPx` from the left edge, ends before it. */
export const endsOffLeft = (chars: number, offsetPx: number, r: Rendering): boolean =>
  offsetPx < 0 && offsetPx + chars * r.fontPx * r.scale * MIN_GLYPH_EM <= 0;

/** True when an inline style hides its element's text for a parent at the defaults. */
export const styleHides = (style: string): boolean => applyStyle(style, ROOT_RENDERING).hidden;
