/**
 * MCP client identity: RFC 7591 dynamic registration, Client ID Metadata
 * Documents (fetched safely), redirect-URI rules (H2, H5, RFC 8252 §7.3).
 * @module
 */
import { lookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { z } from 'zod';
import type { Firestore } from '@google-cloud/firestore';
import { addSeconds } from '../kernel/clock.js';
import { randomToken, sha256Id } from '../kernel/hash.js';
import {
  findClient,
  GRANT_TYPES,
  saveClient,
  TOKEN_ENDPOINT_AUTH_METHODS,
  APPLICATION_TYPES,
  type ApplicationType,
  type RegisteredClient,
} from '../store/clients.repo.js';
import { OAuthError } from './errors.js';
import { isLoopbackAddress, isPublicAddress } from './public-address.js';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);
const DCR_CLIENT_TTL_SECONDS = 90 * 86_400;
const CIMD_MAX_BYTES = 5 * 1024;
/** L6: the whole fetch (DNS, connect, headers, body) must be done by then. */
const CIMD_DEADLINE_MS = 3000;
const CIMD_CACHE_SECONDS = 3600;

/**
 * RFC 8252 §7.1: a private-use scheme is a reverse domain name the app controls (so it has a
 * period: `com.example.app`), and the redirect has a single slash after it (`com.example.app:/cb`).
 * No browser scheme (`javascript:`, `data:`, `file:`, `blob:` …) has a period, so none passes.
 */
const PRIVATE_USE_REDIRECT = /^[a-z][a-z0-9+-]*(?:\.[a-z0-9+-]+)+:\/(?!\/)/;

/** Whether `raw` is a private-use-scheme redirect (RFC 8252 §7.1); only native clients may register one (H24). */
export function isPrivateUseRedirect(raw: string): boolean {
  return PRIVATE_USE_REDIRECT.test(raw);
}

/**
 * Why a redirect URI may not be registered, or undefined when it may (H5, H24). Never: whitespace,
 * control characters, userinfo, a fragment, or a browser scheme. Then by `application_type`
 * (OpenID Connect Dynamic Client Registration 1.0 §2; MCP 2026-07-28 client registration):
 * - `web` declared: https on a host that is not loopback. OIDC binds web clients to "https, not
 *   localhost" only for the implicit grant and lets the AS refuse http other than a native
 *   client's loopback; MCP 2026-07-28 says a client on the user's computer registers as
 *   `native`. A `web` client with a loopback redirect would share one client_id between a web
 *   and a local app, which is what the OIDC rule exists to prevent: refused.
 * - `native`: http on a loopback host (any port at /authorize, RFC 8252 §7.3), a private-use
 *   scheme (RFC 8252 §7.1), or https. OIDC's letter names only custom schemes and loopback for
 *   native clients; https is accepted anyway because RFC 8252 §7.2 allows claimed https
 *   redirects for native apps and VS Code registers `application_type: native` with
 *   `https://vscode.dev/redirect` beside its loopback URIs (microsoft/vscode
 *   src/vs/base/common/oauth.ts), as does the MCP SDK v2 client for a mixed set.
 * - none sent (`undefined`): OIDC says the default is `web`, and the record says `web`. The
 *   redirect rule stays what it was before the 2026-07-28 revision — https, or http on a
 *   loopback host — because clients of the 2025 revisions (VS Code before it sent the field,
 *   the MCP SDK v1 client, Copilot Studio) send none, and loopback is within OIDC for them:
 *   its web restriction binds only implicit-grant clients and we serve response_type=code alone.
 *   Private-use schemes need `native`.
 */
export function validateRedirectUri(raw: string, applicationType?: ApplicationType): string | undefined {
  // eslint-disable-next-line no-control-regex -- control characters are refused on purpose
  if (raw.length > 512 || /[\s\u0000-\u001f\u007f-\u009f]/.test(raw))
    return 'contains whitespace or control characters';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.username || url.password) return 'must not contain user information';
  if (raw.includes('#')) return 'must not contain a fragment';
  const loopbackHost = LOOPBACK_HOSTS.has(url.hostname);
  const loopbackHttp = url.protocol === 'http:' && loopbackHost;
  switch (applicationType) {
    case undefined:
      if (url.protocol === 'https:' || loopbackHttp) return undefined;
      return isPrivateUseRedirect(raw)
        ? 'uses a private-use scheme, which needs application_type native'
        : 'must use https, or http on a loopback address';
    case 'web':
      if (url.protocol === 'https:' && !loopbackHost) return undefined;
      return loopbackHost
        ? 'is on a loopback host, which application_type web may not use: a client on the user’s computer registers as native'
        : 'must use https for application_type web';
    case 'native':
      if (url.protocol === 'https:' || loopbackHttp || isPrivateUseRedirect(raw)) return undefined;
      return 'must be http on a loopback address, a private-use scheme (com.example.app:/callback) or https for application_type native';
  }
}

