/**
 * What every tool receives: a per-request Rally client and labels. Built by
 * the auth layer for each MCP request; tools never read globals.
 * @module
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Clock } from '../../app/clock.js';
import type { Logger } from '../../logging/logger.js';
import type { RallyClient } from '../../rally/client.js';

export interface ToolContext {
  readonly rally: RallyClient;
  readonly requestId: string;
  readonly log: Logger;
  readonly clock: Clock;
  /** Rally's web origin for item links, e.g. https://rally1.rallydev.com (from configuration). */
  readonly rallyWebBaseUrl: string;
  /** Policy filter: tools for which this returns false are neither listed nor callable. */
  readonly isToolAllowed?: (tool: string) => boolean;
  /** Deletes the caller's stored Rally tokens (Rally has no revocation endpoint). */
  disconnect(): Promise<void>;
  /** Checked after argument validation, before the tool runs: a refusal (policy, rate limit) as a tool result. */
  readonly guard?: (tool: { readonly name: string; readonly readOnly: boolean }) => Promise<CallToolResult | undefined>;
  /** Told about every finished execution (audit trail, metrics). */
  readonly onExecuted?: (event: ToolExecution) => void;
}

export interface ToolExecution {
  readonly tool: string;
  readonly outcome: 'success' | 'error';
  readonly durationMs: number;
  /** The Rally object touched, e.g. "US12", when known. */
  readonly rallyObject?: string;
  readonly errCode?: string;
}
