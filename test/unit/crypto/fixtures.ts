/** In-memory SecretSource and key material for the crypto unit tests. */
import { SecretUnavailableError, type SecretSource } from '../../../shared/secrets/secret-source.js';
import { newSealingKeyPayload, newSigningKeyPayload } from '../../../dev/local-keys.js';

export interface MemorySource extends SecretSource {
  put(name: string, version: string, payload: string): void;
  disable(name: string, version: string): void;
  setDown(down: boolean): void;
  calls: number;
}

export function memorySource(): MemorySource {
  const data = new Map<string, Uint8Array>();
  const disabled = new Set<string>();
  let down = false;
  const src: MemorySource = {
    calls: 0,
    async access(name, version) {
      src.calls++;
      if (down) throw new SecretUnavailableError(name, version, 'unreachable');
      const key = `${name}/${version}`;
      if (disabled.has(key)) throw new SecretUnavailableError(name, version, 'disabled');
      const v = data.get(key);
      if (!v) throw new SecretUnavailableError(name, version, 'not_found');
      return v.slice();
    },
    put(name, version, payload) {
      data.set(`${name}/${version}`, new TextEncoder().encode(payload));
    },
    disable(name, version) {
      disabled.add(`${name}/${version}`);
    },
    setDown(d) {
      down = d;
    },
  };
  return src;
}

export const SEALING = 'rally-mcp-sealing-key';
export const SIGNING = 'rally-mcp-signing-key';

/** A source holding sealing and signing keys at versions 1 and 2. */
export function sourceWithKeys(): MemorySource {
  const src = memorySource();
  for (const v of ['1', '2']) {
    src.put(SEALING, v, newSealingKeyPayload());
    src.put(SIGNING, v, newSigningKeyPayload());
  }
  return src;
}
