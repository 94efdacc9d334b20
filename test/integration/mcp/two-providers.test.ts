/**
 * Issue 19 end to end, over real HTTP on the local stack with both sandboxes: the MCP SDK's v1
 * client at 2025-11-25 (what VS Code speaks today, URL elicitation declared) signs in with its own
 * OAuth client (Rally is the primary identity), finds the GitHub tools in tools/list, meets
 * GitHub's sign-in prompt (-32042) on its first GitHub tool, completes it in the browser leg
 * (/connect → Rally, same user → GitHub), and runs the cross-provider tools; then disconnects
 * GitHub alone and meets GitHub's prompt again while Rally keeps working.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { depsFor, startTestStack, type TestStack } from '../../helpers/stack.js';
import { clientGrants } from '../../../shared/oauth-as/access.js';
import { browse, DEFAULT_REDIRECT } from '../../helpers/oauth-flow.js';
import { TestProvider } from '../../helpers/sdk-oauth-provider.js';
import { until } from '../../helpers/poll.js';

interface ToolResult {
  readonly isError?: boolean | undefined;
  readonly content?: unknown;
  readonly structuredContent?: Record<string, unknown> | undefined;
}

const textOf = (r: ToolResult) => (r.content as Array<{ text?: string }> | undefined)?.[0]?.text ?? '';
const GITHUB_TOOLS = [
  'disconnect_github',
  'draft_github_branch_from_rally_item',
  'find_github_pull_requests',
  'link_rally_item_to_github',
];

describe('Rally and GitHub side by side (issue 19)', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack({ githubSandbox: true, env: { SESSION_LINK_MODE: 'false' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  async function connect(
    provider: TestProvider,
  ): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
    const transport = new StreamableHTTPClientTransport(new URL(stack.mcpUrl), { authProvider: provider as never });
    const client = new Client(
      { name: 'e2e-two-providers', version: '1.0.0' },
      { capabilities: { elicitation: { url: {} } } },
    );
    await client.connect(transport);
    return { client, transport };
  }

  const call = async (client: Client, name: string, args: Record<string, unknown>) =>
    (await client.callTool({ name, arguments: args })) as ToolResult;

  /** The call meets GitHub's sign-in prompt as -32042; returns the link the user opens. */
  async function githubPrompt(client: Client, name: string, args: Record<string, unknown>): Promise<string> {
    const err = (await client.callTool({ name, arguments: args }).then(
      () => undefined,
      (e: unknown) => e,
    )) as
      | {
          code?: number;
          message?: string;
          data?: { elicitations?: Array<{ mode: string; url: string; message: string }> };
        }
      | undefined;
    expect(err?.code).toBe(-32042);
    const elicitation = err!.data!.elicitations![0]!;
    expect(elicitation.mode).toBe('url');
    expect(elicitation.message).toMatch(/GitHub/);
    expect(elicitation.url).toMatch(/\/connect\/[A-Za-z0-9_-]{43}$/);
    return elicitation.url;
  }

  it('R50/R51/R53: signs in to Rally with the SDK client, connects GitHub from a tool prompt, runs the cross-provider tools (nothing written for a pull request the user cannot see), and disconnects GitHub alone, ending the authorization at GitHub too (or saying where, when GitHub is down)', async () => {
    const provider = new TestProvider(DEFAULT_REDIRECT, 'E2E two providers');
    let { client, transport } = await connect(provider);

    // Rally sign-in (the primary identity), the SDK's own OAuth client.
    const first = await call(client, 'get_rally_user', {}).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(first).toBeInstanceOf(UnauthorizedError);
    const back = await browse(provider.authorizationUrls.at(-1)!.href, { username: 'alice', stopAt: DEFAULT_REDIRECT });
    await transport.finishAuth(new URL(back.url).searchParams.get('code') ?? '');
    await client.close();
    ({ client, transport } = await connect(provider));

    try {
      const listed = (await client.listTools()).tools.map((t) => t.name);
      expect(listed.filter((n) => n.includes('github')).sort()).toEqual(GITHUB_TOOLS);

      // A tool that needs only Rally works before GitHub is connected.
      const draft = await call(client, 'draft_github_branch_from_rally_item', { id: 'US1' });
      expect(draft.isError ?? false).toBe(false);
      expect(draft.structuredContent).toMatchObject({
        branchName: expect.stringMatching(/^feature\/us1-[a-z0-9-]+$/),
        baseBranch: null,
        pullRequestTitle: { source: 'rally', untrusted: true, text: expect.stringMatching(/^US1: /) },
      });

      // GitHub is not connected: its sign-in prompt, then the browser leg (Rally as the same user, then GitHub).
      const link = await githubPrompt(client, 'find_github_pull_requests', { formattedId: 'US1' });
      const done = await browse(link, { username: 'alice', stopAt: 'never' });
      expect(done.body).toContain('GitHub is connected.');
      expect(done.visited.some((u) => u.startsWith(stack.github!.authorizeBaseUrl))).toBe(true);

      // "Your access" shows the grant's GitHub link beside its Rally link.
      const claims = JSON.parse(Buffer.from(provider.saved!.access_token.split('.')[1]!, 'base64url').toString()) as {
        sub: string;
      };
      const rows = await clientGrants(depsFor(stack), { sub: claims.sub });
      expect(rows).toHaveLength(1);
      expect(Object.fromEntries(rows[0]!.facts)).toMatchObject({
        'Rally link': expect.stringMatching(/^Rally user alice@example\.com since /),
        'GitHub link': expect.stringMatching(/^GitHub user alice since /),
      });

      // The retry: pull requests that mention US1 on GitHub, as alice sees them.
      const found = await call(client, 'find_github_pull_requests', { formattedId: 'US1' });
      expect(found.isError ?? false).toBe(false);
      const prs = (
        found.structuredContent as {
          pullRequests: Array<{ repo: string; number: number; url: string; title: { source: string } }>;
        }
      ).pullRequests;
      expect(prs.length).toBeGreaterThan(0);
      expect(prs.every((p) => p.title.source === 'github')).toBe(true);
      expect(prs.every((p) => p.url.startsWith(`${stack.github!.authorizeBaseUrl}/`))).toBe(true);
      const pr = prs.find((p) => p.repo === 'acme/storefront')!;

      // Link the Rally item to that pull request: GitHub checked first, then a discussion post in Rally.
      const postsBefore = stack
        .sandbox!.requests()
        .filter((r) => r.method === 'POST' && /conversationpost\/create/i.test(r.url)).length;
      const linked = await call(client, 'link_rally_item_to_github', { id: 'US1', url: pr.url });
      expect({ isError: linked.isError ?? false, text: linked.isError ? textOf(linked) : '' }).toEqual({
        isError: false,
        text: '',
      });
      expect(linked.structuredContent).toMatchObject({
        item: { formattedId: 'US1' },
        linked: { kind: 'pull_request', repo: 'acme/storefront', number: pr.number, url: pr.url },
      });
      const postsAfter = stack
        .sandbox!.requests()
        .filter((r) => r.method === 'POST' && /conversationpost\/create/i.test(r.url)).length;
      expect(postsAfter - postsBefore).toBe(1);

      // A pull request alice cannot see: GitHub says not found, and nothing is written to Rally.
      const hidden = await call(client, 'link_rally_item_to_github', {
        id: 'US1',
        url: `${stack.github!.authorizeBaseUrl}/acme/storefront/pull/999`,
      });
      expect(hidden.isError).toBe(true);
      expect(textOf(hidden)).toMatch(/GitHub could not find/);
      expect(
        stack.sandbox!.requests().filter((r) => r.method === 'POST' && /conversationpost\/create/i.test(r.url)).length,
      ).toBe(postsAfter);

      // With a repository, the draft reads its default branch from GitHub.
      const based = await call(client, 'draft_github_branch_from_rally_item', { id: 'US1', repo: 'acme/storefront' });
      expect(based.structuredContent).toMatchObject({ baseBranch: { source: 'github', text: 'main' } });

      // Disconnect GitHub alone: Rally keeps working, GitHub asks again, and (R53) the app's
      // authorization at GitHub ends too: the token the server used no longer works there.
      const github = stack.github!;
      const used = [...github.sandbox.requests()]
        .reverse()
        .find((r) => r.server === 'api' && r.headers.authorization?.startsWith('Bearer '))?.headers.authorization;
      expect(used).toBeDefined();
      const asUser = () => fetch(`${github.apiBaseUrl}/user`, { headers: { authorization: used!, 'user-agent': 't' } });
      expect((await asUser()).status).toBe(200);
      const off = await call(client, 'disconnect_github', {});
      expect(off.structuredContent).toMatchObject({ disconnected: true, revokedAtGitHub: true });
      expect(
        github.sandbox
          .requests()
          .filter((r) => r.method === 'DELETE' && r.url === `/applications/${github.clientId}/grant`),
      ).toHaveLength(1);
      expect((await asUser()).status).toBe(401);
      expect((await call(client, 'get_rally_user', {})).isError ?? false).toBe(false);
      const again = await githubPrompt(client, 'find_github_pull_requests', { formattedId: 'US1' });

      // R53, GitHub down: our tokens still go, the reply says GitHub did not confirm and where to
      // revoke, and the failure is logged without the token.
      expect((await browse(again, { username: 'alice', stopAt: 'never' })).body).toContain('GitHub is connected.');
      const from = stack.logs.length;
      const heal = github.sandbox.injectFault({
        server: 'api',
        method: 'DELETE',
        pathPrefix: '/applications/',
        fault: { kind: 'status', status: 502 },
      });
      try {
        const down = await call(client, 'disconnect_github', {});
        expect(down.structuredContent).toMatchObject({
          disconnected: true,
          revokedAtGitHub: false,
          nextStep: expect.stringContaining(`${github.authorizeBaseUrl}/settings/applications`),
        });
      } finally {
        heal();
      }
      await githubPrompt(client, 'find_github_pull_requests', { formattedId: 'US1' });
      const failedLines = () => stack.logs.slice(from).filter((l) => l.includes('upstream_revoke_failed'));
      await until(() => failedLines().length > 0, 'the failed revocation to be logged', 5000); // the log pipe lags the answers
      const failed = failedLines();
      expect(failed).toHaveLength(1);
      expect(failed[0]).not.toMatch(/gh[ous]_[A-Za-z0-9]/);
    } finally {
      await client.close();
    }
  });
});
