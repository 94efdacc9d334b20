/**
 * The rows of the parameterised upstream suite (./upstream-security.test.ts): one per upstream
 * provider, each saying how its sign-in starts and ends in a browser, what its sandbox recorded
 * and which knobs it turns there (`ProviderControls`), and how a caller uses its token. The cases
 * themselves are written once, against `UpstreamRow`.
 *
 * - `rally`: the primary provider, against the Rally sandbox; its sign-in is the consent page's,
 *   its token is used by `get_rally_user` on one of the two server instances.
 * - `github`: GitHub's own provider module (shared/github/provider.ts) against the GitHub sandbox
 *   as a GitHub App with expiring user tokens and single-use refresh tokens (`github-app`); its
 *   sign-in is a /connect link of kind `connect` (Rally first, then GitHub), its token is used by
 *   `find_github_pull_requests` on one of the two server instances.
 */
import { randomBytes } from 'node:crypto';
import type { RallySandbox } from '../../../rally-sandbox/types.js';
import type { GitHubSandboxHandle } from '../../../github-sandbox/index.js';
import { createDeps } from '../../../shared/app/deps.js';
import { loadConfig } from '../../../shared/config/config.js';
import { createLogger } from '../../../shared/logging/logger.js';
import type { Deps } from '../../../shared/services/deps.js';
import type { RequestContext } from '../../../shared/http/request-context.js';
import type { McpPrincipal } from '../../../shared/mcp/principal.js';
import { createConnectLink } from '../../../shared/session-link/connect.js';
import type { UpstreamProviderId } from '../../../shared/upstream/provider.js';
import { grantPrincipal, tokenRecordPath } from '../../../shared/store/upstream-tokens.repo.js';
import { startTestStack, type TestStack } from '../../helpers/stack.js';
import {
  browse,
  callTool,
  CookieJar,
  pkcePair,
  recordedSignIn,
  registerTestClient,
  resultText,
} from '../../helpers/oauth-flow.js';

/** A grant of ours, signed in at Rally, and linked to the row's provider. */
export interface Linked {
  readonly user: string;
  readonly accessToken: string;
  readonly grantId: string;
  readonly principal: string;
}

/**
 * What using the provider's token came to: the provider answered as `login`, the caller got a sign-in
 * prompt (a tool result with a /connect link), or another error (a tool error or a JSON-RPC error).
 */
export type Use =
  { readonly kind: 'ok'; readonly login: string } | { readonly kind: 'prompt' | 'error'; readonly text: string };

/** One request to a provider's token endpoint, as its sandbox received it. */
export interface TokenPost {
  /** `authorization_code` when the request named none (GitHub's code exchange sends no grant_type). */
  readonly grantType: string;
  /** The form as sent (body, or query string where the provider also reads one). */
  readonly form: URLSearchParams;
  /** The HTTP status answered (GitHub answers a refusal with 200 and an `error`). */
  readonly status: number;
}

/** What the cases read and turn at a provider: its sandbox, behind one shape. */
export interface ProviderControls {
  /** Where the browser signs in and the token endpoint lives. */
  readonly origin: string;
  /** A mark in the provider's request log, for `since`. */
  mark(): number;
  /** The requests the provider received after `mark`, as "METHOD path". */
  since(mark: number): readonly string[];
  /** Its token-endpoint requests (code exchanges and refreshes), in order. */
  tokenPosts(): readonly TokenPost[];
  /** How many refresh grants its token endpoint answered. */
  refreshCount(): number;
  /** `login`'s access tokens stop working now; their refresh tokens still do. */
  expireAccessTokens(login: string): void;
  /** `login` revokes our application at the provider: their access and refresh tokens die. */
  revokeUser(login: string): void;
  /** The next token request is held `ms` before the provider processes and answers it. */
  delayTokenEndpoint(ms: number): void;
}

