/**
 * Who we are, written once: MCP `serverInfo`, the User-Agent and the X-RallyIntegration*
 * headers sent to Rally. Kept apart from the MCP server module so the OAuth functions do not
 * load the MCP SDK. package.json carries the same version and vendor (a unit test keeps them equal).
 * @module
 */
export const SERVER_INFO = { name: 'rally-mcp', title: 'Rally', version: '0.1.0' } as const;

/** Who ships the integration (package.json `name`): Rally's X-RallyIntegrationVendor. */
export const VENDOR = 'rally-mcp-gcp';
