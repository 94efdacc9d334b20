/**
 * Where secrets come from: the SecretSource port, an instance-lifetime cache,
 * and the config-driven choice between the Secret Manager client, mounted
 * Secret Manager volumes, and local key files.
 * @module
 */
import type { Config } from '../config/config.js';
import type { SecretSource } from './errors.js';
import { createFileSecretSource } from './file-source.js';
import { createSecretManagerSource } from './secret-manager-source.js';

export { SecretUnavailableError, type SecretSource, type SecretUnavailableReason } from './errors.js';
export { createFileSecretSource, type FileSecretSourceOptions } from './file-source.js';
export { createSecretManagerSource, type SecretManagerSourceOptions } from './secret-manager-source.js';

/**
 * Caches each (name, version) for the life of the instance: pinned versions are immutable.
 * Concurrent first calls share one backend access; a failure is dropped from the cache,
 * so the next call retries and the instance recovers without a restart (E8).
 * Callers get a copy, so zeroing or mutating a result cannot corrupt the cache.
 */
export function createCachedSecretSource(inner: SecretSource): SecretSource {
  const cache = new Map<string, Promise<Uint8Array>>();
  return {
    async access(name, version) {
      const key = `${name}\u0000${version}`;
      let entry = cache.get(key);
      if (!entry) {
        const pending = inner.access(name, version);
        entry = pending;
        cache.set(key, pending);
        pending.catch(() => {
          if (cache.get(key) === pending) cache.delete(key);
        });
      }
      return (await entry).slice();
    },
  };
}

/** The instance's SecretSource per SECRET_SOURCE, always cached. */
export function createSecretSourceFromConfig(
  config: Pick<
    Config,
    | 'SECRET_SOURCE'
    | 'SECRETS_DIR'
    | 'SECRET_MANAGER_PROJECT'
    | 'GOOGLE_CLOUD_PROJECT'
    | 'DANGEROUSLY_SECRET_MANAGER_ENDPOINT'
  >,
): SecretSource {
  if (config.SECRET_SOURCE === 'file' || config.SECRET_SOURCE === 'mounted') {
    // Same layout either way: Cloud Run mounts each version at <SECRETS_DIR>/<name>/<version>.
    if (!config.SECRETS_DIR) throw new Error(`SECRETS_DIR is required when SECRET_SOURCE=${config.SECRET_SOURCE}`); // also enforced by config
    return createCachedSecretSource(createFileSecretSource(config.SECRETS_DIR));
  }
  return createCachedSecretSource(
    createSecretManagerSource({
      projectId: config.SECRET_MANAGER_PROJECT ?? config.GOOGLE_CLOUD_PROJECT,
      ...(config.DANGEROUSLY_SECRET_MANAGER_ENDPOINT ? { endpoint: config.DANGEROUSLY_SECRET_MANAGER_ENDPOINT } : {}),
    }),
  );
}