export interface UpstreamRow {
  readonly id: UpstreamProviderId;
  /** How pages and prompts name it. */
  readonly name: string;
  /** Its sandbox: the request log the cases read and the knobs they turn. */
  readonly provider: ProviderControls;
  /** The status of a callback that completes this row's sign-in (302 to the client, or our "connected" page). */
  readonly completed: number;
  /** The fields of a linked token record (E1), beside any cleared lease fields. */
  readonly recordFields: readonly string[];
  /** How the provider names the user who signs in there as `user`. */
  login(user: string): string;
  /** Signs `user` in at Rally, linked to this provider. */
  linked(user: string): Promise<Linked>;
  /** A fresh browser, on its way to this provider's authorize page: where it stands, and its cookies. */
  start(user: string): Promise<{ readonly providerUrl: URL; readonly jar: CookieJar }>;
  /** `user` signs in at the provider's page (or denies): the URL the provider sends the browser back to. */
  atProvider(providerUrl: URL, user: string, consent?: 'allow' | 'deny'): Promise<URL>;
  /** Uses the provider's token for `s` through a tool call on server instance `instance` (0 or 1). */
  use(s: Linked, instance: 0 | 1): Promise<Use>;
}

export interface UpstreamSuite {
  readonly stack: TestStack;
  /** The test's own view of the stores, one per "instance", reading Firestore every time. */
  readonly deps: readonly [Deps, Deps];
  readonly rows: readonly UpstreamRow[];
  row(id: UpstreamProviderId): UpstreamRow;
  /** A callback request as a browser with `jar` sends it (no cookie without a jar). */
  callback(url: URL | string, jar?: CookieJar): Promise<Response>;
  stop(): Promise<void>;
}

const gidOf = (token: string) =>
  (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { gid: string }).gid;

/** The grant principal behind an access token of ours, verified as the server would. */
export async function principalOf(deps: Deps, accessToken: string): Promise<McpPrincipal> {
  const token = await (
    await deps.auth()
  ).signer.verify(accessToken, { audience: `${deps.config.PUBLIC_BASE_URL}/mcp` });
  return { kind: 'grant', token };
}

/** The request labels `linkPromptFor` reads (a tool call's, outside a request). */
export const requestContext = (deps: Deps): RequestContext => ({
  requestId: `test-${randomBytes(4).toString('hex')}`,
  correlationId: undefined,
  agentId: undefined,
  sessionHash: undefined,
  traceId: undefined,
  spanId: undefined,
  forwardedFor: undefined,
  peerAddress: undefined,
  log: deps.log,
});

/** A `/connect/<id>` link of kind `connect` for `provider`, as a tool's prompt hands it out. */
export async function connectLinkFor(deps: Deps, accessToken: string, provider: UpstreamProviderId): Promise<string> {
  const principal = await principalOf(deps, accessToken);
  if (principal.kind !== 'grant') throw new Error('grant expected');
  const link = await createConnectLink(
    deps,
    {
      kind: 'connect',
      provider,
      grantId: principal.token.grantId,
      sub: principal.token.sub,
      clientName: 'Upstream suite',
    },
    undefined,
  );
  return link.url;
}

const formOf = (url: string, body: string) => {
  const form = new URLSearchParams(new URL(url, 'http://x').search);
  for (const [k, v] of new URLSearchParams(body)) form.set(k, v);
  return form;
};

/** The Rally sandbox: token endpoint POST /login/oauth2/token; `revokeUser` revokes the user's grants. */
export function rallyControls(sb: RallySandbox): ProviderControls {
  return {
    origin: sb.url,
    mark: () => sb.requests().length,
    since: (mark) =>
      sb
        .requests()
        .slice(mark)
        .map((r) => `${r.method} ${r.url}`),
    tokenPosts: () =>
      sb
        .requests()
        .filter((r) => r.method === 'POST' && r.url.startsWith('/login/oauth2/token'))
        .map((r) => {
          const form = formOf(r.url, r.body);
          return { grantType: form.get('grant_type') ?? '', form, status: r.status };
        }),
    refreshCount: () => sb.stats().tokenRequests.refresh_token ?? 0,
    expireAccessTokens: (login) => sb.expireAccessTokens(login),
    revokeUser: (login) => sb.revokeGrants(login),
    delayTokenEndpoint: (ms) =>
      void sb.injectFault({ pathPrefix: '/login/oauth2/token', times: 1, fault: { kind: 'latency', ms } }),
  };
}

