/**
 * Firestore collection names (see docs/firestore-schema.md). Every document
 * id is a 43-character base64url SHA-256 hash or a random id, and every
 * collection carries `expiresAt` (a Timestamp) for its TTL policy; readers
 * also compare `expiresAt` with the clock, since TTL deletion lags.
 * @module
 */
export const COLLECTIONS = {
  /** Registered MCP clients (RFC 7591) and cached Client ID Metadata Documents. */
  clients: 'oauth_clients',
  /** A validated /authorize request waiting for consent. */
  authRequests: 'auth_requests',
  /** OAuth `state` sent to Rally → the pending sign-in (single use, 10 min). */
  linkTransactions: 'link_transactions',
  /** Our authorization codes, by hash (single use). */
  authCodes: 'auth_codes',
  /** One grant per user + MCP client (scopes, status). */
  grants: 'grants',
  /** Our refresh tokens, by hash. */
  refreshTokens: 'refresh_tokens',
  /** Rally tokens sealed as JWE, per grant or per linked session. */
  rallyTokens: 'rally_tokens',
  /** Every other upstream provider's tokens (issue 19: GitHub), sealed as JWE, per provider and grant. */
  upstreamTokens: 'upstream_tokens',
  /**
   * One document: its random `tag` changes whenever a link is ended anywhere
   * (shared/store/link-epoch.repo.ts), so an instance confirms all its cached links with one read.
   */
  linkEpoch: 'link_epoch',
  /** Session-link mode: session hash → link status. */
  sessions: 'sessions',
  /** Session-link mode: /connect/<id> transactions. */
  connectTransactions: 'connect_transactions',
  /** MCP 2026-07-28: sign-in prompts whose `requestState` came back, so each is answered once. */
  spentRequestStates: 'spent_request_states',
  /** The signed-in browser of `/account` and `/connections` (cookie hash) → Rally user, 15 min. */
  browserSessions: 'browser_sessions',
  /** Connection tokens of headless agents (issue 18), by hash of their id; the secret only hashed. */
  connectionTokens: 'connection_tokens',
  /** Windowed rate-limit counters. */
  rateLimits: 'rate_limits',
} as const;

export type CollectionName = (typeof COLLECTIONS)[keyof typeof COLLECTIONS];
export const TTL_FIELD = 'expiresAt';
