/**
 * Deployed `main`: loads only the function this instance serves
 * (FUNCTION_TARGET), so the MCP function never pays the authorization
 * server's import cost at cold start. Without a target (local tools), all load.
 */
import { functionTarget } from '../shared/config/config.js';

const ENTRIES: Record<string, () => Promise<unknown>> = {
  mcp: () => import('./mcp/index.js'),
  oauthCallback: () => import('./oauth-callback/index.js'),
  protectedResourceMetadata: () => import('./protected-resource-metadata/index.js'),
  authorization: () => import('./authorization/index.js'),
};

const target = functionTarget();
const load = target ? ENTRIES[target] : undefined;
await (load ? load() : Promise.all(Object.values(ENTRIES).map((l) => l())));