/**
 * The GitHub sandbox: token endpoint POST /login/oauth/access_token on the web origin (refusals come
 * as 200 with an `error`); `revokeUser` is the user revoking the app in their settings.
 */
export function githubControls(sb: GitHubSandboxHandle): ProviderControls {
  return {
    origin: sb.webUrl,
    mark: () => sb.requests().length,
    since: (mark) =>
      sb
        .requests()
        .slice(mark)
        .map((r) => `${r.method} ${r.server} ${r.url}`),
    tokenPosts: () =>
      sb
        .requests()
        .filter((r) => r.server === 'web' && r.method === 'POST' && r.url.startsWith('/login/oauth/access_token'))
        .map((r) => {
          const form = formOf(r.url, r.body);
          return { grantType: form.get('grant_type') ?? 'authorization_code', form, status: r.status };
        }),
    refreshCount: () => sb.stats().tokenRequests.refresh_token ?? 0,
    expireAccessTokens: (login) => sb.expireAccessTokens(login),
    revokeUser: (login) => sb.revokeAuthorization(login),
    delayTokenEndpoint: (ms) =>
      void sb.injectFault({
        server: 'web',
        method: 'POST',
        pathPrefix: '/login/oauth/access_token',
        times: 1,
        fault: { kind: 'latency', ms },
      }),
  };
}

