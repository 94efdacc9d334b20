/**
 * First-run key material for the local stack's file secret source:
 * `<dir>/<secret>/1`, mode 0600 in a 0700 directory. Never overwrites.
 * @module
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Must equal the defaults of SEALING_KEY_NAME, SIGNING_KEY_NAME and RALLY_CLIENT_SECRET_NAME in shared/config/config.ts. */
export const LOCAL_SECRET_NAMES = {
  sealingKey: 'rally-mcp-sealing-key',
  signingKey: 'rally-mcp-signing-key',
  rallyClientSecret: 'rally-client-secret',
} as const;

/**
 * The GitHub sandbox's client secret, written only when the local stack starts the sandbox (issue 19).
 * Not in LOCAL_SECRET_NAMES, whose every entry always exists; config's name for it must equal this.
 */
export const LOCAL_GITHUB_CLIENT_SECRET_NAME = 'github-client-secret';

export interface EnsureLocalKeysOptions {
  readonly rallyClientSecret: string;
  /** Written (once, like the others) only when given. */
  readonly githubClientSecret?: string;
}

/** Writes `content` unless the file exists (`wx`); returns whether it wrote. */
async function writeOnce(dir: string, name: string, content: string): Promise<boolean> {
  const secretDir = join(dir, name);
  await mkdir(secretDir, { recursive: true, mode: 0o700 });
  await chmod(secretDir, 0o700);
  try {
    await writeFile(join(secretDir, '1'), content, { flag: 'wx', mode: 0o600 });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** A new sealing key: base64url text of 32 CSPRNG bytes (AES-256 for A256KW). */
export function newSealingKeyPayload(): string {
  return randomBytes(32).toString('base64url');
}

/** A new signing key: Ed25519 private JWK JSON (`{kty,crv,x,d}`). */
export function newSigningKeyPayload(): string {
  const { privateKey } = generateKeyPairSync('ed25519');
  const { kty, crv, x, d } = privateKey.export({ format: 'jwk' });
  return JSON.stringify({ kty, crv, x, d });
}

/** Creates version 1 of each local secret if missing; existing files are left untouched. */
export async function ensureLocalKeys(dir: string, opts: EnsureLocalKeysOptions): Promise<void> {
  if (!opts.rallyClientSecret) throw new Error('ensureLocalKeys: rallyClientSecret is required');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  await writeOnce(dir, LOCAL_SECRET_NAMES.sealingKey, newSealingKeyPayload());
  await writeOnce(dir, LOCAL_SECRET_NAMES.signingKey, newSigningKeyPayload());
  await writeOnce(dir, LOCAL_SECRET_NAMES.rallyClientSecret, opts.rallyClientSecret);
  if (opts.githubClientSecret) await writeOnce(dir, LOCAL_GITHUB_CLIENT_SECRET_NAME, opts.githubClientSecret);
}
