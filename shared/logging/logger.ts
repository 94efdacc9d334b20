/**
 * Structured JSON logs for Cloud Logging: one object per line on stdout.
 * Field names pass an allowlist, so a token, code, cookie or session value
 * can never be logged by accident; unknown keys are dropped and counted.
 * Every string value is then cut to length and passed through a redaction of
 * our secrets' shapes (a second line of defence), and every control character
 * is escaped, so no value can forge or split a line. What anything else prints
 * through `console` is routed here too (routeConsoleToLogger).
 * @module
 */

export type Severity = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/** Keys that may appear in a log line. Values must be labels, ids or numbers, never secrets. */
export const LOGGABLE_FIELDS: ReadonlySet<string> = new Set([
  'message',
  'event',
  'function',
  'method',
  'path',
  'status',
  'durationMs',
  'errCode',
  'errName',
  'reason',
  'requestId',
  'correlationId',
  'agentId',
  'sessionHash',
  'clientId',
  'clientName',
  'sub',
  'rallyUser',
  'provider',
  'upstreamUser',
  'grantId',
  'connectionTokenId',
  'tool',
  'outcome',
  'rallyStatus',
  'rallyObject',
  'rallyType',
  'attempt',
  'retryAfterSeconds',
  'limit',
  'scope',
  'kid',
  'port',
  'url',
  'count',
  'redirectHost',
  'instanceId',
  'metadata',
  'audit',
  'policy',
  'bytes',
  'mode',
  'logging.googleapis.com/trace',
  'logging.googleapis.com/spanId',
  'logging.googleapis.com/labels',
  'logName',
  // audit / rate limiting (shared/audit, shared/ratelimit): labels and numbers only
  'limitKind',
  'windowSeconds',
  // console output routed through the logger: code locations only (routeConsoleToLogger)
  'stack',
]);

const LEVELS: Record<Severity, number> = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40 };

export interface LoggerOptions {
  readonly level?: 'debug' | 'info' | 'warn' | 'error';
  readonly write?: (line: string) => void;
  readonly base?: LogFields;
}

/** Longer strings are cut: a log value is a label or a short reason, never a payload. */
export const MAX_LOG_STRING_CHARS = 1000;

const REDACTED = '[redacted]';
/** Nothing shorter can hold a shape below: `Bearer ` + 16, `token=` + a 22-character session id, 40 opaque characters. */
const SHORTEST_REDACTABLE_CHARS = 23;
type Replacer = (match: string, ...groups: string[]) => string;
const mixesCharacterClasses = (m: string): boolean =>
  Number(/[a-z]/.test(m)) + Number(/[A-Z]/.test(m)) + Number(/[0-9]/.test(m)) >= 2;

/**
 * Shapes of our secrets. Connection tokens (`rmcp_ct_…`). JOSE compact serialisations: our access tokens (EdDSA
 * JWTs) and sealed blobs (JWE). Opaque base64url runs of 40+ characters:
 * refresh tokens, codes, client secrets, state and link ids (randomToken(32),
 * 43 characters), PKCE verifiers, Rally access tokens and API keys (42),
 * long session ids. Secrets named in text (`refresh_token=…`, `Bearer …`).
 * Not caught by shape: UUID session ids and Rally's 32-hex refresh tokens,
 * which look exactly like the request and trace ids logs must keep.
 */
