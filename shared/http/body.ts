/**
 * The one place a request body is read: we refuse compressed bodies, accept
 * only UTF-8 JSON and forms, cap the size while reading, and bound JSON
 * nesting before parsing. functions-framework's own parsers are switched off
 * (shared/app/framework.ts), so nothing reads or inflates a body before this.
 * @module
 */
import type { Request } from '@google-cloud/functions-framework';
import { EdgeError } from './edge-error.js';

/** Deeper JSON is refused before parsing; MCP and OAuth messages nest a handful of levels. */
export const MAX_JSON_DEPTH = 32;
/** More form fields than any of our forms has, by far. */
export const MAX_FORM_FIELDS = 100;

export interface BodyLimits {
  readonly maxBytes: number;
}

type MediaType = 'json' | 'form';

const MEDIA_TYPES: Record<string, MediaType> = {
  'application/json': 'json',
  'application/x-www-form-urlencoded': 'form',
};

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && Number(length) !== 0);
}

/** `type/subtype; charset=…` → what we parse it as; anything else, or a charset other than UTF-8, is refused (415). */
function mediaTypeOf(header: string | undefined): MediaType {
  const [essence = '', ...params] = (header ?? '').split(';');
  const type = MEDIA_TYPES[essence.trim().toLowerCase()];
  if (!type)
    throw new EdgeError(
      'media_type_unsupported',
      'The body must be application/json or application/x-www-form-urlencoded.',
    );
  for (const p of params) {
    const eq = p.indexOf('=');
    if (p.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const charset = p
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8')
      throw new EdgeError('charset_unsupported', 'The body must be UTF-8.');
  }
  return type;
}

function tooLarge(maxBytes: number): EdgeError {
  return new EdgeError('body_too_large', `Request body too large (limit ${maxBytes} bytes).`);
}

/** Reads at most `maxBytes` bytes; on more, stops reading (the rest is never buffered) and throws 413. */
function readCapped(req: Request, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const cleanup = () => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) {
        cleanup();
        req.pause();
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      const [only] = chunks;
      resolve(chunks.length === 1 && only !== undefined ? only : Buffer.concat(chunks, total));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => onError(new Error('request closed before its body ended')); // 'end' would have removed this listener
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/**
 * Nesting depth of JSON text, counted without parsing (brackets inside
 * strings do not count). Stops as soon as `limit` is passed, so a body nested
 * 10,000 levels deep costs one short scan and never becomes an object.
 */
export function exceedsJsonDepth(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/** application/x-www-form-urlencoded, strictly: a bad percent-escape is an error, not silently replaced. Repeated names become arrays. */
export function parseForm(text: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  let fields = 0;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    if (++fields > MAX_FORM_FIELDS) throw new EdgeError('malformed_form', 'The form has too many fields.');
    const eq = pair.indexOf('=');
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, ' '));
      value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
    } catch {
      throw new EdgeError('malformed_form', 'The form body is not valid application/x-www-form-urlencoded.');
    }
    const prev = Object.hasOwn(out, name) ? out[name] : undefined;
    // defineProperty, so a field named __proto__ is data, never the prototype.
    Object.defineProperty(out, name, {
      value: prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value],
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/**
 * Reads, checks and parses the body, then sets `req.rawBody` (the bytes) and
 * `req.body` (parsed JSON or form fields; undefined without a body), as the
 * framework's parsers did. Throws EdgeError (400, 413, 415); the message
 * never quotes the body.
 */
export async function readBody(req: Request, limits: BodyLimits): Promise<void> {
  req.body = undefined;
  if (!hasBody(req)) return;
  const encoding = req.headers['content-encoding']?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') {
    // L10: never inflate: a few KB of gzip can expand to gigabytes before any size check could run.
    throw new EdgeError(
      'content_encoding_unsupported',
      'Compressed request bodies are not accepted (Content-Encoding).',
    );
  }
  const type = mediaTypeOf(req.headers['content-type']);
  if (Number(req.headers['content-length'] ?? 0) > limits.maxBytes) throw tooLarge(limits.maxBytes);
  const raw = await readCapped(req, limits.maxBytes);
  req.rawBody = raw;
  if (raw.length === 0) return;
  let text: string;
  try {
    text = UTF8.decode(raw);
  } catch {
    throw new EdgeError(type === 'json' ? 'malformed_json' : 'malformed_form', 'The body is not valid UTF-8.');
  }
  if (type === 'form') {
    req.body = parseForm(text);
    return;
  }
  if (exceedsJsonDepth(text, MAX_JSON_DEPTH))
    throw new EdgeError('json_too_deep', 'Request JSON is nested too deeply.');
  try {
    req.body = JSON.parse(text);
  } catch {
    throw new EdgeError('malformed_json', 'The body is not valid JSON.');
  }
}
