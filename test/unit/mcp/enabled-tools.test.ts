/**
 * Issue 19: a tool is offered only where every upstream provider it calls is enabled
 * (UPSTREAM_PROVIDERS), and a Rally-only deployment's catalogue is ALL_TOOLS itself.
 */
import { ALL_TOOLS, enabledTools } from '../../../shared/mcp/tools/register.js';
import type { AnyToolSpec } from '../../../shared/mcp/tools/spec.js';

const tool = (name: string, providers?: AnyToolSpec['providers']): AnyToolSpec => ({
  ...ALL_TOOLS[0]!,
  name,
  ...(providers ? { providers } : {}),
});

describe('enabledTools', () => {
  it('R4: a deployment offers its catalogue computed once per configuration; Rally-only has no GitHub tool', () => {
    const rallyOnly = ['rally'] as const;
    const both = ['rally', 'github'] as const;
    expect(enabledTools(rallyOnly)).toBe(enabledTools(rallyOnly));
    expect(enabledTools(rallyOnly).filter((t) => t.providers?.includes('github'))).toEqual([]);
    expect(enabledTools(rallyOnly).length).toBe(ALL_TOOLS.filter((t) => !t.providers?.includes('github')).length);
    expect(enabledTools(both)).toBe(ALL_TOOLS);
  });

  it('a tool that calls GitHub (alone or with Rally) is offered only when github is enabled', () => {
    const catalogue = [tool('rally_only'), tool('github_only', ['github']), tool('both', ['rally', 'github'])];
    expect(enabledTools(['rally'], catalogue).map((t) => t.name)).toEqual(['rally_only']);
    expect(enabledTools(['rally', 'github'], catalogue).map((t) => t.name)).toEqual([
      'rally_only',
      'github_only',
      'both',
    ]);
  });
});
