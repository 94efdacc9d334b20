/**
 * The project allowlist of a connection token on `/connections` (issue 18, O16, O23). The picker
 * lists the signed-in user's open Rally projects, read with the connections grant's own Rally
 * sign-in; at creation the same sign-in must see every chosen project, or nothing is created (a
 * forged or stale choice is refused, never silently dropped). What is stored is canonical
 * (`/project/<ObjectID>`, at most MAX_TOKEN_PROJECTS) and is enforced on every tool call by the
 * one execution path (shared/mcp/execute.ts, shared/rally/project-scope.ts).
 * @module
 */
import { z } from 'zod';
import type { Deps } from '../services/deps.js';
import { randomToken } from '../kernel/hash.js';
import type { RallyClient } from '../rally/client.js';
import { RallyApiError } from '../rally/errors.js';
import { LinkRequiredError } from '../upstream/link-required.js';
import { listProjects, visibleProjects } from '../rally/projects.api.js';
import { oidOf } from '../rally/refs.js';
import { OBJECT_ID } from '../rally/types.js';
import { readLink } from '../upstream-link/link-read.js';
import { createTokenProvider } from '../upstream-link/token-provider.js';
import { PRIMARY_PROVIDER } from '../upstream/provider.js';
import { html, type SafeHtml } from '../http/pages.js';
import { MAX_TOKEN_PROJECTS, type AllowedProject, type ConnectionToken } from '../store/connection-tokens.repo.js';

export type ConsoleProjectsDeps = Pick<Deps, 'clock' | 'db' | 'log' | 'auth'>;

/** The most projects the picker lists (one WSAPI page, by name); the rest is named in a note. */
export const PICKER_LIMIT = 200;

/** The form's `projects` checkboxes: ObjectIDs, each once, at most MAX_TOKEN_PROJECTS; none: every project. */
export const ProjectChoice = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .transform((v) => [...new Set(v === undefined ? [] : Array.isArray(v) ? v : [v])])
  .pipe(z.array(z.string().regex(OBJECT_ID)).max(MAX_TOKEN_PROJECTS));

/** A Rally client on the connections grant's link (the one its tokens use); undefined when it has none. */
async function consoleRally(deps: ConsoleProjectsDeps, grantId: string): Promise<RallyClient | undefined> {
  const services = await deps.auth();
  const tokens = services.tokenStore(PRIMARY_PROVIDER);
  const read = await readLink(
    { tokens, clock: deps.clock, db: () => deps.db() },
    {
      kind: 'grant',
      grantId,
    },
  );
  if (read.kind !== 'read' || !read.link) return undefined;
  return services.rallyClient({
    tokens: createTokenProvider(tokens, read.link, (rt) => services.providers.primary.refresh(rt), deps.clock),
    labels: { requestId: `connections-${randomToken(9)}` },
    limiterKey: `rally-user:${read.link.user.id}`,
    log: deps.log,
  });
}

/** Rally could not answer for this user now: no link, a refused refresh, or Rally down. */
const isRallyTrouble = (err: unknown) => err instanceof LinkRequiredError || err instanceof RallyApiError;

export type ProjectPicker =
  | { readonly kind: 'ok'; readonly projects: readonly AllowedProjectChoice[]; readonly total: number }
  | { readonly kind: 'unavailable' };
export interface AllowedProjectChoice {
  readonly oid: string;
  readonly name: string;
}

/** The user's open projects (first PICKER_LIMIT by name) for the creation form. */
export async function projectPicker(deps: ConsoleProjectsDeps, grantId: string): Promise<ProjectPicker> {
  try {
    const rally = await consoleRally(deps, grantId);
    if (!rally) return { kind: 'unavailable' };
    const page = await listProjects(rally, { start: 1, pageSize: PICKER_LIMIT });
    const projects = page.results.flatMap((p) => {
      const oid = oidOf(p);
      return oid ? [{ oid, name: typeof p.Name === 'string' ? p.Name : oid }] : [];
    });
    return { kind: 'ok', projects, total: page.totalResultCount };
  } catch (err) {
    if (!isRallyTrouble(err)) throw err;
    deps.log.warn('connections_projects_unavailable', { errCode: (err as { code: string }).code });
    return { kind: 'unavailable' };
  }
}

export type ProjectCheck =
  | { readonly kind: 'ok'; readonly projects: readonly AllowedProject[] }
  /** A chosen project is not one this user can see (open, default workspace). */
  | { readonly kind: 'unknown' }
  /** The connections grant has no usable Rally sign-in: sign in again. */
  | { readonly kind: 'no_rally' };

/** O23: every chosen ObjectID must be a project the grant's own Rally sign-in sees now. */
export async function checkChosenProjects(
  deps: ConsoleProjectsDeps,
  grantId: string,
  oids: readonly string[],
): Promise<ProjectCheck> {
  if (oids.length === 0) return { kind: 'ok', projects: [] };
  let found: Awaited<ReturnType<typeof visibleProjects>>;
  try {
    const rally = await consoleRally(deps, grantId);
    if (!rally) return { kind: 'no_rally' };
    found = await visibleProjects(rally, oids);
  } catch (err) {
    if (err instanceof LinkRequiredError) return { kind: 'no_rally' };
    throw err; // Rally down: the generic page; nothing was created
  }
  if (found.length !== oids.length) return { kind: 'unknown' };
  return {
    kind: 'ok',
    projects: found.map((p) => ({ ref: `/project/${p.oid}`, name: p.name.slice(0, 256) })),
  };
}

/** The project checkboxes (names are Rally text: escaped like every value of html``). */
export function projectField(picker: ProjectPicker): SafeHtml {
  if (picker.kind === 'unavailable')
    return html`<div class="muted">Your Rally projects could not be loaded just now, so this token cannot be limited to some of them. Reload the page to try again, or create it for every project.</div>`;
  return html`<fieldset id="projects" class="picks" aria-label="Only these projects">${picker.projects.map(
    (p) => html`<label><input type="checkbox" name="projects" value="${p.oid}"> ${p.name}</label>`,
  )}</fieldset><div class="muted">None ticked: every project you can see in Rally. At most ${MAX_TOKEN_PROJECTS}.${
    picker.total > PICKER_LIMIT ? ` Showing the first ${PICKER_LIMIT} of ${picker.total} projects, by name.` : ''
  }</div>`;
}

/** How a token's project allowlist reads on the list and the "created" page. */
export const projectsLabel = (t: Pick<ConnectionToken, 'projects'>): string =>
  t.projects ? `projects: ${t.projects.map((p) => p.name || p.ref).join(', ')}` : 'all projects';
