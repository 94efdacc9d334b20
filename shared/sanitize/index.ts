/**
 * Output sanitiser: the only way Rally text reaches tool output.
 * @module
 */
export { applyStyle, unescapeCss } from './css.js';
export { htmlToText, safeHttpUrl, styleHides } from './html.js';
export {
  MAX_COMMENT_CHARS,
  MAX_DESCRIPTION_CHARS,
  MAX_MESSAGE_CHARS,
  MAX_NAME_CHARS,
  MAX_RESULT_CHARS,
  capText,
  cleanLine,
  cleanMultiline,
  collapseWhitespace,
  neutraliseMarkdown,
  stripInvisible,
} from './text.js';
