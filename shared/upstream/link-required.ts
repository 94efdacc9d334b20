/**
 * Raised when a tool needs Rally but the caller (grant or session) has no
 * usable Rally link: never linked, revoked at Rally, or refresh failed for good.
 * The MCP surface turns it into a re-sign-in prompt (URL elicitation -32042 or
 * a link), never a 500.
 * @module
 */
import { CodedError } from '../kernel/errors.js';
export type LinkRequiredReason = 'not_linked' | 'revoked' | 'refresh_failed' | 'pending_confirmation';

export class LinkRequiredError extends CodedError<'link_required'> {
  readonly reason: LinkRequiredReason;
  constructor(reason: LinkRequiredReason, options?: { cause?: unknown }) {
    super('link_required', `Rally link required (${reason})`, options);
    this.name = 'LinkRequiredError';
    this.reason = reason;
  }
}
