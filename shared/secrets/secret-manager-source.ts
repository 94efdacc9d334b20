/**
 * Secrets from Google Secret Manager, read at pinned versions (K3).
 * The SDK is heavy, so it is imported on first access, and it runs in REST
 * ("fallback") mode. With `endpoint` set it talks plain HTTP to a local
 * stand-in (dev/secret-manager-standin.ts) with an auth stub instead of
 * Google credentials.
 * @module
 */
import { createNoCredentialsAuth } from '../kernel/no-credentials-auth.js';
import type { protos, SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { crc32c } from './crc32c.js';
import { assertSecretRef, SecretUnavailableError, type SecretSource, type SecretUnavailableReason } from './errors.js';

export interface SecretManagerSourceOptions {
  readonly projectId: string;
  /** Test/dev only: e.g. `http://127.0.0.1:9090` (DANGEROUSLY_SECRET_MANAGER_ENDPOINT). */
  readonly endpoint?: string;
  /** Per-access deadline. The SDK's own retries are off: its default for AccessSecretVersion retries
   * UNAVAILABLE for up to 10 minutes, which would hold a request open instead of answering 503. */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5_000;

// gRPC status codes as returned on GoogleError.code.
const GRPC_REASON: Record<number, SecretUnavailableReason> = {
  3: 'invalid_request', // INVALID_ARGUMENT
  5: 'not_found', // NOT_FOUND
  7: 'permission_denied', // PERMISSION_DENIED
  9: 'disabled', // FAILED_PRECONDITION: "... is in DISABLED state" / "DESTROYED state"
  16: 'permission_denied', // UNAUTHENTICATED
};

type Client = InstanceType<typeof SecretManagerServiceClient>;

async function createClient(options: SecretManagerSourceOptions): Promise<Client> {
  const mod = await import('@google-cloud/secret-manager');
  const Ctor = mod.SecretManagerServiceClient;
  if (!options.endpoint) {
    // Application Default Credentials (the function's service account) over REST.
    return new Ctor({ projectId: options.projectId, fallback: true });
  }
  const url = new URL(options.endpoint);
  const protocol = url.protocol.replace(/:$/, '');
  if (protocol !== 'http' && protocol !== 'https') throw new Error('secret manager endpoint must be http(s)');
  const port = url.port ? Number(url.port) : protocol === 'http' ? 80 : 443;
  return new Ctor({
    projectId: options.projectId,
    fallback: true,
    apiEndpoint: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    protocol,
    // The SDK types want a GoogleAuth; the fallback path only uses the members above.
    auth: createNoCredentialsAuth(options.projectId) as unknown as NonNullable<
      ConstructorParameters<typeof Ctor>[0]
    >['auth'],
  } as ConstructorParameters<typeof Ctor>[0]);
}

function reasonOf(err: unknown): SecretUnavailableReason {
  const code = (err as { code?: unknown } | null)?.code;
  return (typeof code === 'number' && GRPC_REASON[code]) || 'unreachable';
}

function toBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof Uint8Array) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  if (typeof data === 'string') return new Uint8Array(Buffer.from(data, 'base64')); // defensive: JSON-decoded bytes
  return undefined;
}

/**
 * A SecretSource over Secret Manager. Every failure, including a bad checksum,
 * becomes SecretUnavailableError; nothing is cached here (wrap in createCachedSecretSource).
 */
export function createSecretManagerSource(options: SecretManagerSourceOptions): SecretSource {
  let client: Promise<Client> | undefined;
  const getClient = () =>
    (client ??= createClient(options).catch((err: unknown) => {
      client = undefined; // a failed import or construction is retried on the next access
      throw err;
    }));
  const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  return {
    async access(name, version) {
      assertSecretRef(name, version);
      let response: protos.google.cloud.secretmanager.v1.IAccessSecretVersionResponse;
      try {
        const c = await getClient();
        [response] = await c.accessSecretVersion(
          { name: `projects/${options.projectId}/secrets/${name}/versions/${version}` },
          { timeout, retry: null },
        );
      } catch (err) {
        throw new SecretUnavailableError(name, version, reasonOf(err), { cause: err });
      }
      const data = toBytes(response.payload?.data);
      if (!data) throw new SecretUnavailableError(name, version, 'integrity');
      // dataCrc32c is proto3 `optional int64`; absent (null/undefined) means the server sent none.
      const expected = response.payload?.dataCrc32c;
      if (expected !== null && expected !== undefined && String(expected) !== String(crc32c(data))) {
        data.fill(0);
        throw new SecretUnavailableError(name, version, 'integrity');
      }
      return data;
    },
  };
}
