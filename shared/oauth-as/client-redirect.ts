/**
 * The redirect back to an MCP client's registered (already validated) URI.
 * @module
 */

/** Builds `redirectUri` + params, keeping any query the registered URI already had; always adds `iss` (H9). */
export function clientRedirect(
  redirectUri: string,
  issuer: string,
  params: Record<string, string | undefined>,
): string {
  const url = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  url.searchParams.set('iss', issuer);
  return url.toString();
}
