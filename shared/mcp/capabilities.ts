/**
 * A stateless request cannot see what the client declared at `initialize`,
 * so the one capability we act on (URL-mode elicitation) is remembered per
 * grant or session when `initialize` arrives.
 * @module
 */
import type { Deps } from '../services/deps.js';
import { getGrant, recordElicitationSupport } from '../store/grants.repo.js';
import { getSession, recordSessionCapabilities } from '../store/sessions.repo.js';
import type { McpPrincipal } from './principal.js';

/** What remembering and reading a client's capabilities uses. */
export type CapabilitiesDeps = Pick<Deps, 'clock' | 'db' | 'limitAddress'>;

export function declaresUrlElicitation(capabilities: unknown): boolean {
  const e = (capabilities as { elicitation?: unknown } | null | undefined)?.elicitation;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as { url?: unknown }).url === 'object' &&
    (e as { url?: unknown }).url !== null
  );
}

export async function rememberClientCapabilities(
  deps: CapabilitiesDeps,
  principal: McpPrincipal,
  capabilities: unknown,
): Promise<void> {
  const url = declaresUrlElicitation(capabilities);
  if (principal.kind === 'grant') {
    await recordElicitationSupport(await deps.db(), principal.token.grantId, url);
    return;
  }
  // L20: any session id creates a session document here: an address over its limit gets 429 (respondError).
  deps.limitAddress('session_initialize');
  await recordSessionCapabilities(await deps.db(), principal.session.hash, url, deps.clock.now());
}

export async function supportsUrlElicitation(
  deps: Pick<Deps, 'clock' | 'db'>,
  principal: McpPrincipal,
): Promise<boolean> {
  const db = await deps.db();
  if (principal.kind === 'grant')
    return (await getGrant(db, principal.token.grantId, deps.clock.now()))?.elicitationUrl === true;
  return (await getSession(db, principal.session.hash))?.elicitationUrl === true;
}
