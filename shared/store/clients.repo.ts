/**
 * Registered MCP clients: RFC 7591 registrations and cached Client ID
 * Metadata Documents. Doc id = sha256(client_id); client secrets stored hashed.
 * @module
 */
import type { Firestore } from '@google-cloud/firestore';
import { z } from 'zod';
import { sha256Id } from '../kernel/hash.js';
import { COLLECTIONS } from './collections.js';
import { withStoreRetry, zTimestamp } from './firestore-utils.js';
import { docType, readDoc } from './documents.js';

export const TOKEN_ENDPOINT_AUTH_METHODS = ['none', 'client_secret_post', 'client_secret_basic'] as const;
export const GRANT_TYPES = ['authorization_code', 'refresh_token'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];
/** OpenID Connect Dynamic Client Registration 1.0 §2 `application_type` (H24). */
export const APPLICATION_TYPES = ['web', 'native'] as const;
export type ApplicationType = (typeof APPLICATION_TYPES)[number];

export const ClientDoc = z.object({
  clientId: z.string(),
  clientName: z.string(),
  redirectUris: z.array(z.string()).min(1),
  tokenEndpointAuthMethod: z.enum(TOKEN_ENDPOINT_AUTH_METHODS),
  clientSecretHash: z.string().optional(),
  /** Grant types the client registered (L18); absent on records written before it was kept: both. */
  grantTypes: z.array(z.enum(GRANT_TYPES)).optional(),
  /**
   * H24: the registered `application_type`, `web` when the client sent none (the OIDC default);
   * absent on records written before it was kept.
   */
  applicationType: z.enum(APPLICATION_TYPES).optional(),
  source: z.enum(['dcr', 'cimd']),
  createdAt: zTimestamp,
  expiresAt: zTimestamp,
});
export type RegisteredClient = z.infer<typeof ClientDoc>;
const CLIENT = docType(COLLECTIONS.clients, ClientDoc);

export async function saveClient(db: Firestore, client: RegisteredClient): Promise<void> {
  await withStoreRetry(() =>
    db.collection(COLLECTIONS.clients).doc(sha256Id(client.clientId)).set(stripUndefined(client)),
  );
}

export async function findClient(db: Firestore, clientId: string, now: Date): Promise<RegisteredClient | undefined> {
  const client = await readDoc(db.collection(COLLECTIONS.clients).doc(sha256Id(clientId)), CLIENT, now);
  return client?.clientId === clientId ? client : undefined;
}

/** Firestore rejects `undefined` values; optional fields are simply left out. */
export function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
