/**
 * Structured JSON logs for Cloud Logging: one object per line on stdout.
 * Field names pass an allowlist, so a token, code, cookie or session value
 * can never be logged by accident; unknown keys are dropped and counted.
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
  'message', 'event', 'function', 'method', 'path', 'status', 'durationMs', 'errCode', 'errName', 'reason',
  'requestId', 'correlationId', 'agentId', 'sessionHash', 'clientId', 'clientName', 'sub', 'rallyUser', 'grantId',
  'tool', 'outcome', 'rallyStatus', 'rallyObject', 'rallyType', 'attempt', 'retryAfterSeconds', 'limit', 'scope',
  'kid', 'port', 'url', 'count', 'redirectHost', 'instanceId', 'metadata', 'audit', 'policy', 'bytes', 'mode',
  'logging.googleapis.com/trace', 'logging.googleapis.com/spanId', 'logging.googleapis.com/labels', 'logName',
  // audit / rate limiting (shared/audit, shared/ratelimit): labels and numbers only
  'limitKind', 'windowSeconds',
]);

const LEVELS: Record<Severity, number> = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40 };

export interface LoggerOptions {
  readonly level?: 'debug' | 'info' | 'warn' | 'error';
  readonly write?: (line: string) => void;
  readonly base?: LogFields;
}

function pick(fields: LogFields): LogFields {
  const out: LogFields = {};
  let dropped = 0;
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    if (LOGGABLE_FIELDS.has(k)) out[k] = v;
    else dropped++;
  }
  if (dropped) out.droppedFields = dropped;
  return out;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const min = LEVELS[({ debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR' } as const)[options.level ?? 'info']];
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const base = pick(options.base ?? {});
  const emit = (severity: Severity, event: string, fields: LogFields = {}) => {
    if (LEVELS[severity] < min) return;
    const picked = pick(fields);
    write(JSON.stringify({ severity, message: picked.message ?? event, ...base, ...picked, event, time: new Date().toISOString() }));
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
