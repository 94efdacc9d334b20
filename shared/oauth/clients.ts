/**
 * MCP client identity: RFC 7591 dynamic registration, Client ID Metadata
 * Documents (fetched safely), redirect-URI rules (H2, H5, RFC 8252 §7.3).
 * @module
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { z } from 'zod';
import type { Firestore } from '@google-cloud/firestore';
import { addSeconds } from '../app/clock.js';
import { randomToken, sha256Id } from '../crypto/hash.js';
import { findClient, GRANT_TYPES, saveClient, TOKEN_ENDPOINT_AUTH_METHODS, type RegisteredClient } from '../storage/clients.repo.js';
import { OAuthError } from './errors.js';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);
const DCR_CLIENT_TTL_SECONDS = 90 * 86_400;
const CIMD_MAX_BYTES = 5 * 1024;
const CIMD_TIMEOUT_MS = 3000;
const CIMD_CACHE_SECONDS = 3600;

/** H5: https, or http on a loopback host; no userinfo, no fragment, nothing invisible. */
export function validateRedirectUri(raw: string): string | undefined {
  if (raw.length > 512 || /[\s\u0000-\u001f\u007f-\u009f]/.test(raw)) return 'contains whitespace or control characters';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.username || url.password) return 'must not contain user information';
  if (raw.includes('#')) return 'must not contain a fragment';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  return 'must use https, or http on a loopback address';
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

export const ClientMetadata = z.object({
  redirect_uris: z.array(z.string().max(512)).min(1).max(10),
  client_name: z.string().trim().min(1).max(100).optional(),
  token_endpoint_auth_method: z.enum(TOKEN_ENDPOINT_AUTH_METHODS).default('none'),
  grant_types: z.array(z.enum(GRANT_TYPES)).min(1).default([...GRANT_TYPES]),
  response_types: z.array(z.literal('code')).default(['code']),
  scope: z.string().max(200).optional(),
  application_type: z.enum(['native', 'web']).optional(),
  client_uri: z.string().url().max(512).optional(),
  logo_uri: z.string().url().max(512).optional(),
  software_id: z.string().max(200).optional(),
  software_version: z.string().max(100).optional(),
}).loose();

function checkRedirects(uris: readonly string[]): void {
  for (const uri of uris) {
    const problem = validateRedirectUri(uri);
    if (problem) throw new OAuthError('invalid_redirect_uri', `redirect_uri ${problem}.`);
  }
}

/** RFC 7591 §3.2.1 response. */
export async function registerClient(db: Firestore, body: unknown, now: Date) {
  if (JSON.stringify(body ?? null).length > 10_000) throw new OAuthError('invalid_client_metadata', 'Client metadata is too large.');
  const parsed = ClientMetadata.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new OAuthError('invalid_client_metadata', `Invalid client metadata: ${issue?.path.join('.') || 'body'} ${issue?.message ?? ''}`.trim());
  }
  const m = parsed.data;
  checkRedirects(m.redirect_uris);
  const clientId = `rmcp_${randomToken(18)}`;
  const secret = m.token_endpoint_auth_method === 'none' ? undefined : randomToken(32);
  const client: RegisteredClient = {
    clientId,
    clientName: m.client_name ?? 'Unnamed MCP client',
    redirectUris: m.redirect_uris,
    tokenEndpointAuthMethod: m.token_endpoint_auth_method,
    grantTypes: m.grant_types,
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
  };
}

export interface ClientResolverOptions {
  readonly db: Firestore;
  readonly now: Date;
  readonly allowLoopbackCimd: boolean;
}

/** A registered client, or a CIMD client fetched (and cached) on first sight. Undefined: unknown (H1). */
export async function resolveClient(clientId: string, o: ClientResolverOptions): Promise<RegisteredClient | undefined> {
  if (clientId.length > 512 || !clientId) return undefined;
  const known = await findClient(o.db, clientId, o.now);
  if (known) return known;
  if (!isCimdUrl(clientId, o.allowLoopbackCimd)) return undefined;
  const doc = await fetchClientMetadataDocument(clientId, o.allowLoopbackCimd).catch(() => undefined);
  if (!doc) return undefined;
  const client: RegisteredClient = {
    clientId,
    clientName: doc.client_name ?? new URL(clientId).host,
    redirectUris: doc.redirect_uris,
    tokenEndpointAuthMethod: 'none',
    grantTypes: doc.grant_types,
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

/** True for addresses a metadata fetch must never reach (SSRF). */
export function isPrivateAddress(ip: string): boolean {
  if (isIP(ip) === 6) {
    const v = ip.toLowerCase();
    if (v.startsWith('::ffff:')) return isPrivateAddress(v.slice(7));
    return v === '::1' || v === '::' || /^f[cd]/.test(v) || /^fe[89ab]/.test(v);
  }
  const [a = 0, b = 0] = ip.split('.').map(Number);
  return a === 10 || a === 127 || a === 0 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || a >= 224;
}

const CimdDocument = ClientMetadata.extend({ client_id: z.string() });

/** Fetches a CIMD: https only, 3 s, 5 KiB, public addresses only (the resolved address is the one connected to). */
async function fetchClientMetadataDocument(url: string, allowLoopback: boolean) {
  const target = new URL(url);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true });
  const pick = addresses[0];
  if (!pick) return undefined;
  const loopbackOk = allowLoopback && target.protocol === 'http:';
  if (addresses.some((a) => isPrivateAddress(a.address)) && !loopbackOk) return undefined;
  const body = await new Promise<string>((resolve, reject) => {
    const req = (target.protocol === 'https:' ? httpsRequest : httpRequest)(
      target,
      {
        method: 'GET',
        headers: { accept: 'application/json' },
        timeout: CIMD_TIMEOUT_MS,
        // Connect to the address we checked, not a second DNS answer (rebinding).
        lookup: (_h, _o, cb) => (cb as (e: null, a: string, f: number) => void)(null, pick.address, pick.family),
      },
      (res: IncomingMessage) => {
        if (res.statusCode !== 200) {
          res.resume();
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
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
  const parsed = CimdDocument.safeParse(JSON.parse(body));
  if (!parsed.success || parsed.data.client_id !== url) return undefined;
  for (const uri of parsed.data.redirect_uris) if (validateRedirectUri(uri)) return undefined;
  return parsed.data;
}
