/**
 * The mcp function's answer to a request refused before its handler (bad
 * body or URL), written by the surface's mapper: JSON-RPC on /mcp
 * (shared/mcp/jsonrpc-errors.ts), the REST twin's shape on /tools/<name>
 * (shared/mcp/rest.ts).
 * @module
 */
import type { EdgeAnswer } from '../http/edge-error.js';
import { sendRpcEdgeError } from './jsonrpc-errors.js';
import { sendRestEdgeError } from './rest.js';

export const answerMcpEdgeError: EdgeAnswer = (err, req, res) =>
  req.path.startsWith('/tools/') ? sendRestEdgeError(err, res) : sendRpcEdgeError(err, res);
