/**
 * get_rally_user and disconnect_rally.
 * @module
 */
import { z } from 'zod';
import { userDefaults } from '../../rally/refs.js';
import { RallyText, rallyText, renderText, userNameOrNull } from './output.js';
import { READ_ONLY, defineTool } from './spec.js';

const Named = z.object({ objectId: z.string(), name: RallyText }).nullable();
const UserOut = z.object({
  objectId: z.string(),
  userName: z.string().nullable(),
  displayName: RallyText,
  email: z.string().nullable(),
  defaultWorkspace: Named,
  defaultProject: Named,
});

export const getRallyUser = defineTool({
  name: 'get_rally_user',
  projects: 'none',
  title: 'Get my Rally user',
  description: 'Show the Rally account this connection uses: name, user name, default workspace and project.',
  readOnly: true,
  annotations: { ...READ_ONLY, title: 'Get my Rally user' },
  input: z.object({}).strict(),
  output: z.object({ user: UserOut }),
  async run(_args, ctx) {
    const d = await userDefaults(ctx.rally, { fresh: true }); // "who am I" always asks Rally
    const named = (n: { oid: string; name: string } | undefined) =>
      n ? { objectId: n.oid, name: rallyText(n.name) } : null;
    const user = {
      objectId: d.userOid,
      userName: userNameOrNull(d.userName),
      displayName: rallyText(d.displayName),
      email: userNameOrNull(d.email),
      defaultWorkspace: named(d.workspace),
      defaultProject: named(d.project),
    };
    const structured = { user };
    // The summary names the account by its numeric ObjectID only: user names are Rally data (L9).
    return { structured, text: renderText(`Connected to Rally as user ${user.objectId}.`, structured) };
  },
});

export const AUTHORIZED_APPS_HINT =
  'To revoke access completely, open Rally, go to your profile > Application Manager > Authorized Applications, and remove this app. ' +
  'Rally has no way for other services to revoke its access.';

export const disconnectRally = defineTool({
  name: 'disconnect_rally',
  projects: 'none',
  title: 'Disconnect Rally',
  description:
    'Delete the Rally sign-in this server stored for you. The next Rally tool call will ask you to sign in again.',
  readOnly: false,
  annotations: {
    readOnlyHint: false,
    destructiveHint: true,
    idempotentHint: true,
    openWorldHint: true,
    title: 'Disconnect Rally',
  },
  input: z.object({}).strict(),
  output: z.object({ disconnected: z.literal(true), nextStep: z.string(), accessPage: z.string() }),
  async run(_args, ctx) {
    await ctx.disconnect();
    ctx.log.info('rally_disconnected', { outcome: 'tokens_deleted' });
    const accessPage = ctx.accessPageUrl;
    const structured = { disconnected: true as const, nextStep: AUTHORIZED_APPS_HINT, accessPage };
    return {
      structured,
      text:
        `Your Rally connection was removed from this server for this application. ` +
        `To see every application that can use Rally as you, and end any of them, open ${accessPage}. ${AUTHORIZED_APPS_HINT}`,
    };
  },
});

export const USER_TOOLS = [getRallyUser, disconnectRally];
