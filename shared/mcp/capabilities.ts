/**
 * A stateless request cannot see what the client declared at `initialize`,
 * so the one capability we act on (URL-mode elicitation) is remembered per
 * grant or session when `initialize` arrives.
 * @module
 */
import type { Deps } from '../app/deps.js';
import { getGrant, recordElicitationSupport } from '../storage/grants.repo.js';
import { getSession, recordSessionCapabilities } from '../session/sessions.repo.js';
import type { McpPrincipal } from './auth.js';
import { AddressThrottledError } from '../ratelimit/address-throttle.js';

export function declaresUrlElicitation(capabilities: unknown): boolean {
  const e = (capabilities as { elicitation?: unknown } | null | undefined)?.elicitation;
  return typeof e === 'object' && e !== null && typeof (e as { url?: unknown }).url === 'object' && (e as { url?: unknown }).url !== null;
}

export async function rememberClientCapabilities(deps: Deps, principal: McpPrincipal, capabilities: unknown): Promise<void> {
  const url = declaresUrlElicitation(capabilities);
  if (principal.kind === 'grant') {
    await recordElicitationSupport(await deps.db(), principal.token.grantId, url);
    return;
  }
  // L20: any session id creates a session document here. Over the address limit the hint is not
  // stored and the handshake still succeeds: the client gets link prompts instead of -32042, and
  // nothing is written. (/mcp's error mapper has no 429 for a throttled handshake yet.)
  try {
    deps.limitAddress('session_initialize');
  } catch (err) {
    if (err instanceof AddressThrottledError) return;
    throw err;
  }
  await recordSessionCapabilities(await deps.db(), principal.session.hash, url, deps.clock.now());
}

export async function supportsUrlElicitation(deps: Deps, principal: McpPrincipal): Promise<boolean> {
  const db = await deps.db();
  if (principal.kind === 'grant') return (await getGrant(db, principal.token.grantId, deps.clock.now()))?.elicitationUrl === true;
  return (await getSession(db, principal.session.hash))?.elicitationUrl === true;
}
