/**
 * The authorization-server facade: routes its endpoints; errors are mapped
 * by oauth-as/oauth-errors.ts (JSON for API endpoints, pages for browser endpoints).
 * @module
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import { publicUrls } from '../config/config.js';
import { forRequest, type Deps } from '../services/deps.js';
import { requestContextFor } from '../http/request-context.js';
import { OAuthError } from './errors.js';
import { respondAuthorizationError, sendJsonRefusal } from './oauth-errors.js';
import { handleAuthorize, handleConsent } from './authorize.js';
import { handleRevoke, handleToken } from './token-endpoint.js';
import { registerClient } from './clients.js';
import { handleConnect } from '../session-link/connect.js';
import { handleAccount } from './account.js';
import { handleConnections } from './connections.js';
import { SCOPES } from './scopes.js';

export function authorizationServerMetadata(deps: Pick<Deps, 'config'>) {
  const urls = publicUrls(deps.config);
  return {
    issuer: urls.issuer,
    authorization_endpoint: urls.authorizationEndpoint,
    token_endpoint: urls.tokenEndpoint,
    registration_endpoint: urls.registrationEndpoint,
    revocation_endpoint: urls.revocationEndpoint,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none', 'client_secret_post', 'client_secret_basic'],
    revocation_endpoint_auth_methods_supported: ['none', 'client_secret_post', 'client_secret_basic'],
    scopes_supported: [...SCOPES],
    client_id_metadata_document_supported: true,
    authorization_response_iss_parameter_supported: true,
    service_documentation: urls.docs,
  };
}

type Route = {
  readonly methods: readonly string[];
  readonly kind: 'json' | 'html';
  readonly cors: boolean;
  readonly run: (deps: Deps, req: Request, res: Response) => Promise<void>;
};

function routeFor(path: string): Route | undefined {
  if (/^\/\.well-known\/(oauth-authorization-server|openid-configuration)(\/.*)?$/.test(path)) {
    return { methods: ['GET', 'HEAD'], kind: 'json', cors: true, run: serveMetadata };
  }
  switch (path) {
    case '/authorize':
      return { methods: ['GET'], kind: 'html', cors: false, run: handleAuthorize };
    case '/consent':
      return { methods: ['POST'], kind: 'html', cors: false, run: handleConsent };
    case '/token':
      return { methods: ['POST'], kind: 'json', cors: true, run: handleToken };
    case '/revoke':
      return { methods: ['POST'], kind: 'json', cors: true, run: handleRevoke };
    case '/register':
      return { methods: ['POST'], kind: 'json', cors: true, run: handleRegister };
  }
  if (path.startsWith('/connect/')) return { methods: ['GET', 'POST'], kind: 'html', cors: false, run: handleConnect };
  if (path === '/account') return { methods: ['GET'], kind: 'html', cors: false, run: handleAccount };
  if (path.startsWith('/account/')) return { methods: ['POST'], kind: 'html', cors: false, run: handleAccount };
  if (path === '/connections' || path.startsWith('/connections/'))
    return { methods: ['GET', 'POST'], kind: 'html', cors: false, run: handleConnections };
  return undefined;
}

async function serveMetadata(deps: Deps, _req: Request, res: Response): Promise<void> {
  res.status(200).set({ 'Cache-Control': 'public, max-age=3600' }).json(authorizationServerMetadata(deps));
}

async function handleRegister(deps: Deps, req: Request, res: Response): Promise<void> {
  res.set('Cache-Control', 'no-store');
  deps.limitAddress('register'); // L20: open registration stores a client record
  if (!req.is('application/json'))
    throw new OAuthError('invalid_client_metadata', 'The body must be application/json.');
  const db = await deps.db();
  const registered = await registerClient(db, req.body, deps.clock.now());
  deps.audit('client_registered', { clientId: registered.client_id });
  res.status(201).json(registered);
}

export function createAuthorizationHandler(baseDeps: Deps) {
  return async (req: Request, res: Response): Promise<void> => {
    const ctx = requestContextFor(req, res, baseDeps.log, baseDeps.config.GOOGLE_CLOUD_PROJECT, 'authorization');
    const deps = forRequest(baseDeps, ctx);
    const route = routeFor(req.path);
    if (!route) {
      sendJsonRefusal(res, { code: 'not_found' });
      return;
    }
    if (route.cors) res.set('Access-Control-Allow-Origin', '*'); // H22: never on /authorize, /consent, /connect, /account
    if (req.method === 'OPTIONS' && route.cors) {
      res
        .status(204)
        .set({
          'Access-Control-Allow-Methods': route.methods.join(', '),
          'Access-Control-Allow-Headers': 'Authorization, Content-Type',
          'Access-Control-Max-Age': '600',
        })
        .end();
      return;
    }
    if (!route.methods.includes(req.method)) {
      sendJsonRefusal(res, { code: 'method_not_allowed', allow: route.methods.join(', ') });
      return;
    }
    try {
      await route.run(deps, req, res);
    } catch (err) {
      respondAuthorizationError(deps.log, res, route.kind, err);
    }
  };
}
