/**
 * What acts in Rally for a user, as rows the "Your access" page (`/account`) and the operator's
 * command show and end (issue 23). Each kind of access is one `AccessSource`: it lists the user's
 * rows and knows how to end one through the code that already ends that kind (a grant through
 * `endGrant`, the path of `POST /revoke`; a connection token through `endConnectionToken`, the
 * path of `/connections`). A new kind of access is one more source in `ACCESS_SOURCES`; the page
 * and the command need no change.
 *
 * Rows are found by an opaque id (the hash of the grant id), and only among the user's own
 * rows, so another user's id ends nothing. Reading is done fresh on every call; nothing here
 * writes on the tool-call path ("last used" comes from the refresh rotation's own grant update).
 * @module
 */
import type { Deps } from '../services/deps.js';
import { sha256Id } from '../kernel/hash.js';
import { findActiveGrant, listActiveGrants, type Grant } from '../store/grants.repo.js';
import { findClient } from '../store/clients.repo.js';
import {
  grantPrincipal,
  listSessionLinks,
  rallyUserOf,
  readTokenRecord,
  type RallyUser,
  type SessionLinkRecord,
} from '../store/upstream-tokens.repo.js';
import { disconnectLink } from '../upstream-link/link-read.js';
import { PRIMARY_PROVIDER, PROVIDER_LABELS } from '../upstream/provider.js';
import { isPrivateUseRedirect } from './clients.js';
import { endConnectionToken, endGrant, type RevokeRequester } from './revocation.js';
import { listConnectionTokens, type ConnectionToken } from '../store/connection-tokens.repo.js';
import { CONNECTION_TOKEN_CLIENT_ID } from '../crypto/connection-token.js';

export type AccessDeps = Pick<Deps, 'db' | 'clock' | 'audit' | 'config' | 'auth'>;

/** The user whose access is listed: `rally:<Rally ObjectID>`. */
export interface AccessOwner {
  readonly sub: string;
}

/** One line of the page; every string is plain text (client-supplied ones included), escaped when rendered. */
export interface AccessRow {
  /** `client` (an OAuth grant), `connection_token` (a headless agent's token) or `session_link` (session-link mode). */
  readonly kind: 'client' | 'connection_token' | 'session_link';
  /** Opaque and stable: what the page posts to end this row. */
  readonly rowId: string;
  /** The client's name as registered (its own words: text, never markup). */
  readonly name: string;
  readonly facts: readonly (readonly [label: string, value: string])[];
  /** Ends this row through the code that ends its kind. */
  end(deps: AccessDeps, requester: RevokeRequester): Promise<boolean>;
}

export type AccessSource = (deps: AccessDeps, owner: AccessOwner) => Promise<readonly AccessRow[]>;

const SCOPE_LABEL: Record<string, string> = { 'rally.read': 'read', 'rally.write': 'write' };
/** Day precision is enough (and all the page claims). */
export const day = (d: Date): string => d.toISOString().slice(0, 10);

function hostOf(uri: string): string {
  try {
    const u = new URL(uri);
    return isPrivateUseRedirect(uri) ? `${u.protocol.slice(0, -1)} (an app on the device)` : u.host;
  } catch {
    return 'unknown';
  }
}

async function rallyLinkOf(
  deps: AccessDeps,
  grantId: string,
): Promise<{ rallyUser: RallyUser; linkedAt: Date } | undefined> {
  const stored = await readTokenRecord(await deps.db(), 'rally', grantPrincipal(grantId), deps.clock.now());
  return stored && { rallyUser: rallyUserOf(stored.user), linkedAt: stored.linkedAt };
}

/**
 * The grant's links to the other enabled providers (issue 19), one fact each: whose account, since
 * when. Ending the row (revoking the grant) deletes them with the Rally link.
 */
async function otherLinksOf(deps: AccessDeps, grantId: string): Promise<[string, string][]> {
  const others = deps.config.UPSTREAM_PROVIDERS.filter((p) => p !== PRIMARY_PROVIDER);
  if (others.length === 0) return []; // Rally-only: no read
  const db = await deps.db();
  return Promise.all(
    others.map(async (provider): Promise<[string, string]> => {
      const { name } = PROVIDER_LABELS[provider];
      const stored = await readTokenRecord(db, provider, grantPrincipal(grantId), deps.clock.now());
      return [
        `${name} link`,
        stored
          ? `${name} user ${stored.user.login} since ${day(stored.linkedAt)}`
          : `not connected (a ${name} tool asks to sign in to ${name})`,
      ];
    }),
  );
}

async function clientRow(deps: AccessDeps, g: Grant): Promise<AccessRow> {
  const client = await findClient(await deps.db(), g.clientId, deps.clock.now());
  const cimd = (client?.source ?? (g.clientId.startsWith('https://') ? 'cimd' : 'dcr')) === 'cimd';
  const redirects = g.redirectUri ? [g.redirectUri] : (client?.redirectUris ?? []);
  const [link, otherLinks] = await Promise.all([rallyLinkOf(deps, g.grantId), otherLinksOf(deps, g.grantId)]);
  return {
    kind: 'client',
    rowId: sha256Id(g.grantId),
    name: client?.clientName ?? g.clientName,
    facts: [
      [
        'Registered',
        cimd ? `by its metadata document at ${hostOf(g.clientId)}` : 'by the application itself (unverified name)',
      ],
      ['Returns to', redirects.length ? [...new Set(redirects.map(hostOf))].join(', ') : 'unknown'],
      ['Scopes', g.scopes.map((s) => `${s} (${SCOPE_LABEL[s] ?? s})`).join(', ') || 'none'],
      ['Granted', day(g.createdAt)],
      ['Last used', day(g.lastUsedAt ?? g.createdAt)],
      [
        'Rally link',
        link
          ? `Rally user ${link.rallyUser.userName} since ${day(link.linkedAt)}`
          : 'not connected (the next tool call asks to sign in to Rally)',
      ],
      ...otherLinks,
    ],
    end: (d, requester) => endGrant(d, g, requester),
  };
}

