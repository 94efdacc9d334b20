/**
 * The /mcp endpoint: stateless Streamable HTTP, a fresh server and
 * transport per request.
 * @module
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Deps } from '../app/deps.js';
import { buildMcpServer, type ToolRegistrar } from './server.js';

export function createMcpHandler(deps: Deps, registerTools: ToolRegistrar) {
  return async (req: Request, res: Response): Promise<void> => {
    if (req.method !== 'POST') {
      // Stateless server: no SSE stream to resume and no session to delete.
      res.status(405).set('Allow', 'POST').json(jsonRpcError(null, -32000, 'Method not allowed.'));
      return;
    }
    const server = buildMcpServer(registerTools);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    try {
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body);
    } catch (err) {
      deps.log.error('mcp_request_failed', { errName: err instanceof Error ? err.name : typeof err });
      if (!res.headersSent) res.status(500).json(jsonRpcError(null, -32603, 'Internal error.'));
    }
  };
}

export function jsonRpcError(id: string | number | null, code: number, message: string, data?: unknown) {
  return { jsonrpc: '2.0' as const, id, error: { code, message, ...(data === undefined ? {} : { data }) } };
}
