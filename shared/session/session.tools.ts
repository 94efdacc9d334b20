/**
 * Tools that exist only in session-link mode.
 * @module
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { Deps } from '../app/deps.js';
import type { RequestContext } from '../app/request-context.js';
import { confirmSessionLink } from './link.js';

export const CONFIRM_TOOL = 'confirm_rally_link';

export function registerSessionTools(server: McpServer, deps: Deps, sessionHash: string, ctx: RequestContext): void {
  server.registerTool(
    CONFIRM_TOOL,
    {
      title: 'Confirm Rally sign-in',
      description:
        'Finishes connecting Rally for this chat: submit the 6-digit confirmation code the user saw in their browser after signing in to Rally. ' +
        'Only use a code the user typed into this chat themselves.',
      inputSchema: { code: z.string().regex(/^\s*\d{3}\s?-?\s?\d{3}\s*$/, 'a 6-digit code such as 123 456').describe('The 6-digit code shown on the "Rally is connected" page.') },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async ({ code }) => {
      const result = await confirmSessionLink(deps, sessionHash, code);
      const text = result.ok
        ? 'Rally is connected for this chat. Retry the request now.'
        : result.reason === 'mismatch'
          ? `That code is not right. ${result.remaining} attempt(s) left. (Request ID ${ctx.requestId})`
          : result.reason === 'locked'
            ? `Too many wrong codes: the pending sign-in was cancelled. Start again by retrying the original request. (Request ID ${ctx.requestId})`
            : result.reason === 'different_user'
              ? `This chat is already connected to a different Rally user; nothing was changed. (Request ID ${ctx.requestId})`
              : `There is no sign-in waiting for confirmation in this chat (it may have expired). Retry the original request to get a new link. (Request ID ${ctx.requestId})`;
      return { isError: !result.ok, content: [{ type: 'text', text }] };
    },
  );
}
