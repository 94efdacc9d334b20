/**
 * The instance's tool policy, loaded and validated on first use by the MCP
 * function only (the OAuth functions never need the tool catalogue).
 * @module
 */
import type { Deps } from '../services/deps.js';
import type { AuthServices } from '../services/auth-services.js';
import type { Config } from '../config/config.js';
import { loadPolicy, type Policy } from '../policy/policy.js';
import { TOOL_DEFINITIONS } from './tools/register.js';
import { TOOLSETS } from './tools/spec.js';

const loaded = new WeakMap<Config, Promise<Policy>>();

/** What loading the policy uses. */
export interface ToolPolicyDeps extends Pick<Deps, 'config' | 'log'> {
  auth(): Promise<Pick<AuthServices, 'secrets'>>;
}

export function toolPolicy(deps: ToolPolicyDeps): Promise<Policy> {
  let p = loaded.get(deps.config); // per-request Deps copies share one config object
  if (!p) {
    p = deps.auth().then(async (services) => {
      const policy = await loadPolicy(deps.config, services.secrets, {
        knownTools: TOOL_DEFINITIONS.map((t) => t.name),
        knownToolsets: TOOLSETS,
      });
      deps.log.info('policy_loaded', { policy: policy.fingerprint, mode: policy.source });
      return policy;
    });
    p.catch(() => loaded.delete(deps.config)); // a failed load is retried by the next request
    loaded.set(deps.config, p);
  }
  return p;
}
