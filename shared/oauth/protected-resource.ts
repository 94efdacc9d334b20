/**
 * RFC 9728 protected-resource metadata for /mcp, at the path-inserted
 * location and at the root form clients also probe.
 * @module
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import { publicUrls } from '../config/config.js';
import type { Deps } from '../app/deps.js';
import { SCOPES } from './scopes.js';

export function protectedResourceMetadata(deps: Pick<Deps, 'config'>) {
  const urls = publicUrls(deps.config);
  return {
    resource: urls.resource,
    authorization_servers: [urls.issuer],
    scopes_supported: [...SCOPES],
    bearer_methods_supported: ['header'],
    resource_name: 'Rally MCP server',
    resource_documentation: urls.docs,
  };
}

export function createProtectedResourceMetadataHandler(deps: Deps) {
  const body = JSON.stringify(protectedResourceMetadata(deps));
  return (req: Request, res: Response): void => {
    if (req.method === 'OPTIONS') {
      res.status(204).set({ 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Methods': 'GET' }).end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.status(405).set('Allow', 'GET, HEAD').end();
      return;
    }
    if (req.path !== '/.well-known/oauth-protected-resource' && req.path !== '/.well-known/oauth-protected-resource/mcp') {
      res.status(404).json({ error: 'not_found' });
      return;
    }
    res
      .status(200)
      .set({ 'Content-Type': 'application/json', 'Cache-Control': 'public, max-age=3600', 'Access-Control-Allow-Origin': '*' })
      .send(body);
  };
}
