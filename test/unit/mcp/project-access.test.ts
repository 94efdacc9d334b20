/**
 * O20: every tool declares how it touches Rally projects, and the one execution path enforces a
 * connection token's project allowlist from that declaration (shared/mcp/execute.ts), so a new
 * tool cannot forget it: a tool without a declaration runs as `none` and reaches no project data.
 */
import { z } from 'zod';
import { createExecution, type ExecutionCaller } from '../../../shared/mcp/execute.js';
import { githubWeb, type ToolContext } from '../../../shared/mcp/tools/context.js';
import { ALL_TOOLS } from '../../../shared/mcp/tools/register.js';
import { connectionTools } from '../../../shared/mcp/tools/connection.tools.js';
import { sessionTools } from '../../../shared/mcp/tools/session.tools.js';
import { PROJECT_ACCESS, defineTool, type AnyToolSpec } from '../../../shared/mcp/tools/spec.js';
import { createPolicy } from '../../../shared/policy/policy.js';
import type { AuditEvent, AuditFields } from '../../../shared/audit/audit.js';
import type { RallyClient } from '../../../shared/rally/client.js';
import { silentLogger } from '../../../shared/logging/logger.js';
import { FakeClock } from '../../helpers/clock.js';
import type { SessionLinkDeps } from '../../../shared/session-link/confirm.js';

/** Every tool any caller can be offered: the catalogue and the per-principal extras. */
const EVERY_TOOL: readonly AnyToolSpec[] = [
  ...ALL_TOOLS,
  ...connectionTools('https://mcp.example.test/connections'),
  ...sessionTools({} as SessionLinkDeps, 'session-hash'),
];

/** Arguments that name a Rally object (or a project): a tool taking one cannot be `none`. */
const NAMES_RALLY_OBJECT = [
  'id',
  'project',
  'workItem',
  'workProduct',
  'testCase',
  'testSet',
  'attachmentId',
  'iteration',
  'release',
  'parent',
  'requirement',
];

describe('O20: every tool declares how it touches Rally projects', () => {
  it.each(EVERY_TOOL.map((t) => [t.name, t] as const))('%s has a declaration', (_name, tool) => {
    expect(PROJECT_ACCESS).toContain(tool.projects);
  });

  it.each(EVERY_TOOL.map((t) => [t.name, t] as const))(
    '%s: a tool whose arguments name a Rally object or project is not declared `none`',
    (_name, tool) => {
      const args = Object.keys(tool.input.shape);
      if (args.some((a) => NAMES_RALLY_OBJECT.includes(a))) expect(tool.projects).not.toBe('none');
    },
  );

  it('a tool that changes Rally declares item or create; the `none` tools are the ones without Rally project data', () => {
    const rallyWriters = EVERY_TOOL.filter((t) => !t.readOnly && t.annotations.openWorldHint && t.projects === 'none');
    // They delete our stored tokens (disconnect_github also ends the authorization at GitHub, R53), not Rally data.
    expect(rallyWriters.map((t) => t.name)).toEqual(['disconnect_rally', 'disconnect_github']);
    expect(EVERY_TOOL.filter((t) => t.projects === 'none').map((t) => t.name)).toEqual([
      'get_rally_user',
      'disconnect_rally',
      'find_github_pull_requests', // GitHub only: the FormattedID is search text there
      'disconnect_github', // deletes our stored GitHub tokens
      'create_connection_token',
      'confirm_rally_link',
    ]);
  });
});

// ---------------------------------------------------------------- the gate in execute.ts

const ALLOWED = '100';
const calls: string[] = [];
const rally: RallyClient = {
  principalKey: 'rally-user:1',
  query: async (type) => {
    calls.push(`query ${type}`);
    return { totalResultCount: 0, startIndex: 1, pageSize: 20, results: [], warnings: [] };
  },
  read: async (type, oid) => {
    calls.push(`read ${type}/${oid}`);
    return { ObjectID: Number(oid), Project: { _ref: `/project/${oid === '1' ? ALLOWED : '200'}` } };
  },
  create: async () => ({}),
  update: async (type, oid) => {
    calls.push(`update ${type}/${oid}`);
    return {};
  },
  collection: async () => ({ totalResultCount: 0, startIndex: 1, pageSize: 20, results: [], warnings: [] }),
  editCollection: async () => {},
  currentUser: async () => ({ ObjectID: 9 }),
};

/** A tool that renames a story by ObjectID. */
const renameStory = (declared: Partial<Pick<AnyToolSpec, 'projects'>>) =>
  ({
    ...defineTool({
      name: 'rename_story',
      projects: 'item',
      title: 'Rename',
      description: 'Rename a story.',
      readOnly: true,
      annotations: { readOnlyHint: true },
      input: z.object({ oid: z.string() }).strict(),
      output: z.object({ ok: z.boolean() }),
      async run(args, ctx) {
        await ctx.rally.update('hierarchicalrequirement', args.oid, { Name: 'renamed' });
        return { structured: { ok: true }, text: 'ok' };
      },
    }),
    ...declared,
  }) as AnyToolSpec;

