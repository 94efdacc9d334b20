/**
 * Raised when a tool needs an upstream provider but the caller (grant or session) has no usable
 * link to it: never linked, revoked at the provider, or refresh failed for good. The MCP surface
 * turns it into that provider's sign-in prompt (URL elicitation -32042 or a link), never a 500.
 * @module
 */
import { CodedError } from '../kernel/errors.js';
import { PROVIDER_LABELS, type UpstreamProviderId } from './provider.js';

export type LinkRequiredReason = 'not_linked' | 'revoked' | 'refresh_failed' | 'pending_confirmation';

export class LinkRequiredError extends CodedError<'link_required'> {
  /** Which provider's sign-in the user must complete. */
  readonly provider: UpstreamProviderId;
  readonly reason: LinkRequiredReason;
  constructor(provider: UpstreamProviderId, reason: LinkRequiredReason, options?: { cause?: unknown }) {
    super('link_required', `${PROVIDER_LABELS[provider].name} link required (${reason})`, options);
    this.name = 'LinkRequiredError';
    this.provider = provider;
    this.reason = reason;
  }
}
