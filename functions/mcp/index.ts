/** Cloud Function `mcp`: MCP tool calls over Streamable HTTP at /mcp (and the session-link REST twin at /tools/<name>). */
import { defineFunction } from '../../shared/app/entry.js';
import { createMcpHandler } from '../../shared/mcp/handler.js';
import { answerMcpEdgeError } from '../../shared/mcp/edge-answer.js';

export const mcp = defineFunction('mcp', createMcpHandler, { answerEdgeError: answerMcpEdgeError });