function execution(tool: AnyToolSpec, caller: ExecutionCaller) {
  const audits: { event: AuditEvent; fields: AuditFields }[] = [];
  const tools: ToolContext = {
    rally,
    requestId: 'req-1',
    log: silentLogger,
    clock: new FakeClock('2026-01-05T10:00:00Z'),
    rallyWebBaseUrl: 'https://rally.test',
    accessPageUrl: 'https://mcp.example.test/account',
    cursors: { open: async () => ({ start: 1, typeIndex: 0 }), seal: async () => 'c' },
    upstreamTokens: () => {
      throw new Error('no upstream tokens in this test');
    },
    github: () => {
      throw new Error('no github in this test');
    },
    githubWeb: githubWeb('https://github.example.test'),
    disconnect: async () => ({ revokedAtProvider: false }),
  };
  const exec = createExecution({
    caller,
    catalogue: [tool],
    tools,
    policy: createPolicy({ version: 1, defaults: {}, clients: {}, agents: {} }),
    consumeRateLimits: async () => ({ allowed: true }),
    audit: (event, fields) => audits.push({ event, fields }),
    linkPrompt: (err) => Promise.reject(err),
    rallyUser: () => undefined,
  });
  return { exec, audits };
}

const token = (projectAllowlist?: string[]): ExecutionCaller => ({
  scopes: ['rally.read', 'rally.write'],
  clientId: 'rally-mcp-connection-token',
  connectionTokenId: 'a'.repeat(20),
  ...(projectAllowlist ? { projectAllowlist } : {}),
});

describe('O20: the project allowlist is enforced in the one execution path', () => {
  beforeEach(() => calls.splice(0));

  it('an item outside the list: policy_denied before the write, audited with the reason and the object', async () => {
    const { exec, audits } = execution(renameStory({}), token([ALLOWED]));
    const outcome = await exec.call('rename_story', { oid: '2' });
    expect(outcome.kind).toBe('policy_denied');
    expect(outcome.kind === 'policy_denied' && outcome.message).toMatch(
      /only some Rally projects.*\(Request ID req-1\)$/,
    );
    expect(calls).toEqual(['read hierarchicalrequirement/2']); // read first, never written
    expect(audits).toEqual([
      {
        event: 'policy_denied',
        fields: expect.objectContaining({
          reason: 'connection_token_projects',
          errCode: 'project_not_allowed',
          rallyObject: 'hierarchicalrequirement/2',
          tool: 'rename_story',
          connectionTokenId: 'a'.repeat(20),
        }) as AuditFields,
      },
    ]);
    expect((await exec.call('rename_story', { oid: '1' })).kind).toBe('result');
    expect(calls.slice(-1)).toEqual(['update hierarchicalrequirement/1']);
  });

  it('O22: a token without a list (undefined) reaches every project: no check, no extra read', async () => {
    const { exec } = execution(renameStory({}), token());
    expect((await exec.call('rename_story', { oid: '2' })).kind).toBe('result');
    expect(calls).toEqual(['update hierarchicalrequirement/2']);
  });

  it('a tool that lost its declaration runs as `none`: it reaches no project data under a list', async () => {
    const undeclared = renameStory({ projects: undefined as unknown as AnyToolSpec['projects'] });
    const { exec } = execution(undeclared, token([ALLOWED]));
    expect((await exec.call('rename_story', { oid: '1' })).kind).toBe('policy_denied');
    expect(calls).toEqual([]);
    const none = execution(renameStory({ projects: 'none' }), token([ALLOWED]));
    expect((await none.exec.call('rename_story', { oid: '1' })).kind).toBe('policy_denied');
  });

  it('O21: a tool allowlist and a project allowlist together: both apply', async () => {
    const both = { ...token([ALLOWED]), toolAllowlist: ['rename_story'] };
    const { exec } = execution(renameStory({}), both);
    expect((await exec.call('rename_story', { oid: '1' })).kind).toBe('result');
    expect((await exec.call('rename_story', { oid: '2' })).kind).toBe('policy_denied');
    const other = execution(renameStory({}), { ...token([ALLOWED]), toolAllowlist: ['get_rally_user'] });
    const refused = await other.exec.call('rename_story', { oid: '1' });
    expect(refused.kind).toBe('policy_denied');
    expect(other.audits[0]?.fields.reason).toBe('connection_token_tools'); // refused before any Rally call
  });
});
