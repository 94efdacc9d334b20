/**
 * create_connection_token (issue 18): a link to the browser page where the signed-in user
 * creates a connection token for a headless agent. The token itself never passes through the
 * model: the tool returns the page's address only.
 * @module
 */
import { z } from 'zod';
import { defineTool, type AnyToolSpec } from './spec.js';

export const CONNECTION_TOOL = 'create_connection_token';

/** The last tool built, with its console URL (an instance has one URL). */
let built: { readonly consoleUrl: string; readonly tools: readonly AnyToolSpec[] } | undefined;

/**
 * The tool, pointing at `consoleUrl` (`${PUBLIC_BASE_URL}/connections`). Every signed-in request
 * offers it, so it is built once: building its zod schemas on each request cost every call the
 * schemas' allocations, kept alive for the whole call (issue 16), and a new JSON Schema conversion
 * whenever the catalogue was listed.
 */
export function connectionTools(consoleUrl: string): readonly AnyToolSpec[] {
  if (built?.consoleUrl !== consoleUrl) built = { consoleUrl, tools: buildConnectionTools(consoleUrl) };
  return built.tools;
}

function buildConnectionTools(consoleUrl: string): readonly AnyToolSpec[] {
  return [
    defineTool({
      name: CONNECTION_TOOL,
      projects: 'none',
      title: 'Create a connection token',
      description:
        'Give the user a link to the page where they create a connection token for a headless agent (e.g. the GitHub Copilot coding agent) that cannot sign in with OAuth. ' +
        'The token is shown only on that page, never to you; do not ask the user to paste it into the chat.',
      readOnly: true,
      annotations: { readOnlyHint: true, openWorldHint: false, title: 'Create a connection token' },
      input: z.object({}).strict(),
      output: z.object({ url: z.string(), nextStep: z.string() }),
      async run() {
        const nextStep =
          'Open this page in your browser, sign in with Rally, and create the token there. Store it as a repository secret (e.g. COPILOT_MCP_RALLY_TOKEN); never paste it into a chat.';
        return { structured: { url: consoleUrl, nextStep }, text: `${nextStep}\n${consoleUrl}` };
      },
    }),
  ];
}