/**
 * H2: exact string match; for loopback http redirect URIs any port is accepted
 * (RFC 8252 §7.3), everything else must still match exactly.
 */
export function redirectUriMatches(requested: string, registered: readonly string[]): boolean {
  if (registered.includes(requested)) return true;
  let req: URL;
  try {
    req = new URL(requested);
  } catch {
    return false;
  }
  if (req.protocol !== 'http:' || !LOOPBACK_HOSTS.has(req.hostname) || validateRedirectUri(requested)) return false;
  const withoutPort = (u: URL) => `${u.protocol}//${u.hostname}${u.pathname}${u.search}`;
  // The raw string must be what the URL parser would print: no `..`, `%2e`, case games or default-port tricks.
  if (requested !== req.href && requested !== req.href.replace(/\/$/, '')) return false;
  return registered.some((r) => {
    try {
      const reg = new URL(r);
      return reg.protocol === 'http:' && withoutPort(reg) === withoutPort(req);
    } catch {
      return false;
    }
  });
}

export const ClientMetadata = z
  .object({
    redirect_uris: z.array(z.string().max(512)).min(1).max(10),
    client_name: z.string().trim().min(1).max(100).optional(),
    token_endpoint_auth_method: z.enum(TOKEN_ENDPOINT_AUTH_METHODS).default('none'),
    grant_types: z
      .array(z.enum(GRANT_TYPES))
      .min(1)
      .default([...GRANT_TYPES]),
    response_types: z.array(z.literal('code')).default(['code']),
    scope: z.string().max(200).optional(),
    application_type: z.enum(APPLICATION_TYPES).optional(),
    client_uri: z.string().url().max(512).optional(),
    logo_uri: z.string().url().max(512).optional(),
    software_id: z.string().max(200).optional(),
    software_version: z.string().max(100).optional(),
  })
  .loose();

/** RFC 7591 §3.2.2 `invalid_redirect_uri`, naming the URI's position and the rule it breaks (never the URI itself). */
function checkRedirects(uris: readonly string[], applicationType: ApplicationType | undefined): void {
  uris.forEach((uri, i) => {
    const problem = validateRedirectUri(uri, applicationType);
    if (problem) throw new OAuthError('invalid_redirect_uri', `redirect_uris[${i}] ${problem}.`);
  });
}

/** RFC 7591 §3.2.1 response. */
export async function registerClient(db: Firestore, body: unknown, now: Date) {
  if (JSON.stringify(body ?? null).length > 10_000)
    throw new OAuthError('invalid_client_metadata', 'Client metadata is too large.');
  const parsed = ClientMetadata.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new OAuthError(
      'invalid_client_metadata',
      `Invalid client metadata: ${issue?.path.join('.') || 'body'} ${issue?.message ?? ''}`.trim(),
    );
  }
  const m = parsed.data;
  checkRedirects(m.redirect_uris, m.application_type);
  const clientId = `rmcp_${randomToken(18)}`;
  const secret = m.token_endpoint_auth_method === 'none' ? undefined : randomToken(32);
  const client: RegisteredClient = {
    clientId,
    clientName: m.client_name ?? 'Unnamed MCP client',
    redirectUris: m.redirect_uris,
    tokenEndpointAuthMethod: m.token_endpoint_auth_method,
    grantTypes: m.grant_types,
    applicationType: m.application_type ?? 'web', // OIDC registration §2: "The default, if omitted, is web."
    ...(secret ? { clientSecretHash: sha256Id(secret) } : {}),
    source: 'dcr',
    createdAt: now,
    expiresAt: addSeconds(now, DCR_CLIENT_TTL_SECONDS),
  };
  await saveClient(db, client);
  return {
    client_id: clientId,
    ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
    client_id_issued_at: Math.floor(now.getTime() / 1000),
    client_name: client.clientName,
    redirect_uris: client.redirectUris,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    grant_types: m.grant_types,
    response_types: m.response_types,
    application_type: client.applicationType,
  };
}

export interface ClientResolverOptions {
  readonly db: Firestore;
  readonly now: Date;
  readonly allowLoopbackCimd: boolean;
  /** L6: the total deadline of a CIMD fetch; tests shorten it (default 3 s). */
  readonly cimdDeadlineMs?: number;
}

