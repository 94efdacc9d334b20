/**
 * Single-document reads over Firestore's REST API (`GET …/documents/<path>`, or one
 * `…/documents:batchGet` for reads asked for together), for the one read on every warm tool call. Through the client library the
 * same read cost about 1 ms more CPU per call (gax request building, protobuf
 * JSON decoding, tracing spans): most of our CPU overhead over the bare SDK
 * server (bench, c32). Writes, transactions and every other read stay on
 * `@google-cloud/firestore`.
 *
 * Values decode the way the client library returns them (timestamps expose
 * `toDate()`, integers are numbers, bytes are Buffers), so the same zod
 * schemas parse both. Errors carry the gRPC code of the REST status, so
 * `withStoreRetry` treats them exactly like the library's.
 * @module
 */
import { fetchDeadline, type FetchLike } from '../kernel/fetch.js';
import { CorruptRecordError, STORE_OPERATION_TIMEOUT_MS } from './firestore-utils.js';

export interface DocumentReader {
  /** The document's fields, decoded; undefined when it does not exist. */
  get(path: string): Promise<Record<string, unknown> | undefined>;
}

export interface RestDocumentReaderOptions {
  /** `https://firestore.googleapis.com`, or `http://<host:port>` of the emulator. */
  readonly baseUrl: string;
  readonly projectId: string;
  readonly databaseId: string;
  /** A bearer token for Firestore (the emulator takes "owner"). */
  readonly accessToken: () => Promise<string>;
  readonly fetch: FetchLike;
  readonly timeoutMs?: number;
}

/** Firestore answered with an error status; `code` is the gRPC code. */
export class FirestoreRestError extends Error {
  constructor(
    readonly code: number,
    readonly httpStatus: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(`Firestore REST error (gRPC code ${code}${httpStatus === undefined ? '' : `, HTTP ${httpStatus}`})`, options);
    this.name = 'FirestoreRestError';
  }
}

// google.rpc.Code by name, as REST errors spell it (`error.status`).
const GRPC_CODE = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
const GRPC_CODE_BY_NAME: Readonly<Record<string, number>> = GRPC_CODE;

const DOC_PATH = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/;

/** At most this many documents go in one `batchGet`. */
const MAX_BATCH = 100;

interface Waiting {
  readonly path: string;
  resolve(fields: Record<string, unknown> | undefined): void;
  reject(err: unknown): void;
}

type Read = { readonly fields: Record<string, unknown> | undefined } | { readonly error: unknown };