const SECRET_SHAPES: ReadonlyArray<readonly [RegExp, Replacer]> = [
  [/rmcp_ct_[A-Za-z0-9_-]*/g, () => REDACTED], // connection tokens (issue 18), whatever their length
  [/eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){2,4}/g, () => REDACTED],
  // Random data mixes character classes; a long snake_case name or a run of one letter does not.
  [/(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{40,}/g, (m) => (mixesCharacterClasses(m) ? REDACTED : m)],
  [/\b(bearer|basic)\s+[^\s"',;]+/gi, (_m, scheme) => `${scheme} ${REDACTED}`],
  [
    /\b(access_token|refresh_token|id_token|code_verifier|code|client_secret|token|state|password|zsessionid|session-id|x-ms-copilot-session-id|cookie|authorization)(["']?\s*[:=]\s*["']?)[^\s&"',;]+/gi,
    (_m, name, separator) => `${name}${separator}${REDACTED}`,
  ],
];

/** Cuts `text` to MAX_LOG_STRING_CHARS and replaces whatever has the shape of one of our secrets. */
export function redactSecrets(text: string): string {
  if (text.length < SHORTEST_REDACTABLE_CHARS) return text; // most values are short labels: skip the regexes
  let out = text.length > MAX_LOG_STRING_CHARS ? `${text.slice(0, MAX_LOG_STRING_CHARS)}…` : text;
  for (const [shape, replacement] of SECRET_SHAPES) out = out.replace(shape, replacement);
  return out;
}

function scrub(v: unknown, depth: number): unknown {
  if (typeof v === 'string') return redactSecrets(v);
  if (typeof v !== 'object' || v === null) return v;
  if (depth >= 4) return '[nested]';
  if (Array.isArray(v)) return v.slice(0, 20).map((x) => scrub(x, depth + 1));
  const out: LogFields = {};
  for (const [k, x] of Object.entries(v)) out[redactSecrets(k)] = scrub(x, depth + 1);
  return out;
}

function pick(fields: LogFields): LogFields {
  const out: LogFields = {};
  let dropped = 0;
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    if (LOGGABLE_FIELDS.has(k)) out[k] = scrub(v, 0);
    else dropped++;
  }
  if (dropped) out.droppedFields = dropped;
  return out;
}

/**
 * JSON.stringify escapes U+0000–U+001F; this escapes what it leaves raw: DEL,
 * the C1 controls (U+0080–U+009F, which include a one-byte CSI), the Unicode
 * line and paragraph separators and the bidi overrides. They can only occur
 * inside string literals, so the line stays valid JSON.
 */
const RAW_CONTROLS = /[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const escapeControls = (json: string): string =>
  json.replace(RAW_CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

export function createLogger(options: LoggerOptions = {}): Logger {
  const min =
    LEVELS[({ debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR' } as const)[options.level ?? 'info']];
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const base = pick(options.base ?? {});
  const emit = (severity: Severity, event: string, fields: LogFields = {}) => {
    if (LEVELS[severity] < min) return;
    const picked = pick(fields);
    write(
      escapeControls(
        JSON.stringify({
          severity,
          message: picked.message ?? event,
          ...base,
          ...picked,
          event,
          time: new Date().toISOString(),
        }),
      ),
    );
  };
  return {
    debug: (e, f) => emit('DEBUG', e, f),
    info: (e, f) => emit('INFO', e, f),
    warn: (e, f) => emit('WARNING', e, f),
    error: (e, f) => emit('ERROR', e, f),
    child: (fields) => createLogger({ ...options, base: { ...base, ...fields } }),
  };
}

/** A logger that writes nothing (tests that do not look at logs). */
export const silentLogger: Logger = createLogger({ write: () => {} });

const STACK_FRAME = /^\s+at /;
const MAX_STACK_FRAMES = 10;

/** Code locations of an error, never its message: a message can quote the request (JSON.parse does). */
function framesOf(stack: string): string[] {
  return stack
    .split('\n')
    .filter((l) => STACK_FRAME.test(l))
    .slice(0, MAX_STACK_FRAMES)
    .map((l) => l.trim());
}

/** `Name: message` + frames, as console.error(err.stack) prints it → the name only. */
const STACK_TEXT = /^([A-Za-z_$][\w$]*(?:Error|Exception))\b[^\n]*\n\s+at /;

/**
 * What a console call may log: plain strings (cut and redacted like every
 * value), and for errors, or text that is an error's stack, only the error's
 * name and code locations. Objects are dropped: util.inspect of an error
 * carries its own properties, e.g. body-parser's `body`.
 */
export function consoleFields(args: readonly unknown[]): LogFields {
  const text: string[] = [];
  let errName: string | undefined;
  let stack: string[] | undefined;
  let dropped = 0;
  for (const a of args) {
    if (a instanceof Error) {
      errName ??= a.name;
      stack ??= framesOf(a.stack ?? '');
    } else if (typeof a === 'string') {
      const m = STACK_TEXT.exec(a);
      if (m) {
        errName ??= m[1];
        stack ??= framesOf(a);
      } else {
        text.push(a);
      }
    } else if (typeof a === 'number' || typeof a === 'boolean') {
      text.push(String(a));
    } else {
      dropped++;
    }
  }
  return { message: text.join(' ') || errName || 'console output', errName, stack, count: dropped || undefined };
}

let consoleRouted = false;

/**
 * Routes console.log/info/debug/warn/error/trace through `log`, so what the
 * framework and libraries print on their own (functions-framework's crash
 * handler, Express's final handler) is one JSON line like ours, carrying no
 * request data. Process-wide; the deployed `main` calls it once.
 */
export function routeConsoleToLogger(log: Logger): void {
  if (consoleRouted) return;
  consoleRouted = true;
  const to =
    (emit: (event: string, fields: LogFields) => void) =>
    (...args: unknown[]) =>
      emit('console_output', consoleFields(args));
  console.log = console.info = to(log.info);
  console.debug = to(log.debug);
  console.warn = to(log.warn);
  console.error = console.trace = to(log.error);
}
