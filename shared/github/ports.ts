/**
 * What the GitHub client needs from the auth layer, the same shape as Rally's
 * (shared/rally/ports.ts `RallyTokenProvider`): the token store and refresh
 * single-flight implement it; the GitHub client never sees Firestore or the
 * MCP client's bearer token.
 * @module
 */

export interface GitHubTokenProvider {
  /** The current GitHub access token. Throws (the provider's link-required error) when there is no usable link. */
  accessToken(): Promise<string>;
  /**
   * GitHub answered 401 to a request made with `rejected`. Returns a fresh token (refreshing at most once
   * across instances when the token expires; GitHub App user tokens do) or throws the link-required error.
   */
  refreshAfterUnauthorized(rejected: string): Promise<string>;
}
