/**
 * A Firestore client for the test emulator, as the product builds one locally
 * (shared/app/deps.ts createFirestore): REST, no TLS, the emulator's owner token, no
 * Google credentials. For tests that read or plant documents behind the servers' backs.
 */
import { Firestore } from '@google-cloud/firestore';
import { createNoCredentialsAuth } from '../../shared/kernel/no-credentials-auth.js';

export function emulatorFirestore(projectId: string, host: string): Firestore {
  return new Firestore({
    projectId,
    host,
    ssl: false,
    preferRest: true,
    customHeaders: { Authorization: 'Bearer owner' },
    authClient: createNoCredentialsAuth(projectId),
  } as ConstructorParameters<typeof Firestore>[0]);
}