/** One stack for the suite: two server instances, Rally's sandbox, and GitHub's as a GitHub App. */
export async function startUpstreamSuite(): Promise<UpstreamSuite> {
  const stack = await startTestStack({
    instances: 2,
    sandboxOptions: { pkce: 'verify', extraUsers: 12 },
    githubSandbox: { tokenMode: 'github-app', extraUsers: 12 },
    env: { SESSION_LINK_MODE: 'false', RALLY_TIMEOUT_MS: '3000', GITHUB_TIMEOUT_MS: '3000' },
  });
  const quiet = createLogger({ level: 'error', write: () => {} });
  const config = loadConfig({ ...stack.serverEnv, LINK_CACHE_SECONDS: '0' });
  const deps: [Deps, Deps] = [
    createDeps(config, { log: quiet, clock: stack.clock }),
    createDeps(config, { log: quiet, clock: stack.clock }),
  ];
  const base = stack.url;
  const gh = stack.github!;

  const callback = (u: URL | string, jar?: CookieJar) => {
    const cookie = jar?.header(base);
    return fetch(u, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  };
  const atProvider = async (providerUrl: URL, user: string, consent: 'allow' | 'deny' = 'allow') =>
    new URL((await browse(providerUrl.toString(), { username: user, stopAt: `${base}/oauth/callback`, consent })).url);
  const linkedOf = async (user: string, accessToken: string): Promise<Linked> => {
    const grantId = gidOf(accessToken);
    return { user, accessToken, grantId, principal: grantPrincipal(grantId) };
  };
  /** A tool call on one instance: its result, or what kind of failure it was. */
  const tool = async (
    s: Linked,
    instance: 0 | 1,
    name: string,
    args: Record<string, unknown> = {},
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON-RPC that the rows read freely
  ): Promise<{ failed: Use } | { failed?: undefined; result: any }> => {
    const r = await callTool(`${stack.instanceUrls[instance]}/mcp`, s.accessToken, name, args);
    if (r.status !== 200) throw new Error(`${name} answered ${r.status}`);
    if (r.json.error) return { failed: { kind: 'error', text: JSON.stringify(r.json.error) } };
    if (!r.json.result?.isError) return { result: r.json.result };
    const text = resultText(r.json);
    return { failed: { kind: /\/connect\/[\w-]{43}/.test(text) ? 'prompt' : 'error', text } };
  };

  const rally: UpstreamRow = {
    id: 'rally',
    name: 'Rally',
    provider: rallyControls(stack.sandbox!),
    completed: 302,
    recordFields: [
      'accessExpiresAt',
      'expiresAt',
      'linkedAt',
      'principalKind',
      'rallyUser',
      'sealed',
      'status',
      'updatedAt',
      'version',
    ],
    login: (user) => `${user}@example.com`,
    async linked(user) {
      return linkedOf(user, (await recordedSignIn(base, user)).accessToken);
    },
    async start() {
      const redirect = 'http://127.0.0.1:33418/callback';
      const clientId = await registerTestClient(base, redirect);
      const authorize = new URL(`${base}/authorize`);
      for (const [k, v] of Object.entries({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: redirect,
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
        state: 'client-state',
      }))
        authorize.searchParams.set(k, v);
      const jar = new CookieJar();
      const res = await browse(authorize.toString(), { username: 'unused', stopAt: stack.sandbox!.url, jar });
      return { providerUrl: new URL(res.url), jar };
    },
    atProvider,
    async use(s, instance) {
      const r = await tool(s, instance, 'get_rally_user');
      if (r.failed) return r.failed;
      return { kind: 'ok', login: String(r.result.structuredContent.user.userName) };
    },
  };

  const github: UpstreamRow = {
    id: 'github',
    name: 'GitHub',
    provider: githubControls(gh.sandbox),
    completed: 200,
    // A GitHub App's refresh token has its own lifetime (refresh_token_expires_in); Rally sends none.
    recordFields: [
      'accessExpiresAt',
      'expiresAt',
      'linkedAt',
      'principalKind',
      'provider',
      'refreshExpiresAt',
      'sealed',
      'status',
      'updatedAt',
      'user',
      'version',
    ],
    login: (user) => user,
    async linked(user) {
      const s = await recordedSignIn(base, user);
      const done = await browse(await connectLinkFor(deps[0], s.accessToken, 'github'), {
        username: user,
        stopAt: 'never',
      });
      if (!done.body.includes('GitHub is connected.'))
        throw new Error(`connect did not finish: ${done.steps.join(', ')}`);
      return linkedOf(user, s.accessToken);
    },
    async start(user) {
      const s = await recordedSignIn(base, user);
      const jar = new CookieJar();
      const res = await browse(await connectLinkFor(deps[0], s.accessToken, 'github'), {
        username: user,
        stopAt: gh.authorizeBaseUrl,
        jar,
      });
      return { providerUrl: new URL(res.url), jar };
    },
    atProvider,
    async use(s, instance) {
      // A FormattedID of this call alone: GitHub's log then says whom the search ran as.
      const formattedId = `US${randomBytes(4).readUInt32BE() % 1e9}`;
      const r = await tool(s, instance, 'find_github_pull_requests', { formattedId });
      if (r.failed) return r.failed;
      const searches = gh.sandbox
        .requests()
        .filter((r) => r.server === 'api' && r.status === 200 && r.url.includes(formattedId));
      if (searches.length !== 1) throw new Error(`expected one search for ${formattedId}, saw ${searches.length}`);
      return { kind: 'ok', login: searches[0]!.user ?? '(anonymous)' };
    },
  };

  const rows = [rally, github];
  return {
    stack,
    deps,
    rows,
    row: (id) => rows.find((r) => r.id === id)!,
    callback,
    stop: async () => {
      await Promise.allSettled(deps.map(async (d) => (await d.db()).terminate()));
      await stack.stop();
    },
  };
}

/** The path of `row`'s token record of `s`'s grant. */
export const recordPath = (row: UpstreamRow, s: Linked): string => tokenRecordPath(row.id, s.principal);
