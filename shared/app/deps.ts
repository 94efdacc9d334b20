/**
 * Composition root: the only module that builds SDK clients and reads config.
 * Built lazily on the first request of an instance and reused afterwards;
 * a failed build is not cached, so the next request retries.
 * @module
 */
import type { Firestore } from '@google-cloud/firestore';
import { loadConfig, type Config } from '../config/config.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { systemClock, type Clock } from '../kernel/clock.js';
import type { FetchLike } from '../kernel/fetch.js';
import type { AuthServices } from '../services/auth-services.js';
import { addressChecker, addressLimiter, type Deps } from '../services/deps.js';
import { audit } from '../audit/audit.js';
import { createRestDocumentReader, googleAccessToken, type DocumentReader } from '../store/firestore-rest.js';
import { createAddressThrottle } from '../ratelimit/address-throttle.js';

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
          authClient: (await import('../kernel/no-credentials-auth.js')).createNoCredentialsAuth(
            config.GOOGLE_CLOUD_PROJECT,
          ),
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
      connection_token_failure: config.ADDRESS_LIMIT_CONNECTION_TOKEN_FAILURES_PER_MINUTE,
    },
  });
  const deps: Deps = {
    config,
    log,
    audit: (event, fields = {}) => audit(log, event, fields, {}),
    clock,
    addressThrottle,
    limitAddress: addressLimiter(addressThrottle, 'outside-a-request', log),
    checkAddress: addressChecker(addressThrottle, 'outside-a-request', log),
    fetch: overrides.fetch ?? globalThis.fetch.bind(globalThis),
    // Not `overrides.fetch`: that one stands in for Rally in tests.
    documents: overrides.documents ?? createDocumentReader(config, globalThis.fetch.bind(globalThis)),
    db: () =>
      (db ??= createFirestore(config).catch((err: unknown) => {
        db = undefined;
        throw err;
      })),
    auth: () =>
      (auth ??= import('./auth-services.js')
        .then((m) => m.createAuthServices(deps))
        .catch((err: unknown) => {
          auth = undefined;
          throw err;
        })),
  };
  return deps;
}

let pending: Promise<Deps> | undefined;
let instanceOverrides: DepsOverrides = {};

/**
 * The local server's seam (dev/serve.ts), never called in a deployed function: what the
 * instance-wide dependencies are built with instead of the defaults (a clock the tests move).
 * Takes effect only before the first request builds them.
 */
export function setInstanceOverrides(overrides: DepsOverrides): void {
  instanceOverrides = overrides;
}

/** The instance-wide dependencies, built from the process environment on first use. */
export function getDeps(): Promise<Deps> {
  pending ??= Promise.resolve()
    .then(() => createDeps(loadConfig(), instanceOverrides))
    .catch((err: unknown) => {
      pending = undefined; // a failed cold start must not poison the instance
      throw err;
    });
  return pending;
}
