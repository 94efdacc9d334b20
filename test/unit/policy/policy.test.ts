import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../../shared/config/config.js';
import {
  createPolicy,
  DEFAULT_RATE_LIMITS,
  loadPolicy,
  parsePolicy,
  PolicyError,
  type PolicyConfig,
} from '../../../shared/policy/policy.js';
import { SecretUnavailableError, type SecretSource } from '../../../shared/secrets/secret-source.js';

const TOOLS = [
  { name: 'get_item', write: false },
  { name: 'search_items', write: false },
  { name: 'update_item', write: true },
  { name: 'create_item', write: true },
];
const KNOWN = TOOLS.map((t) => t.name);
const none: PolicyConfig = {
  POLICY_JSON: undefined,
  POLICY_FILE: undefined,
  POLICY_SECRET: undefined,
  POLICY_SECRET_VERSION: '1',
};
const inline = (doc: unknown): PolicyConfig => ({ ...none, POLICY_JSON: JSON.stringify(doc) });

const visible = (p: Awaited<ReturnType<typeof loadPolicy>>, caller: { clientId?: string; agentId?: string }) =>
  TOOLS.filter((t) => p.isToolVisible({ ...caller, tool: t.name, toolIsWrite: t.write })).map((t) => t.name);

async function problemsOf(p: Promise<unknown>): Promise<string[]> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PolicyError);
  expect(err).toBeInstanceOf(ConfigError);
  return [...(err as PolicyError).problems];
}

describe('policy defaults', () => {
  it('no policy: every tool allowed and the documented default limits', async () => {
    const p = await loadPolicy(none);
    expect(p.source).toBe('default');
    expect(visible(p, { clientId: 'c', agentId: 'a' })).toEqual(KNOWN);
    expect(p.decide({ tool: 'update_item', toolIsWrite: true })).toEqual({ allowed: true });
    expect(p.limitsFor({})).toEqual(DEFAULT_RATE_LIMITS);
    expect(DEFAULT_RATE_LIMITS).toEqual({
      perAgentPerMinute: Infinity,
      perUserPerMinute: Infinity,
      perSessionPerMinute: Infinity,
    });
  });

  it('loadConfig accepts the policy keys with a pinned default secret version', () => {
    const c = loadConfig({
      PUBLIC_BASE_URL: 'https://x.example.com',
      GOOGLE_CLOUD_PROJECT: 'demo-project',
      RALLY_CLIENT_ID: 'a',
      POLICY_SECRET: 'rally-mcp-policy',
    });
    expect(c.POLICY_SECRET).toBe('rally-mcp-policy');
    expect(c.POLICY_SECRET_VERSION).toBe('1');
    expect(c.RATE_LIMIT_SHARDS).toBe(4);
  });
});

