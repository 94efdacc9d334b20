/**
 * What the Rally client needs from the auth layer. The auth layer (token
 * store, refresh single-flight) implements it; the Rally client never sees
 * Firestore, and never sees the MCP client's bearer token.
 * @module
 */

export interface RallyTokenProvider {
  /** The current Rally access token. Throws LinkRequiredError when there is no usable link. */
  accessToken(): Promise<string>;
  /**
   * Rally answered 401 to a request made with `rejected`. Returns a fresh token
   * (refreshing at most once across instances) or throws LinkRequiredError.
   */
  refreshAfterUnauthorized(rejected: string): Promise<string>;
}

/** Labels propagated to Rally on every request (never used for authentication). */
export interface RallyRequestLabels {
  readonly requestId: string;
  readonly correlationId?: string;
}
