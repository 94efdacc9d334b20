/**
 * Who we are, for MCP `serverInfo` and the User-Agent sent to Rally. Kept apart
 * from the MCP server module so the OAuth functions do not load the MCP SDK.
 * @module
 */
export const SERVER_INFO = { name: 'rally-mcp', title: 'Rally', version: '0.1.0' } as const;
