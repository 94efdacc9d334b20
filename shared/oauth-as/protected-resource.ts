/**
 * RFC 9728 protected-resource metadata for /mcp, at the path-inserted
 * location and at the root form clients also probe.
 * @module
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import { publicUrls } from '../config/config.js';
import type { Deps } from '../services/deps.js';
import { SCOPES } from './scopes.js';
import { html, sendPage, type SafeHtml } from '../http/pages.js';
import { sendJsonRefusal } from './oauth-errors.js';

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

/** The human page behind `resource_documentation`: what this is and how to connect. */
function docsPage(deps: Deps): SafeHtml {
  const urls = publicUrls(deps.config);
  const mcpJson = JSON.stringify({ servers: { rally: { type: 'http', url: urls.resource } } }, null, 2);
  return html`<h1>Rally MCP server</h1>
<p>This server lets GitHub Copilot (VS Code) and Copilot Studio agents work with Broadcom Rally as you: read, search, create and update stories, defects and tasks.</p>
<p><strong>VS Code</strong>: add this to <code>.vscode/mcp.json</code>, start the server, and sign in when asked.</p>
<pre>${mcpJson}</pre>
<p><strong>Copilot Studio</strong>: add an MCP server with the URL <code>${urls.resource}</code> and OAuth 2.0 dynamic discovery.</p>
<p class="muted">To stop access, ask your agent to disconnect Rally (the disconnect_rally tool) and remove the app under Rally → Authorized Applications.</p>`;
}

export function createProtectedResourceMetadataHandler(deps: Deps) {
  const body = JSON.stringify(protectedResourceMetadata(deps));
  const docs = docsPage(deps);
  return (req: Request, res: Response): void => {
    if (req.path === '/docs' && (req.method === 'GET' || req.method === 'HEAD')) {
      sendPage(res, 200, 'Rally MCP server', docs);
      return;
    }
    if (req.method === 'OPTIONS') {
      res.status(204).set({ 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Methods': 'GET' }).end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJsonRefusal(res, { code: 'method_not_allowed', allow: 'GET, HEAD' });
      return;
    }
    if (
      req.path !== '/.well-known/oauth-protected-resource' &&
      req.path !== '/.well-known/oauth-protected-resource/mcp'
    ) {
      sendJsonRefusal(res, { code: 'not_found' });
      return;
    }
    res
      .status(200)
      .set({
        'Content-Type': 'application/json',
        'Cache-Control': 'public, max-age=3600',
        'Access-Control-Allow-Origin': '*',
      })
      .send(body);
  };
}
