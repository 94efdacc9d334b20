/**
 * The one place that turns errors into tool results (style §3.2). Short,
 * clear messages with a request id; never a stack trace, token or internal URL.
 * LinkRequiredError passes through unchanged: the auth layer turns it into a
 * sign-in prompt.
 * @module
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { LinkRequiredError } from '../../upstream/link-required.js';
import type { Logger } from '../../logging/logger.js';
import { RallyApiError, RallyLookupError, RallyQueryError, type RallyErrorCode } from '../../rally/errors.js';
import { MAX_MESSAGE_CHARS } from '../../sanitize/index.js';
import { GitHubApiError, GitHubRateLimitedError, type GitHubErrorCode } from '../../github/errors.js';
import { githubText, rallyText } from './output.js';
import { CodedError } from '../../kernel/errors.js';

/** A problem with the arguments that only shows once they are interpreted (e.g. a cursor for another query). */
export class ToolInputError extends CodedError<'invalid_tool_input'> {
  /** Safe to show: written by us, never containing Rally text or secrets. */
  readonly publicMessage: string;
  constructor(publicMessage: string) {
    super('invalid_tool_input', publicMessage);
    this.name = 'ToolInputError';
    this.publicMessage = publicMessage;
  }
}

const RALLY_MESSAGES: Readonly<Record<Exclude<RallyErrorCode, 'rally_unavailable'>, string>> = {
  rally_not_found: 'Rally could not find that item, or you do not have access to it.',
  rally_forbidden:
    'Rally denied access: the project or item is not shared with you, is closed, or you may not change it.',
  rally_rejected: 'Rally rejected the request.',
  rally_unauthorized: 'Rally did not accept your sign-in.',
};

const GITHUB_MESSAGES: Readonly<Record<Exclude<GitHubErrorCode, 'github_rate_limited'>, string>> = {
  github_not_found: 'GitHub could not find that repository, pull request or commit, or you do not have access to it.',
  github_forbidden:
    'GitHub denied access: your GitHub sign-in does not allow this, or the organization restricts this app.',
  github_validation_failed: 'GitHub rejected the request.',
  github_rejected: 'That GitHub repository, number or ref is not valid.',
  github_unauthorized: 'GitHub did not accept your sign-in.',
  github_unavailable: 'GitHub is unavailable right now, try again shortly.',
};

export function errorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

export function toToolResult(err: unknown, ctx: { readonly requestId: string; readonly log: Logger }): CallToolResult {
  if (err instanceof LinkRequiredError) throw err;
  const rid = `Request ID: ${ctx.requestId}`;
  if (err instanceof RallyApiError) {
    ctx.log.warn('tool_rally_error', { errCode: err.code, rallyStatus: err.status });
    if (err.code === 'rally_unavailable')
      return errorResult(`Rally is unavailable right now, try again shortly. (${rid})`);
    // Rally's messages can echo Rally data (names, values), so they travel as RallyText, never inside our sentence (L9).
    const said = err.rallyErrors.length
      ? ` Rally's messages, as data: ${JSON.stringify(err.rallyErrors.map((m) => rallyText(m, MAX_MESSAGE_CHARS)))}`
      : '';
    return errorResult(`${RALLY_MESSAGES[err.code]}${said} (${rid})`);
  }
  if (err instanceof GitHubRateLimitedError) {
    ctx.log.warn('tool_github_error', {
      errCode: err.code,
      ...(err.status === undefined ? {} : { status: err.status }),
    });
    return errorResult(
      `GitHub's rate limit for your account is used up; try again in ${err.retryAfterSeconds} seconds. (${rid})`,
    );
  }
  if (err instanceof GitHubApiError) {
    ctx.log.warn('tool_github_error', {
      errCode: err.code,
      ...(err.status === undefined ? {} : { status: err.status }),
    });
    // GitHub's words can echo names and values: they travel as GitHubText, outside our sentence (L9).
    const said = err.githubMessage
      ? ` GitHub's message, as data: ${JSON.stringify(githubText(err.githubMessage, MAX_MESSAGE_CHARS))}`
      : '';
    return errorResult(
      `${GITHUB_MESSAGES[err.code as Exclude<GitHubErrorCode, 'github_rate_limited'>]}${said} (${rid})`,
    );
  }
  if (err instanceof RallyLookupError) {
    ctx.log.info('tool_lookup_failed', { errCode: err.code, rallyType: err.what });
    const text =
      err.code === 'not_found'
        ? `No ${err.what} matches that name or ID, or you cannot see it in Rally.`
        : `More than one ${err.what} matches that name; use its ObjectID instead.`;
    return errorResult(`${text} (${rid})`);
  }
  if (err instanceof RallyQueryError) {
    ctx.log.info('tool_query_rejected', { errCode: err.code });
    return errorResult(`The search could not be expressed as a safe Rally query (${err.message}). (${rid})`);
  }
  if (err instanceof ToolInputError) {
    ctx.log.info('tool_input_rejected', { errCode: err.code });
    return errorResult(`${err.publicMessage} (${rid})`);
  }
  ctx.log.error('tool_failed', { errName: err instanceof Error ? err.name : typeof err });
  return errorResult(`Something went wrong while working with Rally. (${rid})`);
}
