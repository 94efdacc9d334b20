/**
 * Tools that exist only in session-link mode.
 * @module
 */
import { z } from 'zod';
import { defineTool, type AnyToolSpec } from './spec.js';
import { ToolInputError } from './tool-errors.js';
import { confirmSessionLink, type SessionLinkDeps } from '../../session-link/confirm.js';

export const CONFIRM_TOOL = 'confirm_rally_link';

/** C3–C5: the code shown in the browser, submitted over the session that started the sign-in. */
export function sessionTools(deps: SessionLinkDeps, sessionHash: string): AnyToolSpec[] {
  return [
    defineTool({
      name: CONFIRM_TOOL,
      projects: 'none',
      title: 'Confirm Rally sign-in',
      description:
        'Finishes connecting Rally for this chat: submit the 6-digit confirmation code the user saw in their browser after signing in to Rally. ' +
        'Only use a code the user typed into this chat themselves.',
      readOnly: false,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
      input: z
        .object({
          code: z
            .string()
            .regex(/^\s*\d{3}\s?-?\s?\d{3}\s*$/, 'must be the 6-digit code, e.g. 123 456')
            .describe('The 6-digit code shown on the "Rally is connected" page.'),
        })
        .strict(),
      output: z.object({ connected: z.literal(true), rallyUser: z.string() }),
      async run({ code }) {
        const result = await confirmSessionLink(deps, sessionHash, code);
        if (result.ok)
          return {
            structured: { connected: true as const, rallyUser: result.rallyUser.userName },
            text: `Rally is connected for this chat as ${result.rallyUser.userName}. Retry the request now.`,
          };
        switch (result.reason) {
          case 'mismatch':
            throw new ToolInputError(`That code is not right. ${result.remaining} attempt(s) left.`);
          case 'locked':
            throw new ToolInputError(
              'Too many wrong codes: the pending sign-in was cancelled. Retry the original request to get a new link.',
            );
          case 'different_user':
            throw new ToolInputError('This chat is already connected to a different Rally user; nothing was changed.');
          case 'none':
            throw new ToolInputError(
              'No sign-in is waiting for confirmation in this chat (it may have expired). Retry the original request to get a new link.',
            );
        }
      },
    }),
  ];
}