describe('policy decisions', () => {
  it('a read-only agent can neither see nor call write tools', async () => {
    const p = await loadPolicy(inline({ version: 1, agents: { 'agent-ro': { readOnly: true } } }), undefined, {
      knownTools: KNOWN,
    });
    expect(visible(p, { agentId: 'agent-ro' })).toEqual(['get_item', 'search_items']);
    expect(p.decide({ agentId: 'agent-ro', tool: 'update_item', toolIsWrite: true })).toEqual({
      allowed: false,
      reason: 'read_only',
    });
    expect(p.decide({ agentId: 'agent-ro', tool: 'get_item', toolIsWrite: false })).toEqual({ allowed: true });
    // Other agents, and callers without the header, are unaffected.
    expect(visible(p, { agentId: 'agent-other' })).toEqual(KNOWN);
    expect(visible(p, {})).toEqual(KNOWN);
  });

  it('client rules restrict tools and may loosen the defaults (they are backed by our tokens)', async () => {
    const p = await loadPolicy(
      inline({
        version: 1,
        defaults: { readOnly: true, rateLimits: { perUserPerMinute: 30 } },
        clients: {
          'trusted-client': { readOnly: false, rateLimits: { perUserPerMinute: 300 } },
          'search-only': { allowedTools: ['search_items'] },
        },
      }),
    );
    expect(visible(p, {})).toEqual(['get_item', 'search_items']);
    expect(visible(p, { clientId: 'trusted-client' })).toEqual(KNOWN);
    expect(p.limitsFor({ clientId: 'trusted-client' }).perUserPerMinute).toBe(300);
    expect(visible(p, { clientId: 'search-only' })).toEqual(['search_items']);
    expect(p.decide({ clientId: 'search-only', tool: 'get_item', toolIsWrite: false })).toEqual({
      allowed: false,
      reason: 'tool_not_allowed',
    });
    expect(p.limitsFor({ clientId: 'search-only' })).toEqual({ ...DEFAULT_RATE_LIMITS, perUserPerMinute: 30 });
  });

  it('client and agent rules merge: the most restrictive wins, and an agent rule can never loosen', async () => {
    const p = createPolicy(
      parsePolicy(
        {
          version: 1,
          defaults: { readOnly: true, allowedTools: ['get_item', 'search_items'] },
          clients: {
            studio: {
              readOnly: false,
              allowedTools: ['get_item', 'search_items', 'update_item'],
              rateLimits: { perAgentPerMinute: 100, perUserPerMinute: 50 },
            },
          },
          agents: {
            'agent-a': {
              allowedTools: ['search_items', 'update_item', 'create_item'],
              rateLimits: { perUserPerMinute: 10, perSessionPerMinute: 500 },
            },
            'agent-loose': { readOnly: false, allowedTools: KNOWN, rateLimits: { perAgentPerMinute: 100_000 } },
          },
        },
        'test',
      ),
    );
    // Intersection of tools; create_item is not in the client's list, so the agent cannot add it.
    expect(visible(p, { clientId: 'studio', agentId: 'agent-a' })).toEqual(['search_items', 'update_item']);
    expect(p.limitsFor({ clientId: 'studio', agentId: 'agent-a' })).toEqual({
      perAgentPerMinute: 100,
      perUserPerMinute: 10,
      perSessionPerMinute: 500,
    });
    // A forged agent id with looser rules gains nothing over the defaults...
    expect(visible(p, { agentId: 'agent-loose' })).toEqual(['get_item', 'search_items']);
    expect(p.decide({ agentId: 'agent-loose', tool: 'update_item', toolIsWrite: true })).toEqual({
      allowed: false,
      reason: 'read_only',
    });
    expect(p.limitsFor({ agentId: 'agent-loose' }).perAgentPerMinute).toBe(100_000); // only ever tightens the (unlimited) default
    // ...nor over the client rule.
    expect(visible(p, { clientId: 'studio', agentId: 'agent-loose' })).toEqual([
      'get_item',
      'search_items',
      'update_item',
    ]);
    expect(p.limitsFor({ clientId: 'studio', agentId: 'agent-loose' }).perAgentPerMinute).toBe(100);
  });

  it('read_only is reported before tool_not_allowed, and the fingerprint is stable', () => {
    const doc = parsePolicy({ version: 1, defaults: { readOnly: true, allowedTools: ['get_item'] } }, 'test');
    const p = createPolicy(doc);
    expect(p.decide({ tool: 'update_item', toolIsWrite: true })).toEqual({ allowed: false, reason: 'read_only' });
    expect(p.decide({ tool: 'search_items', toolIsWrite: false })).toEqual({
      allowed: false,
      reason: 'tool_not_allowed',
    });
    expect(p.fingerprint).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(createPolicy(doc).fingerprint).toBe(p.fingerprint);
    expect(createPolicy(parsePolicy({ version: 1 }, 'test')).fingerprint).not.toBe(p.fingerprint);
  });
});

describe('policy validation', () => {
  it('names the bad paths', async () => {
    const problems = await problemsOf(
      loadPolicy(
        inline({
          version: 1,
          defaults: { readOnly: 'yes' },
          clients: { c1: { rateLimits: { perUserPerMinute: 0 } } },
          agents: { a1: { allowedTools: 'get_item', surprise: true } },
        }),
      ),
    );
    const text = problems.join('\n');
    expect(text).toContain('POLICY_JSON defaults.readOnly');
    expect(text).toContain('POLICY_JSON clients.c1.rateLimits.perUserPerMinute');
    expect(text).toContain('POLICY_JSON agents.a1.allowedTools');
    expect(text).toContain('surprise');
  });

  it('requires version 1 and refuses unknown top-level keys', async () => {
    expect((await problemsOf(loadPolicy(inline({ version: 2 })))).join()).toContain('POLICY_JSON version');
    expect((await problemsOf(loadPolicy(inline({ defaults: {} })))).join()).toContain('POLICY_JSON version');
    expect((await problemsOf(loadPolicy(inline({ version: 1, rules: {} })))).join()).toContain('rules');
  });

  it('rejects malformed JSON without echoing it', async () => {
    const problems = await problemsOf(loadPolicy({ ...none, POLICY_JSON: '{"version":1, secret-ish' }));
    expect(problems).toEqual(['POLICY_JSON is not valid JSON']);
  });

  it('rejects unknown tool names when the tool list is given', async () => {
    const problems = await problemsOf(
      loadPolicy(inline({ version: 1, clients: { c: { allowedTools: ['get_item', 'get_itme'] } } }), undefined, {
        knownTools: KNOWN,
      }),
    );
    expect(problems).toEqual(['POLICY_JSON clients.c.allowedTools.1: unknown tool "get_itme"']);
  });

  it('refuses more than one source', async () => {
    const problems = await problemsOf(loadPolicy({ ...none, POLICY_JSON: '{"version":1}', POLICY_FILE: '/x.json' }));
    expect(problems).toEqual(['set only one of POLICY_JSON, POLICY_FILE']);
  });
});

