/**
 * What the Rally client needs from the auth layer: the provider-neutral token port of
 * shared/upstream/provider.ts. The auth layer (token store, refresh single-flight) implements it;
 * the Rally client never sees Firestore, and never sees the MCP client's bearer token.
 * @module
 */
import type { UpstreamTokenProvider } from '../upstream/provider.js';

export type RallyTokenProvider = UpstreamTokenProvider;

/** Labels propagated to Rally on every request (never used for authentication). */
export interface RallyRequestLabels {
  readonly requestId: string;
  readonly correlationId?: string;
}
