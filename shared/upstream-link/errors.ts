/**
 * What the Rally link store refuses with. A link that is missing or unusable is
 * LinkRequiredError (shared/upstream/link-required.ts), never one of these.
 * @module
 */
import { CodedError } from '../kernel/errors.js';

/** The principal is linked to another Rally user: a link is never silently switched (C7). */
export class LinkUserMismatchError extends CodedError<'link_user_mismatch'> {
  constructor() {
    super('link_user_mismatch', 'this link belongs to a different Rally user');
    this.name = 'LinkUserMismatchError';
  }
}

/** Another instance holds the refresh lease for too long: the caller should retry shortly. */
export class LinkRefreshBusyError extends CodedError<'refresh_busy'> {
  constructor() {
    super('refresh_busy', 'a Rally token refresh is in progress elsewhere');
    this.name = 'LinkRefreshBusyError';
  }
}
