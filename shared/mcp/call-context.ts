/**
 * What one request needs to run tools for a principal: its link to the primary provider, Rally
 * (at most one Firestore read, only when a tool is called; shared/upstream-link/link-read.ts),
 * a Rally client bound to it, the token provider of any other enabled provider (its link read
 * only when a tool first asks for its token), a cursor codec bound to the principal, and the
 * sign-in prompt for "Rally is not connected" or "GitHub is not connected" (./link-prompt.ts).
 * Decisions about what the principal may do are not made here: see shared/mcp/execute.ts.
 * @module
 */
import { publicUrls } from '../config/config.js';
import type { Deps } from '../services/deps.js';
import type { RequestContext } from '../http/request-context.js';
import type { AuthServices } from '../services/auth-services.js';
import type { LinkRequiredError } from '../upstream/link-required.js';
import { createTokenProvider, notLinked } from '../upstream-link/token-provider.js';
import {
  PRIMARY_PROVIDER,
  type UpstreamProvider,
  type UpstreamProviderId,
  type UpstreamTokenProvider,
} from '../upstream/provider.js';
import type { Logger } from '../logging/logger.js';
import { ToolInputError } from './tools/tool-errors.js';
import type { StoredLink } from '../upstream-link/link-store.js';
import { disconnectLink, linkPrincipal, readLink, type LinkOwner } from '../upstream-link/link-read.js';
import { sessionTools } from './tools/session.tools.js';
import { connectionTools } from './tools/connection.tools.js';
import { revokeGrant } from '../store/grants.repo.js';
import { githubWeb, type Disconnected, type ToolContext } from './tools/context.js';
import { createGitHubClient, type GitHubClient } from '../github/client.js';
import type { AnyToolSpec } from './tools/spec.js';
import { createCursorCodec, deriveCursorKey } from './tools/cursor.js';
import { challenge, McpAuthError, type McpPrincipal } from './principal.js';
import { linkPromptFor, type LinkPrompt } from './link-prompt.js';

export interface CallContext {
  readonly tools: ToolContext;
  /** Tools only this principal has (session-link confirmation). */
  readonly extraTools: readonly AnyToolSpec[];
  /** The Rally user name of the link, once read (audit). */
  rallyUser(): string | undefined;
  /** Creates the sign-in prompt for a tool that found no usable Rally link. */
  linkPrompt(err: LinkRequiredError): Promise<LinkPrompt>;
}

const ownerOf = (principal: McpPrincipal): LinkOwner =>
  principal.kind === 'grant'
    ? { kind: 'grant', grantId: principal.token.grantId }
    : { kind: 'session', sessionHash: principal.session.hash };

const cursorKeys = new WeakMap<AuthServices, Promise<Uint8Array>>();

/** The instance's cursor MAC key, derived once from the current sealing key (no extra secret to provision). */
function cursorKey(deps: Deps, services: AuthServices): Promise<Uint8Array> {
  let key = cursorKeys.get(services);
  if (!key) {
    const version = deps.config.SEALING_KEY_VERSIONS[0] ?? '1';
    key = services.secrets.access(deps.config.SEALING_KEY_NAME, version).then((material) => {
      try {
        return deriveCursorKey(material);
      } finally {
        material.fill(0); // the source hands out copies; drop this one
      }
    });
    key.catch(() => cursorKeys.delete(services)); // a failed load is retried by the next request
    cursorKeys.set(services, key);
  }
  return key;
}

