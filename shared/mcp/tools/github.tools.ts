/**
 * The tools that make Rally and GitHub worth having together (issue 19):
 *
 * - `find_github_pull_requests`: the pull requests that mention a Rally FormattedID;
 * - `link_rally_item_to_github`: a discussion post on a Rally item that links a pull request or
 *   commit, after GitHub confirmed the user can see it;
 * - `draft_github_branch_from_rally_item`: a branch name and pull-request text drafted from a
 *   Rally story or defect (and, given a repository, its default branch as the base).
 *
 * They are offered wherever the operator enabled GitHub (UPSTREAM_PROVIDERS; `enabledTools`), with
 * the core tools. Each declares the providers it needs (`providers`); a provider the user has not connected
 * answers with that provider's sign-in link (LinkRequiredError from its token provider). GitHub's
 * text travels as GitHubText, untrusted like Rally's (J5, L9).
 * @module
 */
import { z } from 'zod';
import { getItemDetails, addComment } from '../../rally/items.api.js';
import { oidOf } from '../../rally/refs.js';
import { getPullRequest, searchPullRequests } from '../../github/pulls.api.js';
import { getCommit } from '../../github/commits.api.js';
import { getRepo } from '../../github/repos.api.js';
import { COMMIT_SHA, FORMATTED_ID, REPO_FULL_NAME } from '../../github/types.js';
import { cleanLine, htmlToText, MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS } from '../../sanitize/index.js';
import { ItemId } from './inputs.js';
import { CursorInput } from './cursor.js';
import {
  ItemSummary,
  RallyText,
  TYPE_TO_KIND,
  itemSummary,
  rallyText,
  renderText,
  GitHubText,
  githubText,
  dateOrNull,
} from './output.js';
import { CREATES, READ_ONLY, defineTool } from './spec.js';
import { ToolInputError } from './tool-errors.js';

/** One page of search results; GitHub pages are numbered, the cursor keeps the 1-based index of the first. */
const PAGE_SIZE = 20;

/** GitHub logins: 1–39 letters, digits and single hyphens. Anything else is not passed on as a plain field. */
const LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const loginOrNull = (v: string | null): string | null => (v !== null && LOGIN.test(v) ? v : null);

const FormattedId = z
  .string()
  .trim()
  .toUpperCase()
  .regex(FORMATTED_ID, 'must be a Rally FormattedID like US12 or DE7')
  .describe('Rally FormattedID, e.g. "US12" or "DE7".');

const Repo = z
  .string()
  .trim()
  .regex(REPO_FULL_NAME, 'must be a GitHub repository as owner/name')
  .describe('GitHub repository as owner/name, e.g. "acme/storefront".');

// ---------- find_github_pull_requests ----------

const PullRequestOut = z.object({
  repo: z.string(),
  number: z.number().int(),
  title: GitHubText,
  state: z.enum(['open', 'closed', 'merged']),
  draft: z.boolean(),
  author: z.string().nullable(),
  updatedAt: z.string().nullable(),
  url: z.string(),
});