describe('policy sources', () => {
  const doc = { version: 1, agents: { ro: { readOnly: true } } };

  it('POLICY_FILE reads a JSON file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'policy-'));
    await writeFile(join(dir, 'policy.json'), JSON.stringify(doc));
    const p = await loadPolicy({ ...none, POLICY_FILE: join(dir, 'policy.json') });
    expect(p.source).toBe('file');
    expect(visible(p, { agentId: 'ro' })).toEqual(['get_item', 'search_items']);
    const missing = await problemsOf(loadPolicy({ ...none, POLICY_FILE: join(dir, 'nope.json') }));
    expect(missing).toEqual(['POLICY_FILE could not be read']);
    const bad = await problemsOf(
      loadPolicy({ ...none, POLICY_FILE: 'p.json' }, undefined, {
        readFile: async () => '{"version":1,"agents":{"x":{"readOnly":1}}}',
      }),
    );
    expect(bad.join()).toContain('POLICY_FILE agents.x.readOnly');
  });

  it('POLICY_SECRET reads the pinned version through the SecretSource', async () => {
    const calls: string[] = [];
    const secrets: SecretSource = {
      access: async (name, version) => {
        calls.push(`${name}@${version}`);
        return new TextEncoder().encode(JSON.stringify(doc));
      },
    };
    const p = await loadPolicy({ ...none, POLICY_SECRET: 'rally-mcp-policy', POLICY_SECRET_VERSION: '7' }, secrets);
    expect(calls).toEqual(['rally-mcp-policy@7']);
    expect(p.source).toBe('secret');
    expect(p.decide({ agentId: 'ro', tool: 'update_item', toolIsWrite: true })).toEqual({
      allowed: false,
      reason: 'read_only',
    });
  });

  it('POLICY_SECRET fails closed when the secret is unavailable or malformed', async () => {
    const down: SecretSource = { access: (n, v) => Promise.reject(new SecretUnavailableError(n, v, 'unreachable')) };
    await expect(loadPolicy({ ...none, POLICY_SECRET: 'p', POLICY_SECRET_VERSION: '1' }, down)).rejects.toBeInstanceOf(
      SecretUnavailableError,
    );
    await expect(loadPolicy({ ...none, POLICY_SECRET: 'p', POLICY_SECRET_VERSION: '1' })).rejects.toBeInstanceOf(
      PolicyError,
    );
    const junk: SecretSource = { access: async () => new Uint8Array([0xff, 0xfe, 0x00]) };
    expect(await problemsOf(loadPolicy({ ...none, POLICY_SECRET: 'p', POLICY_SECRET_VERSION: '2' }, junk))).toEqual([
      'POLICY_SECRET p version 2 is not UTF-8',
    ]);
  });
});

describe('toolsets (issue 17): listing only, in the one visibility path', () => {
  const tool = (toolset: string | undefined, write = false) => ({
    tool: `t_${toolset ?? 'core'}`,
    toolIsWrite: write,
    toolset,
  });
  const doc = (rule: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    parsePolicy({ version: 1, defaults: rule, ...extra }, 'POLICY_JSON', {
      knownToolsets: ['core', 'planning', 'quality'],
    });

  it('lists core tools always and other toolsets only when the policy or the caller selects them', () => {
    const p = createPolicy(doc({}));
    expect(p.isToolVisible(tool(undefined))).toBe(true);
    expect(p.isToolVisible(tool('core'))).toBe(true);
    expect(p.isToolVisible(tool('planning'))).toBe(false);
    expect(p.isToolVisible({ ...tool('planning'), requestedToolsets: ['planning'] })).toBe(true);
    expect(p.isToolVisible({ ...tool('quality'), requestedToolsets: ['all'] })).toBe(true);
    const listed = createPolicy(doc({ toolsets: ['planning'] }));
    expect(listed.isToolVisible(tool('planning'))).toBe(true);
    expect(listed.isToolVisible(tool('quality'))).toBe(false);
  });

  it('J10: never lists or allows what readOnly or allowedTools refuses, whatever the toolsets say; decide() ignores toolsets', () => {
    const p = createPolicy(doc({ readOnly: true, toolsets: ['all'], allowedTools: ['t_planning'] }));
    expect(p.isToolVisible({ ...tool('planning', true), requestedToolsets: ['all'] })).toBe(false);
    expect(p.isToolVisible({ ...tool('quality'), requestedToolsets: ['all'] })).toBe(false);
    expect(p.isToolVisible(tool('planning'))).toBe(true);
    const open = createPolicy(doc({}));
    expect(open.decide(tool('quality'))).toEqual({ allowed: true }); // not listed, still callable through the gates
  });

  it('a client rule replaces the default toolsets; an agent rule adds to them', () => {
    const p = createPolicy(
      doc(
        { toolsets: ['planning'] },
        { clients: { c1: { toolsets: ['quality'] } }, agents: { a1: { toolsets: ['planning'] } } },
      ),
    );
    expect(p.isToolVisible({ ...tool('planning'), clientId: 'c1' })).toBe(false);
    expect(p.isToolVisible({ ...tool('quality'), clientId: 'c1' })).toBe(true);
    expect(p.isToolVisible({ ...tool('planning'), clientId: 'c1', agentId: 'a1' })).toBe(true);
  });

  it('refuses an unknown toolset name at start-up', () => {
    expect(() => doc({ toolsets: ['planing'] })).toThrow(/defaults\.toolsets\.0: unknown toolset "planing"/);
    expect(() => doc({ toolsets: ['Planning!'] })).toThrow(PolicyError);
  });
});
