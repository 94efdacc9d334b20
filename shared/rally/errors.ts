/**
 * Coded errors for everything that goes wrong talking to Rally WSAPI (style §3.1).
 * Callers branch on `code`, never on message text.
 * @module
 */
import { CodedError, type RallyErrorCode, type RallyLookupErrorCode } from '../kernel/errors.js';

export type { RallyErrorCode };

export interface RallyApiErrorOptions {
  readonly status?: number;
  readonly cause?: unknown;
}

/**
 * A WSAPI failure. `rallyErrors` holds Rally's own messages, already cleaned
 * (no markup, no control characters) and capped, so they may be shown to the user.
 */
export class RallyApiError extends CodedError<RallyErrorCode> {
  readonly rallyErrors: readonly string[];
  readonly status?: number;
  constructor(code: RallyErrorCode, rallyErrors: readonly string[] = [], options: RallyApiErrorOptions = {}) {
    super(code, code, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RallyApiError';
    this.rallyErrors = rallyErrors;
    if (options.status !== undefined) this.status = options.status;
  }
}

/** A filter or raw query that cannot be expressed safely in Rally's query grammar. */
export class RallyQueryError extends CodedError<'invalid_query'> {
  constructor(message: string) {
    super('invalid_query', message);
    this.name = 'RallyQueryError';
  }
}

/** A name given by the user (project, iteration, release, owner, work item) that matched nothing or too much. */
export class RallyLookupError extends CodedError<RallyLookupErrorCode> {
  /** What was looked up, e.g. "project", "iteration", "work item". */
  readonly what: string;
  constructor(code: RallyLookupErrorCode, what: string) {
    super(code, `${what} ${code}`);
    this.name = 'RallyLookupError';
    this.what = what;
  }
}
