/**
 * Rally as an upstream provider (shared/upstream/provider.ts): its OAuth endpoints
 * (./oauth.ts), its RFC 9207 issuer rule, and who signed in (`GET /user` through the same WSAPI
 * client the tools use). Rally is the primary provider: our grants are created by signing in here.
 * @module
 */
import { z } from 'zod';
import type { FetchLike } from '../kernel/fetch.js';
import type { Clock } from '../kernel/clock.js';
import type { Logger } from '../logging/logger.js';
import { PROVIDER_LABELS, UpstreamRefreshRejected, type UpstreamProvider } from '../upstream/provider.js';
import type { RallyClient } from './client.js';
import type { RallyRequestLabels, RallyTokenProvider } from './ports.js';
import {
  buildRallyAuthorizeUrl,
  exchangeRallyCode,
  RALLY_SCOPE,
  RallyRefreshRejected,
  refreshRallyTokens,
  type RallyOAuthConfig,
} from './oauth.js';

export interface RallyProviderOptions {
  readonly oauth: RallyOAuthConfig;
  /** The `iss` Rally's authorization responses may carry (RALLY_ISSUER, else RALLY_BASE_URL). */
  readonly issuer: string;
  readonly fetch: FetchLike;
  readonly clock: Clock;
  /** Our Rally OAuth client secret (cached by the secret source). */
  clientSecret(): Promise<string>;
  /** A WSAPI client for one request (the instance's host, limiter and User-Agent). */
  client(o: { tokens: RallyTokenProvider; labels: RallyRequestLabels; limiterKey: string; log: Logger }): RallyClient;
}

const Identity = z.object({
  ObjectID: z
    .union([z.number(), z.string()])
    .transform(String)
    .pipe(z.string().regex(/^\d{1,20}$/)),
  UserName: z.string().min(1).max(256),
  DisplayName: z.string().max(256).nullish(),
});

export function createRallyProvider(o: RallyProviderOptions): UpstreamProvider {
  const now = () => o.clock.now();
  return {
    id: 'rally',
    displayName: PROVIDER_LABELS.rally.name,
    scopes: [RALLY_SCOPE],
    authorizeOrigin: new URL(o.oauth.baseUrl).origin,
    authorizeUrl: (state, verifier) => buildRallyAuthorizeUrl(o.oauth, state, verifier),
    acceptsIssuer: (iss) => iss === undefined || iss === o.issuer, // B8: Rally sends none today
    exchangeCode: async (code, verifier) =>
      exchangeRallyCode(o.oauth, o.fetch, await o.clientSecret(), code, verifier, now),
    async refresh(refreshToken) {
      try {
        return await refreshRallyTokens(o.oauth, o.fetch, await o.clientSecret(), refreshToken, now);
      } catch (err) {
        if (err instanceof RallyRefreshRejected) throw new UpstreamRefreshRejected('rally', { cause: err });
        throw err;
      }
    },
    async identify(accessToken, ctx) {
      const rally = o.client({
        tokens: {
          accessToken: async () => accessToken,
          refreshAfterUnauthorized: () => Promise.reject(new Error('fresh token refused')),
        },
        labels: { requestId: ctx.requestId, ...(ctx.correlationId ? { correlationId: ctx.correlationId } : {}) },
        limiterKey: `sign-in:${ctx.requestId}`, // who this is is not known yet
        log: ctx.log,
      });
      const u = Identity.parse(await rally.currentUser(['ObjectID', 'UserName', 'DisplayName']));
      return { id: u.ObjectID, login: u.UserName, ...(u.DisplayName ? { displayName: u.DisplayName } : {}) };
    },
  };
}