export const findGitHubPullRequests = defineTool({
  name: 'find_github_pull_requests',
  providers: ['github'],
  // GitHub only: the FormattedID is search text there, and no Rally object is read (under a project
  // allowlist it reveals nothing of Rally's; what it finds is what the user sees on GitHub).
  projects: 'none',
  title: 'Find GitHub pull requests for a Rally item',
  description:
    'Find the GitHub pull requests whose title or description mentions a Rally FormattedID (US12, DE7), in every repository you can see or in one. Newest first.',
  readOnly: true,
  annotations: { ...READ_ONLY, title: 'Find GitHub pull requests for a Rally item' },
  input: z
    .object({
      formattedId: FormattedId,
      repo: Repo.optional(),
      state: z.enum(['open', 'closed', 'merged', 'all']).default('all').describe('Default: all.'),
      cursor: CursorInput.optional(),
    })
    .strict(),
  output: z.object({
    formattedId: z.string(),
    totalCount: z.number().int(),
    incompleteResults: z.boolean().describe('GitHub stopped searching early: more may match.'),
    pullRequests: z.array(PullRequestOut),
    nextCursor: z.string().nullable(),
  }),
  async run(args, ctx) {
    const query = {
      tool: 'find_github_pull_requests',
      id: args.formattedId,
      repo: args.repo ?? null,
      state: args.state,
    };
    const { start } = await ctx.cursors.open(args.cursor, query);
    const page = Math.floor((start - 1) / PAGE_SIZE) + 1;
    const found = await searchPullRequests(ctx.github(), {
      formattedId: args.formattedId,
      ...(args.repo ? { repo: args.repo } : {}),
      state: args.state,
      page,
      perPage: PAGE_SIZE,
    });
    const pullRequests = found.items.map((pr) => ({
      repo: pr.repo,
      number: pr.number,
      title: githubText(pr.title),
      state: pr.merged ? ('merged' as const) : pr.state,
      draft: pr.draft,
      author: loginOrNull(pr.author),
      updatedAt: dateOrNull(pr.updatedAt), // GitHub's text: passed on only as a date
      // Built from our configuration and checked parts, never GitHub's html_url (L9).
      url: ctx.githubWeb.pullRequestUrl(pr.repo, pr.number),
    }));
    const nextCursor = found.nextPage
      ? await ctx.cursors.seal({ start: (found.nextPage - 1) * PAGE_SIZE + 1, typeIndex: 0 }, query)
      : null;
    const structured = {
      formattedId: args.formattedId,
      totalCount: found.totalCount,
      incompleteResults: found.incompleteResults,
      pullRequests,
      nextCursor,
    };
    const summary =
      pullRequests.length === 0
        ? `No pull request mentions ${args.formattedId}.`
        : `${found.totalCount} pull request(s) mention ${args.formattedId}; this page has ${pullRequests.length}.`;
    return { structured, text: renderText(summary, structured) };
  },
});

// ---------- link_rally_item_to_github ----------

type GitHubTarget =
  | { readonly kind: 'pull_request'; readonly repo: string; readonly number: number }
  | { readonly kind: 'commit'; readonly repo: string; readonly sha: string };

/**
 * `https://github.com/<owner>/<repo>/pull/<n>` or `…/commit/<sha>` on the configured GitHub host
 * only: a link to anywhere else is refused, so a post never points where the user did not mean.
 */
export function parseGitHubUrl(raw: string, webBaseUrl: string): GitHubTarget {
  const refuse = () =>
    new ToolInputError(
      `url must be a GitHub pull request or commit link on ${new URL(webBaseUrl).host}, like ${webBaseUrl.replace(/\/$/, '')}/owner/repo/pull/12 or …/owner/repo/commit/<sha>.`,
    );
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse();
  }
  const base = new URL(webBaseUrl);
  if (url.origin !== base.origin || url.username || url.password) throw refuse();
  const prefix = base.pathname.replace(/\/$/, '');
  if (!url.pathname.startsWith(`${prefix}/`)) throw refuse();
  const parts = url.pathname
    .slice(prefix.length + 1)
    .replace(/\/$/, '')
    .split('/');
  if (parts.length !== 4) throw refuse();
  const [owner = '', name = '', what, id = ''] = parts;
  const repo = `${owner}/${name}`;
  if (!REPO_FULL_NAME.test(repo)) throw refuse();
  if (what === 'pull' && /^[1-9]\d{0,9}$/.test(id)) return { kind: 'pull_request', repo, number: Number(id) };
  if (what === 'commit' && COMMIT_SHA.test(id)) return { kind: 'commit', repo, sha: id.toLowerCase() };
  throw refuse();
}

