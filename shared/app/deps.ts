/**
 * Composition root: the only module that builds SDK clients and reads config.
 * Built lazily on the first request of an instance and reused afterwards;
 * a failed build is not cached, so the next request retries.
 * @module
 */
import type { Firestore } from '@google-cloud/firestore';
import { loadConfig, type Config } from '../config/config.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { systemClock, type Clock } from './clock.js';
import type { AuthServices } from './auth-services.js';
import { audit, type AuditEvent, type AuditFields } from '../audit/audit.js';
import type { RequestContext } from './request-context.js';
import { createRestDocumentReader, googleAccessToken, type DocumentReader } from '../storage/firestore-rest.js';
import { AddressThrottledError, clientAddress, createAddressThrottle, type AddressLimitKind, type AddressThrottle } from '../ratelimit/address-throttle.js';

export type FetchLike = typeof fetch;

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
}

function addressLimiter(throttle: AddressThrottle, address: string, log: Logger): Deps['limitAddress'] {
  return (kind) => {
    const decision = throttle.take(kind, address);
    if (decision.allowed) return;
    log.warn('address_throttled', { limitKind: kind, limit: decision.limit, retryAfterSeconds: decision.retryAfterSeconds });
    throw new AddressThrottledError(kind, decision.limit, decision.retryAfterSeconds);
  };
}

/** The same dependencies, logging, auditing and throttling with one request's context. */
export function forRequest(deps: Deps, ctx: RequestContext): Deps {
  const address = clientAddress(ctx.forwardedFor, ctx.peerAddress, deps.config.TRUSTED_PROXY_HOPS);
  return {
    ...deps,
    log: ctx.log,
    audit: (event, fields = {}) => audit(ctx.log, event, fields, ctx),
    limitAddress: addressLimiter(deps.addressThrottle, address, ctx.log),
  };
}

/** Firestore over REST (`preferRest`) avoids loading gRPC at cold start. */
export async function createFirestore(config: Config): Promise<Firestore> {
  const { Firestore } = await import('@google-cloud/firestore');
  return new Firestore({
    projectId: config.GOOGLE_CLOUD_PROJECT,
    databaseId: config.FIRESTORE_DATABASE_ID,
    preferRest: true,
    ...(config.FIRESTORE_EMULATOR_HOST
      ? {
          host: config.FIRESTORE_EMULATOR_HOST,
          ssl: false,
          customHeaders: { Authorization: 'Bearer owner' },
          authClient: (await import('./no-credentials-auth.js')).createNoCredentialsAuth(config.GOOGLE_CLOUD_PROJECT),
        }
      : {}),
  });
}

/** Firestore's REST endpoint for `documents`: the emulator locally, else Google's with the function's credentials. */
export function createDocumentReader(config: Config, fetch: FetchLike): DocumentReader {
  const emulator = config.FIRESTORE_EMULATOR_HOST;
  return createRestDocumentReader({
    baseUrl: emulator ? `http://${emulator}` : 'https://firestore.googleapis.com',
    projectId: config.GOOGLE_CLOUD_PROJECT,
    databaseId: config.FIRESTORE_DATABASE_ID,
    accessToken: emulator ? async () => 'owner' : googleAccessToken(), // the emulator's admin token, as the client library sends it
    fetch,
  });
}

export interface DepsOverrides {
  readonly log?: Logger;
  readonly clock?: Clock;
  readonly fetch?: FetchLike;
  readonly db?: Firestore;
  readonly documents?: DocumentReader;
}

export function createDeps(config: Config, overrides: DepsOverrides = {}): Deps {
  let db: Promise<Firestore> | undefined = overrides.db ? Promise.resolve(overrides.db) : undefined;
  let auth: Promise<AuthServices> | undefined;
  const log = overrides.log ?? createLogger({ level: config.LOG_LEVEL });
  const clock = overrides.clock ?? systemClock;
  const addressThrottle = createAddressThrottle({
    clock,
    limits: {
      authorize: config.ADDRESS_LIMIT_AUTHORIZE_PER_MINUTE,
      register: config.ADDRESS_LIMIT_REGISTER_PER_MINUTE,
      session_initialize: config.ADDRESS_LIMIT_SESSION_INITIALIZE_PER_MINUTE,
      connect_link: config.ADDRESS_LIMIT_CONNECT_LINK_PER_MINUTE,
    },
  });
  const deps: Deps = {
    config,
    log,
    audit: (event, fields = {}) => audit(log, event, fields, {}),
    clock,
    addressThrottle,
    limitAddress: addressLimiter(addressThrottle, 'outside-a-request', log),
    fetch: overrides.fetch ?? globalThis.fetch.bind(globalThis),
    // Not `overrides.fetch`: that one stands in for Rally in tests.
    documents: overrides.documents ?? createDocumentReader(config, globalThis.fetch.bind(globalThis)),
    db: () => (db ??= createFirestore(config).catch((err: unknown) => {
      db = undefined;
      throw err;
    })),
    auth: () => (auth ??= import('./auth-services.js')
      .then((m) => m.createAuthServices(deps))
      .catch((err: unknown) => {
        auth = undefined;
        throw err;
      })),
  };
  return deps;
}

let pending: Promise<Deps> | undefined;

/** The instance-wide dependencies, built from the process environment on first use. */
export function getDeps(): Promise<Deps> {
  pending ??= Promise.resolve()
    .then(() => createDeps(loadConfig()))
    .catch((err: unknown) => {
      pending = undefined; // a failed cold start must not poison the instance
      throw err;
    });
  return pending;
}