/**
 * The user's OAuth clients: one row per active grant. The internal connections grant (issue 18)
 * is not a client: its tokens are rows of `connectionTokens`.
 */
export const clientGrants: AccessSource = async (deps, owner) => {
  const grants = await listActiveGrants(await deps.db(), owner.sub, deps.clock.now());
  return Promise.all(grants.filter((g) => g.clientId !== CONNECTION_TOKEN_CLIENT_ID).map((g) => clientRow(deps, g)));
};

function connectionTokenRow(t: ConnectionToken): AccessRow {
  return {
    kind: 'connection_token',
    rowId: sha256Id(`connection-token:${t.tokenId}`),
    name: t.name,
    facts: [
      ['Connected', `by a connection token (id ${t.tokenId}) created on the connection-token page`],
      ['Scopes', t.scopes.map((s) => `${s} (${SCOPE_LABEL[s] ?? s})`).join(', ') || 'none'],
      ['Tools', t.tools ? t.tools.join(', ') : 'all'],
      ['Projects', t.projects ? t.projects.map((p) => p.name || p.ref).join(', ') : 'all'],
      ['Created', day(t.createdAt)],
      ['Last used', t.lastUsedAt ? day(t.lastUsedAt) : 'not yet'],
      ['Expires', day(t.expiresAt)],
    ],
    end: (d, requester) => endConnectionToken(d, { tokenId: t.tokenId, sub: t.sub }, requester),
  };
}

/** The user's connection tokens for headless agents (issue 18): the active, unexpired ones. */
export const connectionTokens: AccessSource = async (deps, owner) => {
  const now = deps.clock.now();
  const tokens = await listConnectionTokens(await deps.db(), { sub: owner.sub });
  return tokens.filter((t) => t.status === 'active' && t.expiresAt > now).map(connectionTokenRow);
};

function sessionRow(s: SessionLinkRecord): AccessRow {
  const label = s.sessionHash.slice(0, 16); // the sessionHash of logs and audit lines
  return {
    kind: 'session_link',
    rowId: sha256Id(`session:${s.sessionHash}`),
    name: `Agent session ${label}`,
    facts: [
      ['Connected', 'by an agent session in session-link mode (the agent confirmed a code you were shown)'],
      ['Rally link', `Rally user ${s.rallyUser.userName} since ${day(s.linkedAt)}`],
      ['Last used', day(s.updatedAt)],
    ],
    // The path of `disconnect_rally` in that session: its tokens and any sign-in still waiting for its code.
    end: async (d) => {
      const tokens = (await d.auth()).tokenStore('rally'); // session-link mode links Rally only
      await disconnectLink(
        { tokens, clock: d.clock, db: () => d.db(), audit: d.audit },
        {
          kind: 'session',
          sessionHash: s.sessionHash,
        },
      );
      return true;
    },
  };
}

/** The user's agent sessions linked in session-link mode. */
export const sessionLinks: AccessSource = async (deps, owner) => {
  const objectId = owner.sub.startsWith('rally:') ? owner.sub.slice('rally:'.length) : undefined;
  if (!objectId) return [];
  const links = await listSessionLinks(await deps.db(), objectId, deps.clock.now());
  return links.map(sessionRow);
};

/** Every kind of access, in page order. */
export const ACCESS_SOURCES: readonly AccessSource[] = [clientGrants, connectionTokens, sessionLinks];

export async function listAccess(
  deps: AccessDeps,
  owner: AccessOwner,
  sources: readonly AccessSource[] = ACCESS_SOURCES,
): Promise<AccessRow[]> {
  return (await Promise.all(sources.map((s) => s(deps, owner)))).flat();
}

/** Ends the owner's row `rowId`; false when the owner has no such row (another user's id included). */
export async function endAccessRow(
  deps: AccessDeps,
  owner: AccessOwner,
  rowId: string,
  requester: RevokeRequester,
  sources: readonly AccessSource[] = ACCESS_SOURCES,
): Promise<boolean> {
  const row = (await listAccess(deps, owner, sources)).find((r) => r.rowId === rowId);
  return row ? row.end(deps, requester) : false;
}

/**
 * Ends every row of the owner ("end everything"), then the owner's connections grant, so the
 * Rally link their connection tokens shared goes too; how many rows this call ended.
 */
export async function endAllAccess(
  deps: AccessDeps,
  owner: AccessOwner,
  requester: RevokeRequester,
  sources: readonly AccessSource[] = ACCESS_SOURCES,
): Promise<number> {
  let ended = 0;
  for (const row of await listAccess(deps, owner, sources)) if (await row.end(deps, requester)) ended++;
  const connections = await findActiveGrant(await deps.db(), owner.sub, CONNECTION_TOKEN_CLIENT_ID, deps.clock.now());
  if (connections) await endGrant(deps, { ...connections, sub: owner.sub }, requester);
  return ended;
}
