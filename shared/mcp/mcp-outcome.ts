/**
 * The MCP surface's one mapping of a tool outcome (shared/mcp/execute.ts):
 * a tool result, JSON-RPC -32602 for bad arguments, or URL elicitation
 * (-32042) for clients that declared it. Refusals the agent should read
 * (policy, rate limit, sign-in) are isError results with a clear text.
 * @module
 */
import {
  ErrorCode,
  McpError,
  UrlElicitationRequiredError,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import type { ToolOutcome } from './execute.js';

/** This surface's mapping of the one execution path's outcome: a tool result, -32602, or URL elicitation (-32042). */
export async function toMcpResult(
  outcome: ToolOutcome,
  supportsUrlElicitation: () => Promise<boolean>,
): Promise<CallToolResult> {
  switch (outcome.kind) {
    case 'result':
      return outcome.result;
    case 'unknown_tool':
      throw new McpError(ErrorCode.InvalidParams, 'Unknown tool.');
    case 'invalid_arguments':
      throw new McpError(ErrorCode.InvalidParams, outcome.message);
    case 'insufficient_scope': // not reached: openExecution answered 403 for the whole request
      return promptText(`This tool needs the ${outcome.missing.join(' ')} scope.`);
    case 'policy_denied':
    case 'rate_limited':
    case 'confirmation_required':
      return promptText(outcome.message);
    case 'link_required':
      if (await supportsUrlElicitation()) {
        throw new UrlElicitationRequiredError(
          [
            {
              mode: 'url',
              elicitationId: outcome.elicitationId,
              url: outcome.url,
              message: outcome.elicitationMessage,
            },
          ],
          'Rally is not connected for this user.',
        );
      }
      return promptText(outcome.message);
    default:
      return assertNever(outcome);
  }
}

const promptText = (text: string): CallToolResult => ({ isError: true, content: [{ type: 'text', text }] });

function assertNever(x: never): never {
  throw new Error(`unhandled outcome ${JSON.stringify(x)}`);
}
