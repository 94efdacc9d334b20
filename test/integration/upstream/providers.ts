/**
 * The rows of the parameterised upstream suite (./upstream-security.test.ts): one per upstream
 * provider, each saying how its sign-in starts and ends in a browser, what its stand-in recorded,
 * and how a caller uses its token. The cases themselves are written once, against `UpstreamRow`.
 *
 * - `rally`: the primary provider; its sign-in is the consent page's, its token is used by a tool
 *   call on one of the two server instances.
 * - `github` (test double, dev/upstream-double.ts): a second provider against a second Rally
 *   sandbox, whose tokens never expire; its sign-in is a /connect link of kind `connect` (Rally
 *   first, then it), its token is used by an API client in the test process, through the same
 *   token store and token provider the tools use. GitHub's own module takes this row over when it
 *   lands (its sandbox, and a GitHub tool on the server instances).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { startRallySandbox, type RallySandboxHandle } from '../../../rally-sandbox/index.js';
import type { RallySandbox, RecordedRequest } from '../../../rally-sandbox/types.js';
import { freePort } from '../../../dev/process-utils.js';
import { upstreamDoubles } from '../../../dev/upstream-double.js';
import { createDeps } from '../../../shared/app/deps.js';
import { loadConfig } from '../../../shared/config/config.js';
import { createLogger } from '../../../shared/logging/logger.js';
import type { Deps } from '../../../shared/services/deps.js';
import type { RequestContext } from '../../../shared/http/request-context.js';
import type { McpPrincipal } from '../../../shared/mcp/principal.js';
import { createConnectLink } from '../../../shared/session-link/connect.js';
import { linkPromptFor } from '../../../shared/mcp/link-prompt.js';
import { createTokenProvider } from '../../../shared/upstream-link/token-provider.js';
import { LinkRequiredError } from '../../../shared/upstream/link-required.js';
import type { UpstreamProviderId } from '../../../shared/upstream/provider.js';
import { createRallyClient } from '../../../shared/rally/client.js';
import { createConcurrencyLimiter } from '../../../shared/rally/concurrency.js';
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

/** What using the provider's token came to: the provider answered as `login`, or the caller got a sign-in prompt. */
export type Use = { readonly kind: 'ok'; readonly login: string } | { readonly kind: 'prompt'; readonly text: string };

export interface UpstreamRow {
  readonly id: UpstreamProviderId;
  /** How pages and prompts name it. */
  readonly name: string;
  /** The provider's stand-in: its request log and the knobs the cases turn. */
  readonly standIn: () => RallySandbox;
  /** The status of a callback that completes this row's sign-in (302 to the client, or our "connected" page). */
  readonly completed: number;
  /** The fields of a linked token record (E1), beside any cleared lease fields. */
  readonly recordFields: readonly string[];
  /** Signs `user` in at Rally, linked to this provider. */
  linked(user: string): Promise<Linked>;
  /** A fresh browser, on its way to this provider's authorize page: where it stands, and its cookies. */
  start(user: string): Promise<{ readonly providerUrl: URL; readonly jar: CookieJar }>;
  /** `user` signs in at the provider's page (or denies): the URL the provider sends the browser back to. */
  atProvider(providerUrl: URL, user: string, consent?: 'allow' | 'deny'): Promise<URL>;
  /** Uses the provider's token for `s` on server instance `instance` (0 or 1), as a tool would. */
  use(s: Linked, instance: 0 | 1): Promise<Use>;
}

