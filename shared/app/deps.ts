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
}

/** The same dependencies, logging and auditing with one request's context. */
export function forRequest(deps: Deps, ctx: RequestContext): Deps {
  return { ...deps, log: ctx.log, audit: (event, fields = {}) => audit(ctx.log, event, fields, ctx) };
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
  const deps: Deps = {
    config,
    log,
    audit: (event, fields = {}) => audit(log, event, fields, {}),
    clock: overrides.clock ?? systemClock,
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