export function createRestDocumentReader(o: RestDocumentReaderOptions): DocumentReader {
  const database = `projects/${encodeURIComponent(o.projectId)}/databases/${encodeURIComponent(o.databaseId)}`;
  const documents = `${o.baseUrl.replace(/\/+$/, '')}/v1/${database}/documents`;
  const timeoutMs = o.timeoutMs ?? STORE_OPERATION_TIMEOUT_MS;
  let queued: Waiting[] | undefined;

  /** One request for what was asked together: a GET for one document, a `batchGet` for several. */
  async function send(batch: readonly Waiting[]): Promise<void> {
    try {
      let token: string;
      try {
        token = await o.accessToken();
      } catch (err) {
        throw new FirestoreRestError(GRPC_CODE.UNAVAILABLE, undefined, { cause: err }); // no credentials yet: 503, retried
      }
      const deadline = fetchDeadline(timeoutMs); // covers reading the answer too
      try {
        const [only] = batch;
        if (batch.length === 1 && only) {
          only.resolve(
            await readDocument(o.fetch, `${documents}/${only.path}`, token, database, deadline.signal, only.path),
          );
          return;
        }
        const reads = await readDocuments(o.fetch, `${documents}:batchGet`, token, o, deadline.signal, batch);
        batch.forEach((w, i) => {
          const read = reads[i];
          if (read && 'fields' in read) w.resolve(read.fields);
          else w.reject(read?.error);
        });
      } finally {
        deadline.done();
      }
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
  }

  return {
    /**
     * Reads asked for in the same turn of the event loop go out together (one `batchGet`), so a
     * burst of tool calls from users whose links are not cached costs Firestore one request, not
     * one each (issue 16); a read asked for alone is the plain GET it always was. Each caller
     * still gets its own document or its own error.
     */
    get(path) {
      // Our paths are `collection/<hash or id>`; anything else is a bug, never sent.
      if (!DOC_PATH.test(path) || path.split('/').length % 2 !== 0)
        return Promise.reject(new TypeError('not a document path'));
      return new Promise((resolve, reject) => {
        if (!queued) {
          const batch: Waiting[] = (queued = []);
          setImmediate(() => {
            queued = undefined;
            for (let i = 0; i < batch.length; i += MAX_BATCH) void send(batch.slice(i, i + MAX_BATCH));
          });
        }
        queued.push({ path, resolve, reject });
      });
    },
  };
}

/**
 * One `batchGet` for several documents: per path, in order, its decoded fields (undefined when it
 * does not exist) or its own error. A document the answer does not mention is an error, never
 * taken as absent.
 */
async function readDocuments(
  fetch: FetchLike,
  url: string,
  token: string,
  ids: Pick<RestDocumentReaderOptions, 'projectId' | 'databaseId'>,
  signal: AbortSignal,
  batch: readonly Waiting[],
): Promise<Read[]> {
  const database = `projects/${encodeURIComponent(ids.projectId)}/databases/${encodeURIComponent(ids.databaseId)}`;
  const nameOf = (path: string) => `projects/${ids.projectId}/databases/${ids.databaseId}/documents/${path}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/json',
        'content-type': 'application/json',
        'google-cloud-resource-prefix': database,
      },
      body: JSON.stringify({ documents: batch.map((w) => nameOf(w.path)) }),
      signal,
    });
  } catch (err) {
    throw new FirestoreRestError(GRPC_CODE.UNAVAILABLE, undefined, { cause: err }); // refused, reset or timed out: retried, then 503
  }
  if (!res.ok) throw new FirestoreRestError(await errorCode(res), res.status);
  let answers: unknown;
  try {
    answers = await res.json();
  } catch (err) {
    throw new FirestoreRestError(GRPC_CODE.INTERNAL, res.status, { cause: err }); // a 200 that is not JSON: 503, never a guess
  }
  if (!Array.isArray(answers)) throw new FirestoreRestError(GRPC_CODE.INTERNAL, res.status);
  // name → its fields, or null when Firestore says it is missing
  const byName = new Map<string, unknown>();
  for (const answer of answers as unknown[]) {
    const { found, missing } = (answer ?? {}) as { found?: { name?: unknown; fields?: unknown }; missing?: unknown };
    if (typeof found?.name === 'string') byName.set(found.name, found.fields ?? {});
    else if (typeof missing === 'string') byName.set(missing, null);
  }
  return batch.map((w): Read => {
    const name = nameOf(w.path);
    if (!byName.has(name)) return { error: new FirestoreRestError(GRPC_CODE.INTERNAL, res.status) };
    const fields = byName.get(name);
    if (fields === null) return { fields: undefined };
    try {
      return { fields: decodeFields(fields, w.path.slice(0, w.path.indexOf('/'))) };
    } catch (err) {
      return { error: err };
    }
  });
}

async function readDocument(
  fetch: FetchLike,
  url: string,
  token: string,
  database: string,
  signal: AbortSignal,
  path: string,
): Promise<Record<string, unknown> | undefined> {
  let res: Response;
  try {
    res = await fetch(url, {
      // The resource-prefix header is what the client library sends for routing and project isolation.
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/json',
        'google-cloud-resource-prefix': database,
      },
      signal,
    });
  } catch (err) {
    throw new FirestoreRestError(GRPC_CODE.UNAVAILABLE, undefined, { cause: err }); // refused, reset or timed out: retried, then 503
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return undefined;
  }
  if (!res.ok) throw new FirestoreRestError(await errorCode(res), res.status);
  let body: { fields?: unknown };
  try {
    body = (await res.json()) as { fields?: unknown };
  } catch (err) {
    throw new FirestoreRestError(GRPC_CODE.INTERNAL, res.status, { cause: err }); // a 200 that is not JSON: 503, never a guess
  }
  return decodeFields(body?.fields ?? {}, path.slice(0, path.indexOf('/')));
}

async function errorCode(res: Response): Promise<number> {
  const body = (await res.json().catch(() => undefined)) as { error?: { status?: unknown } } | undefined;
  const status = body?.error?.status;
  // own keys only: a status named like an Object.prototype member ("constructor") is not a code
  const named =
    typeof status === 'string' && Object.hasOwn(GRPC_CODE_BY_NAME, status) ? GRPC_CODE_BY_NAME[status] : undefined;
  if (named !== undefined) return named;
  // No google.rpc status (e.g. a proxy's page): 5xx and 429 are worth retrying, the rest is not.
  return res.status >= 500 || res.status === 429 ? GRPC_CODE.UNAVAILABLE : GRPC_CODE.UNKNOWN;
}

/** A timestamp as the client library returns it (`toDate()`), so one zod schema reads both. */
class RestTimestamp {
  constructor(readonly date: Date) {}
  toDate(): Date {
    return new Date(this.date);
  }
}

/** Decodes a REST `fields` map; anything malformed is a CorruptRecordError for `collection`. */
export function decodeFields(fields: unknown, collection: string): Record<string, unknown> {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw new CorruptRecordError(collection);
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) out[name] = decodeValue(value, collection);
  return out;
}

function decodeValue(value: unknown, collection: string): unknown {
  const corrupt = () => new CorruptRecordError(collection);
  if (typeof value !== 'object' || value === null) throw corrupt();
  const [entry, ...more] = Object.entries(value);
  if (entry === undefined || more.length > 0) throw corrupt(); // a Value holds exactly one kind
  const [kind, v] = entry;
  switch (kind) {
    case 'nullValue':
      return null;
    case 'booleanValue':
      if (typeof v !== 'boolean') throw corrupt();
      return v;
    case 'integerValue': {
      const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
      if (!Number.isSafeInteger(n)) throw corrupt();
      return n;
    }
    case 'doubleValue':
      if (typeof v === 'number') return v;
      if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return Number(v); // proto3 JSON spells these as strings
      throw corrupt();
    case 'timestampValue': {
      const d = typeof v === 'string' ? new Date(v) : new Date(NaN);
      if (Number.isNaN(d.getTime())) throw corrupt();
      return new RestTimestamp(d);
    }
    case 'stringValue':
      if (typeof v !== 'string') throw corrupt();
      return v;
    case 'bytesValue':
      if (typeof v !== 'string') throw corrupt();
      return Buffer.from(v, 'base64');
    case 'referenceValue':
      if (typeof v !== 'string') throw corrupt();
      return v;
    case 'geoPointValue': {
      // proto3 JSON omits zero fields
      const { latitude = 0, longitude = 0 } = (v ?? {}) as { latitude?: unknown; longitude?: unknown };
      if (typeof latitude !== 'number' || typeof longitude !== 'number') throw corrupt();
      return { latitude, longitude };
    }
    case 'arrayValue': {
      const items = (v as { values?: unknown } | null)?.values ?? [];
      if (!Array.isArray(items)) throw corrupt();
      return items.map((item) => decodeValue(item, collection));
    }
    case 'mapValue':
      return decodeFields((v as { fields?: unknown } | null)?.fields ?? {}, collection);
    default:
      throw corrupt();
  }
}

/**
 * Application Default Credentials (in a Cloud Function: its service account,
 * from the metadata server). The library caches the token until shortly
 * before it expires; it is loaded on first use.
 */
export function googleAccessToken(): () => Promise<string> {
  let auth: Promise<{ getAccessToken(): Promise<string | null | undefined> }> | undefined;
  return async () => {
    auth ??= import('google-auth-library')
      .then((m) => new m.GoogleAuth({ scopes: ['https://www.googleapis.com/auth/datastore'] }))
      .catch((err: unknown) => {
        auth = undefined;
        throw err;
      });
    const token = await (await auth).getAccessToken();
    if (!token) throw new Error('no access token from Application Default Credentials');
    return token;
  };
}
