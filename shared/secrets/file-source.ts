/**
 * Secrets from files: `<dir>/<name>/<version>`. Local stack only (config refuses it in production).
 * @module
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertSecretRef, SecretUnavailableError, type SecretSource } from './errors.js';

/** Reads `<dir>/<name>/<version>` as raw bytes; a missing file is `not_found`, other I/O errors `unreachable`. */
export function createFileSecretSource(dir: string): SecretSource {
  return {
    async access(name, version) {
      assertSecretRef(name, version); // also keeps `..` and `/` out of the path
      try {
        return new Uint8Array(await readFile(join(dir, name, version)));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const reason = code === 'ENOENT' ? 'not_found' : code === 'EACCES' ? 'permission_denied' : 'unreachable';
        throw new SecretUnavailableError(name, version, reason, { cause: err });
      }
    },
  };
}
