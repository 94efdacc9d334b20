/**
 * Our own scopes (unrelated to Rally's single `alm` scope).
 * @module
 */
export const SCOPES = ['rally.read', 'rally.write'] as const;
export type Scope = (typeof SCOPES)[number];
/** What a client gets when it asks for nothing in particular. */
export const DEFAULT_SCOPES: readonly Scope[] = ['rally.read', 'rally.write'];

export function parseScopes(raw: string | undefined): Scope[] | undefined {
  if (raw === undefined || raw.trim() === '') return [...DEFAULT_SCOPES];
  const parts = [...new Set(raw.trim().split(/\s+/))];
  if (!parts.every((p): p is Scope => (SCOPES as readonly string[]).includes(p))) return undefined;
  return SCOPES.filter((s) => parts.includes(s));
}
