/**
 * The authorization-server facade (RFC 8414 metadata; endpoints follow).
 * @module
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import { publicUrls } from '../config/config.js';
import type { Deps } from '../app/deps.js';
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

export function createAuthorizationHandler(deps: Deps) {
  const metadata = JSON.stringify(authorizationServerMetadata(deps));
  return (req: Request, res: Response): void => {
    if (req.path.startsWith('/.well-known/')) {
      res.status(200).set({ 'Content-Type': 'application/json', 'Cache-Control': 'public, max-age=3600', 'Access-Control-Allow-Origin': '*' }).send(metadata);
      return;
    }
    res.status(404).json({ error: 'not_found' });
  };
}
