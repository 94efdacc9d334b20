/**
 * The mcp function's answer to a request refused before its handler (bad
 * body or URL): JSON-RPC on /mcp (-32700 for a body that does not parse,
 * -32600 otherwise, as the handler answers its own transport checks), the
 * REST twin's shape on /tools/<name>.
 * @module
 */
import type { EdgeAnswer } from '../http/edge-error.js';
import { jsonRpcError } from './handler.js';

const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;

export const answerMcpEdgeError: EdgeAnswer = (err, req, res) => {
  res.status(err.status).set('Cache-Control', 'no-store');
  if (req.path.startsWith('/tools/')) {
    res.json({ error: 'invalid_request', message: err.publicMessage });
    return;
  }
  res.json(jsonRpcError(null, err.code === 'malformed_json' ? PARSE_ERROR : INVALID_REQUEST, err.publicMessage));
};
