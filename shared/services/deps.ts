/**
 * What every handler is handed: the instance's services as interfaces (built by shared/app/,
 * the composition root), and `forRequest`, which binds logging, auditing and the address
 * throttle to one request.
 * @module
 */
import type { Firestore } from '@google-cloud/firestore';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import type { Clock } from '../kernel/clock.js';
import type { FetchLike } from '../kernel/fetch.js';
import type { AuthServices } from './auth-services.js';
import { audit, type AuditEvent, type AuditFields } from '../audit/audit.js';
import type { RequestContext } from '../http/request-context.js';
import type { DocumentReader } from '../store/firestore-rest.js';
import {
  AddressThrottledError,
  clientAddress,
  type AddressLimitKind,
  type AddressThrottle,
} from '../ratelimit/address-throttle.js';

export interface Deps {
  readonly config: Config;
  readonly log: Logger;
  readonly clock: Clock;
  readonly fetch: FetchLike;
  /** Firestore is created on first use: metadata endpoints never pay for it. */
  db(): Promise<Firestore>;
  /** Lean single-document reads for the warm tool-call path (same database as `db`). */
  readonly documents: DocumentReader;
  /** Keys, sealer, token store, policy: built on first use, then shared by the instance's requests. */
  auth(): Promise<AuthServices>;
  /** Writes an audit event (with the request's Copilot metadata once bound by `forRequest`). */
  audit(event: AuditEvent, fields?: AuditFields): void;
  /** The instance's buckets for unauthenticated writes, by client address (L20). */
  readonly addressThrottle: AddressThrottle;
  /**
   * Call before an unauthenticated request creates a Firestore document: throws
   * AddressThrottledError when the request's client address is over its `kind` limit.
   * Bound to the request's address by `forRequest` (outside a request, all share one bucket).
   */
  limitAddress(kind: AddressLimitKind): void;
  /**
   * Like `limitAddress`, taking nothing: throws while the address is over its `kind` limit. For a
   * limit counted on failures only (O24: wrong connection tokens), checked before the lookup and
   * taken (`limitAddress`) when one fails.
   */
  checkAddress(kind: AddressLimitKind): void;
}

function throttled(
  throttle: AddressThrottle,
  address: string,
  log: Logger,
  taking: boolean,
): (kind: AddressLimitKind) => void {
  return (kind) => {
    const decision = taking ? throttle.take(kind, address) : throttle.peek(kind, address);
    if (decision.allowed) return;
    log.warn('address_throttled', {
      limitKind: kind,
      limit: decision.limit,
      retryAfterSeconds: decision.retryAfterSeconds,
    });
    throw new AddressThrottledError(kind, decision.limit, decision.retryAfterSeconds);
  };
}

export const addressLimiter = (throttle: AddressThrottle, address: string, log: Logger): Deps['limitAddress'] =>
  throttled(throttle, address, log, true);
export const addressChecker = (throttle: AddressThrottle, address: string, log: Logger): Deps['checkAddress'] =>
  throttled(throttle, address, log, false);

/** The same dependencies, logging, auditing and throttling with one request's context. */
export function forRequest(deps: Deps, ctx: RequestContext): Deps {
  const address = clientAddress(ctx.forwardedFor, ctx.peerAddress, deps.config.TRUSTED_PROXY_HOPS);
  return {
    ...deps,
    log: ctx.log,
    audit: (event, fields = {}) => audit(ctx.log, event, fields, ctx),
    limitAddress: addressLimiter(deps.addressThrottle, address, ctx.log),
    checkAddress: addressChecker(deps.addressThrottle, address, ctx.log),
  };
}