/** `deps` must be bound to the request (`forRequest`), so audit events carry its metadata. */
export async function createCallContext(
  deps: Deps,
  ctx: RequestContext,
  principal: McpPrincipal,
  o: { needsRally: boolean },
): Promise<CallContext> {
  const owner = ownerOf(principal);
  const key = linkPrincipal(owner);
  const caller = principal.kind === 'grant' ? { clientId: principal.token.clientId, sub: principal.token.sub } : {};
  const services = await deps.auth();
  const primaryStore = services.tokenStore(PRIMARY_PROVIDER);
  const linkDeps = { tokens: primaryStore, clock: deps.clock, db: () => deps.db() };
  let link: StoredLink | undefined;
  if (o.needsRally) {
    const read = await readLink(linkDeps, owner);
    if (read.kind === 'grant_revoked') {
      // The client signs in again (401); a re-link would not help.
      throw new McpAuthError(
        'invalid_token',
        401,
        'This authorization was revoked.',
        challenge(deps, { error: 'invalid_token', error_description: 'The grant was revoked' }),
      );
    }
    link = read.link;
  }
  const primary = services.providers.primary;
  const tokenProvider = o.needsRally
    ? createTokenProvider(primaryStore, link, (rt) => primary.refresh(rt), deps.clock)
    : notLinked(PRIMARY_PROVIDER);
  const rally = services.rallyClient({
    tokens: tokenProvider,
    labels: { requestId: ctx.requestId, ...(ctx.correlationId ? { correlationId: ctx.correlationId } : {}) },
    limiterKey: link ? `rally-user:${link.user.id}` : key,
    log: ctx.log,
  });
  // Other providers: built when a tool first asks, their link read on its first token (R4: no cost
  // for a call that does not use them, and none at all in a Rally-only deployment).
  const others = new Map<UpstreamProviderId, UpstreamTokenProvider>();
  const upstreamTokens = (id: UpstreamProviderId): UpstreamTokenProvider => {
    if (id === PRIMARY_PROVIDER) return tokenProvider;
    let tokens = others.get(id);
    if (!tokens) {
      const provider = services.providers.get(id);
      if (!provider) throw new ToolInputError(`This server does not connect to ${id}.`);
      if (principal.kind !== 'grant' || !o.needsRally) {
        // Session-link mode links the primary provider only; a request that calls no tool reads nothing.
        tokens = principal.kind === 'grant' ? notLinked(id) : sessionCannotLink(provider.displayName);
      } else {
        const store = services.tokenStore(id);
        tokens = createTokenProvider(
          store,
          () => store.read(key),
          (rt) => provider.refresh(rt),
          deps.clock,
        );
      }
      others.set(id, tokens);
    }
    return tokens;
  };
  let github: GitHubClient | undefined;
  const tools: ToolContext = {
    rally,
    requestId: ctx.requestId,
    log: ctx.log,
    clock: deps.clock,
    rallyWebBaseUrl: deps.config.RALLY_BASE_URL,
    accessPageUrl: publicUrls(deps.config).accessPage,
    upstreamTokens,
    github: () => {
      github ??= createGitHubClient({
        apiBaseUrl: deps.config.GITHUB_API_BASE_URL,
        fetch: deps.fetch,
        tokens: upstreamTokens('github'), // throws when this deployment does not enable GitHub
        timeoutMs: deps.config.GITHUB_TIMEOUT_MS,
        clock: deps.clock,
        log: ctx.log,
      });
      return github;
    },
    githubWeb: githubWeb(deps.config.GITHUB_AUTHORIZE_BASE_URL),
    cursors: createCursorCodec(() => cursorKey(deps, services), key),
    disconnect: async (provider = PRIMARY_PROVIDER) => {
      if (provider !== PRIMARY_PROVIDER) {
        // Another provider's link only: the grant, its Rally link and its connection tokens stay.
        const tokens = services.tokenStore(provider);
        const stored = (await tokens.read(key))?.tokens; // read before the record goes: the token that ends the authorization
        await disconnectLink({ ...linkDeps, tokens, audit: deps.audit }, owner, caller);
        return {
          revokedAtProvider: await endAuthorizationAt(services.providers.get(provider), stored?.accessToken, ctx.log),
        };
      }
      if (principal.kind === 'grant' && principal.connection) {
        // Issue 18: the connection grant's Rally link serves every token of its owner; removing it
        // revokes the grant, which deletes the link and revokes those tokens in one transaction.
        await revokeGrant(await deps.db(), principal.token.grantId, deps.clock.now());
        await disconnectLink(
          { ...linkDeps, audit: deps.audit },
          owner,
          { ...caller, grantId: principal.token.grantId },
          'connection_token',
        ); // drops this instance's cached copy at once
        return RALLY_DISCONNECTED;
      }
      await disconnectLink({ ...linkDeps, audit: deps.audit }, owner, caller);
      return RALLY_DISCONNECTED;
    },
  };
  const extraTools = [
    ...(principal.kind === 'session' ? sessionTools(deps, principal.session.hash) : []),
    ...(deps.config.CONNECTION_TOKENS && !(principal.kind === 'grant' && principal.connection)
      ? connectionTools(`${publicUrls(deps.config).issuer}/connections`)
      : []),
  ];
  return {
    tools,
    extraTools,
    rallyUser: () => link?.user.login,
    linkPrompt: (err) => linkPromptFor(deps, ctx, principal, err),
  };
}

/** Rally has no revocation endpoint (D9): the user ends our app's access on Rally's Authorized Applications page. */
const RALLY_DISCONNECTED: Disconnected = { revokedAtProvider: false };

/**
 * Ends our app's authorization at the provider after our tokens are gone (R53). Best effort: a
 * provider that is down or refuses leaves it to the user, whom the tool's reply tells where.
 */
async function endAuthorizationAt(
  provider: UpstreamProvider | undefined,
  accessToken: string | undefined,
  log: Logger,
): Promise<boolean> {
  if (!provider?.revokeAuthorization || accessToken === undefined) return false;
  try {
    return await provider.revokeAuthorization(accessToken);
  } catch (err) {
    log.warn('upstream_revoke_failed', {
      provider: provider.id,
      errName: err instanceof Error ? err.name : typeof err,
    });
    return false;
  }
}

/** A session (session-link mode) asked for a provider other than Rally: said as a tool error, not a sign-in prompt. */
const sessionCannotLink = (name: string): UpstreamTokenProvider => {
  const refuse = () =>
    Promise.reject(
      new ToolInputError(
        `${name} can be connected only by an application signed in with OAuth, not in session-link mode.`,
      ),
    );
  return { accessToken: refuse, refreshAfterUnauthorized: refuse };
};