export const linkRallyItemToGitHub = defineTool({
  name: 'link_rally_item_to_github',
  providers: ['rally', 'github'],
  projects: 'item',
  title: 'Link a Rally item to a GitHub pull request or commit',
  description:
    "Add a comment to a Rally story, defect or task's discussion linking a GitHub pull request or commit, after checking on GitHub that it exists and you can see it.",
  readOnly: false,
  annotations: { ...CREATES, title: 'Link a Rally item to a GitHub pull request or commit' },
  input: z
    .object({
      id: ItemId,
      url: z
        .string()
        .trim()
        .max(500)
        .describe('GitHub pull request or commit link, e.g. https://github.com/acme/storefront/pull/12.'),
    })
    .strict(),
  output: z.object({
    item: ItemSummary,
    linked: z.object({
      kind: z.enum(['pull_request', 'commit']),
      repo: z.string(),
      number: z.number().int().nullable(),
      sha: z.string().nullable(),
      title: GitHubText,
      url: z.string(),
    }),
    postObjectId: z.string(),
  }),
  async run(args, ctx) {
    const target = parseGitHubUrl(args.url, ctx.githubWeb.baseUrl);
    // GitHub first: nothing is written to Rally for a link the user cannot see.
    const github = ctx.github();
    const linked =
      target.kind === 'pull_request'
        ? await getPullRequest(github, target).then((pr) => ({
            kind: target.kind,
            repo: pr.repo,
            number: pr.number,
            sha: null,
            title: pr.title,
            url: ctx.githubWeb.pullRequestUrl(pr.repo, pr.number),
          }))
        : await getCommit(github, { repo: target.repo, ref: target.sha }).then((c) => ({
            kind: target.kind,
            repo: c.repo,
            number: null,
            sha: c.sha,
            title: c.message.split('\n', 1)[0] ?? '',
            url: ctx.githubWeb.commitUrl(c.repo, c.sha),
          }));
    const label =
      linked.kind === 'pull_request'
        ? `pull request ${linked.repo}#${linked.number}`
        : `commit ${linked.repo}@${linked.sha?.slice(0, 12)}`;
    // The post is escaped plain text (plainToRallyHtml); GitHub's title is capped and cleaned to one line.
    const text = `Linked GitHub ${label}: ${cleanLine(linked.title, 200)}\n${linked.url}`;
    const { item, post } = await addComment(ctx.rally, args.id, text);
    const summary = itemSummary(item.object, item.type, ctx.rallyWebBaseUrl);
    const structured = {
      item: summary,
      linked: { ...linked, title: githubText(linked.title) },
      postObjectId: oidOf(post) ?? '0',
    };
    return {
      structured,
      text: renderText(
        `Linked ${summary.formattedId ?? summary.objectId} to GitHub ${label}: ${linked.url}`,
        structured,
      ),
    };
  },
});

// ---------- draft_github_branch_from_rally_item ----------

const MAX_SLUG = 48;

/** `us12-add-a-login-page`: ASCII letters, digits and single hyphens, cut at a word boundary. */
export function branchSlug(name: string): string {
  const words = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  let slug = '';
  for (const w of words) {
    const next = slug ? `${slug}-${w}` : w;
    if (next.length > MAX_SLUG) break;
    slug = next;
  }
  return slug || (words[0] ?? '').slice(0, MAX_SLUG);
}

const BranchPrefix = z
  .string()
  .trim()
  .regex(/^(?:[a-z0-9][a-z0-9._-]{0,19})?$/, 'must be lower-case letters, digits, ".", "_" or "-" (up to 20), or ""')
  .describe(
    'Branch prefix without the slash: default "feature" for stories, "fix" for defects, "task" for tasks; "" for none.',
  );

const DEFAULT_PREFIX = { story: 'feature', defect: 'fix', task: 'task' } as const;