export interface UpstreamSuite {
  readonly stack: TestStack;
  /** The second Rally sandbox, playing the second provider. */
  readonly second: RallySandboxHandle;
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

/** One stack for the suite: two server instances, Rally's sandbox, and a second sandbox as the `github` double. */
export async function startUpstreamSuite(): Promise<UpstreamSuite> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const keysDir = mkdtempSync(join(tmpdir(), 'rally-mcp-keys-'));
  const githubClientId = randomBytes(8).toString('hex');
  const githubSecret = randomBytes(21).toString('hex');
  mkdirSync(join(keysDir, 'github-client-secret'), { recursive: true, mode: 0o700 });
  writeFileSync(join(keysDir, 'github-client-secret', '1'), githubSecret, { mode: 0o600 });
  const second = await startRallySandbox({
    clientId: githubClientId,
    clientSecret: githubSecret,
    redirectUris: [`${url}/oauth/callback`],
    pkce: 'verify',
    extraUsers: 12,
  });
  let stack: TestStack;
  try {
    stack = await startTestStack({
      port,
      keysDir,
      instances: 2,
      sandboxOptions: { pkce: 'verify', extraUsers: 12 },
      env: {
        SESSION_LINK_MODE: 'false',
        RALLY_TIMEOUT_MS: '3000',
        UPSTREAM_PROVIDERS: 'rally,github',
        GITHUB_CLIENT_ID: githubClientId,
        GITHUB_AUTHORIZE_BASE_URL: second.url,
        GITHUB_API_BASE_URL: second.url,
        DEV_UPSTREAM_DOUBLE: 'github',
      },
    });
  } catch (err) {
    await second.stop();
    throw err;
  }
  const quiet = createLogger({ level: 'error', write: () => {} });
  const config = loadConfig({ ...stack.serverEnv, LINK_CACHE_SECONDS: '0' });
  const providerFactories = upstreamDoubles('github');
  const deps: [Deps, Deps] = [
    createDeps(config, { log: quiet, clock: stack.clock, providerFactories }),
    createDeps(config, { log: quiet, clock: stack.clock, providerFactories }),
  ];
  const base = stack.url;

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

  const rally: UpstreamRow = {
    id: 'rally',
    name: 'Rally',
    standIn: () => stack.sandbox!,
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
      const r = await callTool(`${stack.instanceUrls[instance]}/mcp`, s.accessToken, 'get_rally_user');
      if (r.status !== 200) throw new Error(`tool call answered ${r.status}`);
      if (r.json.result?.isError) return { kind: 'prompt', text: resultText(r.json) };
      return { kind: 'ok', login: String(r.json.result.structuredContent.user.userName) };
    },
  };

  const limiter = createConcurrencyLimiter(4);
  const github: UpstreamRow = {
    id: 'github',
    name: 'GitHub',
    standIn: () => second,
    completed: 200,
    recordFields: [
      'expiresAt',
      'linkedAt',
      'principalKind',
      'provider',
      'sealed',
      'status',
      'updatedAt',
      'user',
      'version',
    ],
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
        stopAt: second.url,
        jar,
      });
      return { providerUrl: new URL(res.url), jar };
    },
    atProvider,
    async use(s, instance) {
      const d = deps[instance];
      const services = await d.auth();
      const provider = services.providers.get('github')!;
      const store = services.tokenStore('github');
      const tokens = createTokenProvider(
        store,
        () => store.read(s.principal),
        (rt) => provider.refresh(rt),
        d.clock,
      );
      const api = createRallyClient({
        baseUrl: second.url,
        fetch: globalThis.fetch,
        tokens,
        labels: { requestId: `use-${instance}` },
        limiter,
        limiterKey: s.principal,
        timeoutMs: 3000,
        userAgent: 'upstream-suite',
        clock: d.clock,
        log: d.log,
      });
      try {
        const u = (await api.currentUser(['UserName'])) as { UserName: string };
        return { kind: 'ok', login: u.UserName };
      } catch (err) {
        if (!(err instanceof LinkRequiredError)) throw err;
        const prompt = await linkPromptFor(d, requestContext(d), await principalOf(d, s.accessToken), err);
        return { kind: 'prompt', text: prompt.message };
      }
    },
  };

  const rows = [rally, github];
  return {
    stack,
    second,
    deps,
    rows,
    row: (id) => rows.find((r) => r.id === id)!,
    callback,
    stop: async () => {
      await Promise.allSettled(deps.map(async (d) => (await d.db()).terminate()));
      await stack.stop();
      await second.stop();
    },
  };
}

/** A provider's token-endpoint requests (code exchanges and refreshes) its stand-in recorded, in order. */
export const tokenPosts = (row: UpstreamRow): readonly RecordedRequest[] =>
  row
    .standIn()
    .requests()
    .filter((r) => r.method === 'POST' && r.url.startsWith('/login/oauth2/token'));

/** How many refresh_token grants the row's stand-in answered. */
export const refreshes = (row: UpstreamRow): number => row.standIn().stats().tokenRequests.refresh_token ?? 0;

/** The path of `row`'s token record of `s`'s grant. */
export const recordPath = (row: UpstreamRow, s: Linked): string => tokenRecordPath(row.id, s.principal);