/** A registered client, or a CIMD client fetched (and cached) on first sight. Undefined: unknown (H1). */
export async function resolveClient(clientId: string, o: ClientResolverOptions): Promise<RegisteredClient | undefined> {
  if (clientId.length > 512 || !clientId) return undefined;
  const known = await findClient(o.db, clientId, o.now);
  if (known) return known;
  if (!isCimdUrl(clientId, o.allowLoopbackCimd)) return undefined;
  const fetchOptions = { allowLoopback: o.allowLoopbackCimd, deadlineMs: o.cimdDeadlineMs ?? CIMD_DEADLINE_MS };
  const doc = await fetchClientMetadataDocument(clientId, fetchOptions).catch(() => undefined);
  if (!doc) return undefined;
  const client: RegisteredClient = {
    clientId,
    clientName: doc.client_name ?? new URL(clientId).host,
    redirectUris: doc.redirect_uris,
    tokenEndpointAuthMethod: 'none',
    grantTypes: doc.grant_types,
    applicationType: doc.application_type ?? 'web', // as for DCR (OIDC registration §2 default)
    source: 'cimd',
    createdAt: o.now,
    expiresAt: addSeconds(o.now, CIMD_CACHE_SECONDS),
  };
  await saveClient(o.db, client);
  return client;
}

function isCimdUrl(clientId: string, allowLoopback: boolean): boolean {
  try {
    const u = new URL(clientId);
    if (u.username || u.password || u.hash || u.pathname === '/') return false;
    return u.protocol === 'https:' || (allowLoopback && u.protocol === 'http:' && LOOPBACK_HOSTS.has(u.hostname));
  } catch {
    return false;
  }
}

const CimdDocument = ClientMetadata.extend({ client_id: z.string() });

interface CimdFetchOptions {
  readonly allowLoopback: boolean;
  readonly deadlineMs: number;
}

/**
 * Fetches a CIMD: https, public addresses only (L5), 5 KiB, and one deadline
 * for DNS, connect, headers and body together (L6: a socket timeout is only
 * an idle timeout, which a host dripping one byte at a time never trips).
 */
async function fetchClientMetadataDocument(url: string, o: CimdFetchOptions) {
  const deadline = AbortSignal.timeout(o.deadlineMs);
  const target = new URL(url);
  const pinned = await beforeDeadline(checkedAddress(target, o.allowLoopback), deadline);
  if (!pinned) return undefined;
  const body = await getCapped(target, pinned, deadline);
  const parsed = CimdDocument.safeParse(JSON.parse(body));
  if (!parsed.success || parsed.data.client_id !== url) return undefined;
  // H5, H24: the same redirect rules as DCR, by the document's application_type.
  for (const uri of parsed.data.redirect_uris)
    if (validateRedirectUri(uri, parsed.data.application_type)) return undefined;
  return parsed.data;
}

/** L5: the address to connect to, when every address the host has is allowed; otherwise undefined (no connection). */
async function checkedAddress(target: URL, allowLoopback: boolean): Promise<LookupAddress | undefined> {
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const family = isIP(host);
  const addresses = family ? [{ address: host, family }] : await lookup(host, { all: true });
  // DANGEROUSLY_ALLOW_LOOPBACK_CIMD admits plain http to this machine and nothing else (isCimdUrl checked the name).
  const allowed = allowLoopback && target.protocol === 'http:' ? isLoopbackAddress : isPublicAddress;
  return addresses.length > 0 && addresses.every((a) => allowed(a.address)) ? addresses[0] : undefined;
}

function beforeDeadline<T>(work: Promise<T>, deadline: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abandon = () => reject(new Error('CIMD deadline passed'));
    if (deadline.aborted) abandon();
    deadline.addEventListener('abort', abandon, { once: true });
    work.then(resolve, reject).finally(() => deadline.removeEventListener('abort', abandon));
  });
}

/** GET with a 200-only, 5 KiB body, connected to `pinned` and torn down when `deadline` fires, wherever it is. */
function getCapped(target: URL, pinned: LookupAddress, deadline: AbortSignal): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const req = (target.protocol === 'https:' ? httpsRequest : httpRequest)(
      target,
      {
        method: 'GET',
        headers: { accept: 'application/json' },
        agent: false, // a fresh socket: never a pooled one connected for an earlier answer
        // Connect to the address we checked, not a second DNS answer (rebinding). Node asks with
        // `all: true` when it may try several families (autoSelectFamily): answer in that shape too.
        lookup: (_host, options, cb) => (options.all ? cb(null, [pinned]) : cb(null, pinned.address, pinned.family)),
      },
      (res: IncomingMessage) => {
        if (res.statusCode !== 200) {
          req.destroy();
          reject(new Error(`status ${res.statusCode}`));
          return;
        }
        let size = 0;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > CIMD_MAX_BYTES) req.destroy(new Error('too large'));
          else chunks.push(c);
        });
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
      },
    );
    const abandon = () => {
      const err = new Error('CIMD deadline passed');
      reject(err);
      req.destroy(err);
    };
    if (deadline.aborted) abandon();
    deadline.addEventListener('abort', abandon, { once: true });
    req.on('close', () => deadline.removeEventListener('abort', abandon));
    req.on('error', reject);
    req.end();
  });
}