export const draftGitHubBranchFromRallyItem = defineTool({
  name: 'draft_github_branch_from_rally_item',
  providers: ['rally', 'github'], // GitHub is read only when a repo is given; offered where GitHub is enabled
  projects: 'item',
  title: 'Draft a branch and pull request from a Rally item',
  description:
    'Draft a git branch name and a pull-request title and description from a Rally story, defect or task. With a repository, also reads its default branch from GitHub as the base.',
  readOnly: true,
  annotations: { ...READ_ONLY, title: 'Draft a branch and pull request from a Rally item' },
  input: z.object({ id: ItemId, prefix: BranchPrefix.optional(), repo: Repo.optional() }).strict(),
  output: z.object({
    item: ItemSummary,
    branchName: z.string(),
    baseBranch: GitHubText.nullable().describe('The repository default branch (GitHub text), when a repo was given.'),
    pullRequestTitle: RallyText,
    pullRequestBody: RallyText,
  }),
  async run(args, ctx) {
    const { item } = await getItemDetails(ctx.rally, args.id);
    const summary = itemSummary(item.object, item.type, ctx.rallyWebBaseUrl);
    const kind = TYPE_TO_KIND[item.type];
    const id = summary.formattedId ?? summary.objectId;
    const name = typeof item.object.Name === 'string' ? item.object.Name : '';
    const prefix = args.prefix ?? DEFAULT_PREFIX[kind];
    const slug = [id.toLowerCase(), branchSlug(name)].filter(Boolean).join('-');
    const branchName = prefix ? `${prefix}/${slug}` : slug;
    const base = args.repo ? (await getRepo(ctx.github(), { repo: args.repo })).defaultBranch : undefined;
    const title = `${id}: ${cleanLine(name, 200)}`;
    const description = htmlToText(
      typeof item.object.Description === 'string' ? item.object.Description : '',
      MAX_DESCRIPTION_CHARS,
    );
    const body = [`Rally ${kind} ${id}: ${summary.url}`, '', description].join('\n').trim();
    const structured = {
      item: summary,
      branchName,
      baseBranch: base === undefined ? null : githubText(base),
      pullRequestTitle: rallyText(title, MAX_NAME_CHARS),
      pullRequestBody: { source: 'rally' as const, untrusted: true as const, text: body },
    };
    return { structured, text: renderText(`Branch for ${id}: ${branchName}`, structured) };
  },
});

// ---------- disconnect_github ----------

export const disconnectGitHub = defineTool({
  name: 'disconnect_github',
  providers: ['github'],
  projects: 'none',
  title: 'Disconnect GitHub',
  description:
    "Delete the GitHub sign-in this server stored for you and revoke this server's authorization at GitHub. Your Rally connection stays. The next GitHub tool call will ask you to sign in to GitHub again.",
  readOnly: false,
  annotations: {
    readOnlyHint: false,
    destructiveHint: true,
    idempotentHint: true,
    openWorldHint: true, // it asks GitHub to end the authorization
    title: 'Disconnect GitHub',
  },
  input: z.object({}).strict(),
  output: z.object({ disconnected: z.literal(true), revokedAtGitHub: z.boolean(), nextStep: z.string() }),
  async run(_args, ctx) {
    const { revokedAtProvider } = await ctx.disconnect('github');
    const nextStep = revokedAtProvider
      ? "GitHub confirmed that this server's authorization was revoked there too; nothing else to do."
      : `GitHub could not confirm revoking this server's authorization. To revoke it yourself, open ${ctx.githubWeb.baseUrl}/settings/applications ` +
        'and revoke the application under "Authorized OAuth Apps" (or "Authorized GitHub Apps").';
    const structured = { disconnected: true as const, revokedAtGitHub: revokedAtProvider, nextStep };
    return { structured, text: `Your GitHub connection was removed from this server. ${nextStep}` };
  },
});

export const GITHUB_TOOLS = [
  findGitHubPullRequests,
  linkRallyItemToGitHub,
  draftGitHubBranchFromRallyItem,
  disconnectGitHub,
];
