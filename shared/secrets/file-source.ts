/**
 * Secrets from files: `<dir>/<name>/<version>`. Two uses: Secret Manager
 * versions that Cloud Run mounts as a volume (SECRET_SOURCE=mounted, what
 * deploy.sh deploys), and local key files (SECRET_SOURCE=file, refused in
 * production).
 *
 * A mounted file is fetched from Secret Manager on every read, so a read can
 * fail or stall like an API call. Each read has a deadline, and a stalled read
 * is never doubled: it holds one of libuv's few file-system threads until it
 * returns, so callers wait on the read already in flight for that file.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertSecretRef, SecretUnavailableError, type SecretSource } from './errors.js';

export interface FileSecretSourceOptions {
  /** Per-access deadline; past it the access fails `unreachable` (the read itself cannot be cancelled). */
  readonly timeoutMs?: number;
  /** Test seam: reads one file. */
  readonly read?: (path: string) => Promise<Uint8Array>;
}

const DEFAULT_TIMEOUT_MS = 5_000; // the same deadline as a Secret Manager API access

const defaultRead = async (path: string): Promise<Uint8Array> => new Uint8Array(await readFile(path));

function reasonOf(err: unknown): 'not_found' | 'permission_denied' | 'unreachable' {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' ? 'not_found' : code === 'EACCES' ? 'permission_denied' : 'unreachable';
}

/** Reads `<dir>/<name>/<version>` as raw bytes; a missing file is `not_found`, other I/O errors and timeouts `unreachable`. */
export function createFileSecretSource(dir: string, options: FileSecretSourceOptions = {}): SecretSource {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const read = options.read ?? defaultRead;
  const inFlight = new Map<string, Promise<Uint8Array>>();

  return {
    async access(name, version) {
      assertSecretRef(name, version); // also keeps `..` and `/` out of the path
      const path = join(dir, name, version);
      let pending = inFlight.get(path);
      if (!pending) {
        const started = read(path);
        pending = started;
        inFlight.set(path, started);
        const settle = () => {
          if (inFlight.get(path) === started) inFlight.delete(path);
        };
        started.then(settle, settle);
      }
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new SecretUnavailableError(name, version, 'unreachable')), timeoutMs);
        timer.unref();
      });
      try {
        return (await Promise.race([pending, deadline])).slice(); // callers may zero their copy
      } catch (err) {
        if (err instanceof SecretUnavailableError) throw err;
        throw new SecretUnavailableError(name, version, reasonOf(err), { cause: err });
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
