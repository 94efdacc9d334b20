/** Cloud Function `mcp`: MCP tool calls over Streamable HTTP at /mcp. */
import { defineFunction } from '../../shared/app/entry.js';
import { createMcpHandler } from '../../shared/mcp/handler.js';

export const mcp = defineFunction('mcp', (deps) => createMcpHandler(deps, () => {}));
