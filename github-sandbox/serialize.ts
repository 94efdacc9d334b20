/**
 * The REST API's JSON shapes (docs/github-api.md §3): users, repositories, pull
 * requests, search items and commits, with the URLs pointing at the sandbox's
 * own API and web origins. Field sets follow GitHub's documented examples; the
 * sandbox leaves out what it has no data for (reactions, labels' colours, …).
 * @module
 */
import type { CommitRec, ItemRec, Owner, PullRec, RepoRec, SeedUser, World } from './seed.js';

export interface Origins {
  /** e.g. http://127.0.0.1:<apiPort> */
  readonly api: string;
  /** e.g. http://127.0.0.1:<webPort> */
  readonly web: string;
}

const nodeId = (prefix: string, id: number): string =>
  `${prefix}_${Buffer.from(`sandbox:${prefix}:${id}`).toString('base64url').slice(0, 16)}`;

export function simpleUser(o: Origins, owner: Owner | SeedUser): Record<string, unknown> {
  const type = 'type' in owner ? owner.type : 'User';
  return {
    login: owner.login,
    id: owner.id,
    node_id: nodeId(type === 'User' ? 'U' : 'O', owner.id),
    avatar_url: `${o.web}/avatars/${owner.login}.png`,
    gravatar_id: '',
    url: `${o.api}/users/${owner.login}`,
    html_url: `${o.web}/${owner.login}`,
    type,
    site_admin: false,
  };
}

/** GET /user: the public profile plus the private fields the owner sees. */
export function authenticatedUser(o: Origins, u: SeedUser, world: World): Record<string, unknown> {
  const owned = world.repos.filter((r) => r.owner === u.login);
  return {
    ...simpleUser(o, u),
    name: u.name,
    company: u.login === 'carol' ? null : '@acme',
    blog: '',
    location: null,
    email: u.email,
    hireable: null,
    bio: null,
    twitter_username: null,
    public_repos: owned.filter((r) => !r.private).length,
    public_gists: 0,
    followers: 0,
    following: 0,
    created_at: '2020-01-01T00:00:00Z',
    updated_at: '2025-01-01T00:00:00Z',
    private_gists: 0,
    total_private_repos: owned.filter((r) => r.private).length,
    owned_private_repos: owned.filter((r) => r.private).length,
    disk_usage: 0,
    collaborators: 0,
    two_factor_authentication: true,
    plan: { name: 'free', space: 976562499, collaborators: 0, private_repos: 10000 },
  };
}

export function repository(o: Origins, r: RepoRec, world: World, viewer: string | undefined): Record<string, unknown> {
  const owner = world.owners.get(r.owner);
  const api = `${o.api}/repos/${r.fullName}`;
  const canPush = viewer !== undefined && r.collaborators.includes(viewer);
  return {
    id: r.id,
    node_id: nodeId('R', r.id),
    name: r.name,
    full_name: r.fullName,
    private: r.private,
    owner: owner ? simpleUser(o, owner) : null,
    html_url: `${o.web}/${r.fullName}`,
    description: r.description,
    fork: false,
    url: api,
    pulls_url: `${api}/pulls{/number}`,
    commits_url: `${api}/commits{/sha}`,
    issues_url: `${api}/issues{/number}`,
    created_at: r.createdAt,
    updated_at: r.pushedAt,
    pushed_at: r.pushedAt,
    homepage: null,
    size: 120,
    stargazers_count: 0,
    watchers_count: 0,
    language: 'TypeScript',
    forks_count: 0,
    archived: false,
    disabled: false,
    open_issues_count: r.items.filter((i) => i.state === 'open').length,
    visibility: r.private ? 'private' : 'public',
    default_branch: r.defaultBranch,
    topics: [],
    ...(viewer === undefined
      ? {}
      : { permissions: { admin: false, maintain: false, push: canPush, triage: canPush, pull: true } }),
  };
}

function authorAssociation(r: RepoRec, login: string): string {
  if (r.owner === login) return 'OWNER';
  return r.collaborators.includes(login) ? 'MEMBER' : 'CONTRIBUTOR';
}

function itemUser(o: Origins, world: World, login: string): Record<string, unknown> | null {
  const u = world.users.get(login);
  return u ? simpleUser(o, u) : null;
}

/** One item of GET /search/issues: the issue shape, with `pull_request` for pull requests. */
export function searchItem(o: Origins, r: RepoRec, item: ItemRec, world: World): Record<string, unknown> {
  const api = `${o.api}/repos/${r.fullName}`;
  const kindPath = item.kind === 'pull' ? 'pull' : 'issues';
  const base: Record<string, unknown> = {
    url: `${api}/issues/${item.number}`,
    repository_url: api,
    labels_url: `${api}/issues/${item.number}/labels{/name}`,
    comments_url: `${api}/issues/${item.number}/comments`,
    events_url: `${api}/issues/${item.number}/events`,
    html_url: `${o.web}/${r.fullName}/${kindPath}/${item.number}`,
    id: item.id,
    node_id: nodeId(item.kind === 'pull' ? 'PR' : 'I', item.id),
    number: item.number,
    title: item.title,
    user: itemUser(o, world, item.author),
    labels: [],
    state: item.state,
    locked: false,
    assignee: null,
    assignees: [],
    milestone: null,
    comments: item.comments,
    created_at: item.createdAt,
    updated_at: item.updatedAt,
    closed_at: item.closedAt,
    author_association: authorAssociation(r, item.author),
    active_lock_reason: null,
    body: item.body,
    state_reason: item.state === 'closed' ? 'completed' : null,
    score: 1.0,
  };
  if (item.kind === 'issue') return base;
  return {
    ...base,
    draft: item.draft,
    pull_request: {
      url: `${api}/pulls/${item.number}`,
      html_url: `${o.web}/${r.fullName}/pull/${item.number}`,
      diff_url: `${o.web}/${r.fullName}/pull/${item.number}.diff`,
      patch_url: `${o.web}/${r.fullName}/pull/${item.number}.patch`,
      merged_at: item.mergedAt,
    },
    state_reason: null,
  };
}

function branchRef(o: Origins, r: RepoRec, world: World, ref: string, sha: string): Record<string, unknown> {
  const owner = world.owners.get(r.owner);
  return {
    label: `${r.owner}:${ref}`,
    ref,
    sha,
    user: owner ? simpleUser(o, owner) : null,
    repo: repository(o, r, world, undefined),
  };
}

/** GET /repos/{owner}/{repo}/pulls/{pull_number} */
export function pullRequest(o: Origins, r: RepoRec, p: PullRec, world: World): Record<string, unknown> {
  const api = `${o.api}/repos/${r.fullName}`;
  const stats = p.commitShas
    .map((s) => r.commits.get(s))
    .flatMap((c) => c?.files ?? [])
    .reduce((acc, f) => ({ additions: acc.additions + f.additions, deletions: acc.deletions + f.deletions }), {
      additions: 0,
      deletions: 0,
    });
  const files = new Set(p.commitShas.flatMap((s) => r.commits.get(s)?.files.map((f) => f.filename) ?? []));
  return {
    url: `${api}/pulls/${p.number}`,
    id: p.id,
    node_id: nodeId('PR', p.id),
    html_url: `${o.web}/${r.fullName}/pull/${p.number}`,
    diff_url: `${o.web}/${r.fullName}/pull/${p.number}.diff`,
    patch_url: `${o.web}/${r.fullName}/pull/${p.number}.patch`,
    issue_url: `${api}/issues/${p.number}`,
    commits_url: `${api}/pulls/${p.number}/commits`,
    review_comments_url: `${api}/pulls/${p.number}/comments`,
    comments_url: `${api}/issues/${p.number}/comments`,
    statuses_url: `${api}/statuses/${p.headSha}`,
    number: p.number,
    state: p.state,
    locked: false,
    title: p.title,
    user: itemUser(o, world, p.author),
    body: p.body,
    labels: [],
    milestone: null,
    active_lock_reason: null,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
    closed_at: p.closedAt,
    merged_at: p.mergedAt,
    merge_commit_sha: p.mergeCommitSha,
    assignee: null,
    assignees: [],
    requested_reviewers: [],
    requested_teams: [],
    head: branchRef(o, r, world, p.headRef, p.headSha),
    base: branchRef(o, r, world, p.baseRef, p.baseSha),
    author_association: authorAssociation(r, p.author),
    auto_merge: null,
    draft: p.draft,
    merged: p.mergedAt !== null,
    mergeable: p.state === 'open' ? true : null,
    rebaseable: p.state === 'open' ? true : null,
    mergeable_state: p.state === 'open' ? 'clean' : 'unknown',
    merged_by: p.mergedBy === null ? null : itemUser(o, world, p.mergedBy),
    comments: p.comments,
    review_comments: 0,
    maintainer_can_modify: false,
    commits: p.commitShas.length,
    additions: stats.additions,
    deletions: stats.deletions,
    changed_files: files.size,
  };
}

/** GET /repos/{owner}/{repo}/commits/{ref} */
export function commit(o: Origins, r: RepoRec, c: CommitRec, world: World): Record<string, unknown> {
  const api = `${o.api}/repos/${r.fullName}`;
  const person = { name: c.authorName, email: c.authorEmail, date: c.date };
  const account = c.authorLogin === null ? null : itemUser(o, world, c.authorLogin);
  const additions = c.files.reduce((n, f) => n + f.additions, 0);
  const deletions = c.files.reduce((n, f) => n + f.deletions, 0);
  return {
    sha: c.sha,
    node_id: nodeId('C', parseInt(c.sha.slice(0, 8), 16)),
    commit: {
      author: person,
      committer: person,
      message: c.message,
      tree: { sha: c.sha.split('').reverse().join(''), url: `${api}/git/trees/${c.sha}` },
      url: `${api}/git/commits/${c.sha}`,
      comment_count: 0,
      verification: { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null },
    },
    url: `${api}/commits/${c.sha}`,
    html_url: `${o.web}/${r.fullName}/commit/${c.sha}`,
    comments_url: `${api}/commits/${c.sha}/comments`,
    author: account,
    committer: account,
    parents: c.parents.map((p) => ({
      sha: p,
      url: `${api}/commits/${p}`,
      html_url: `${o.web}/${r.fullName}/commit/${p}`,
    })),
    stats: { total: additions + deletions, additions, deletions },
    files: c.files.map((f) => ({
      sha: f.filename.length.toString(16).padStart(40, '0'),
      filename: f.filename,
      status: f.status,
      additions: f.additions,
      deletions: f.deletions,
      changes: f.additions + f.deletions,
      blob_url: `${o.web}/${r.fullName}/blob/${c.sha}/${f.filename}`,
      raw_url: `${o.web}/${r.fullName}/raw/${c.sha}/${f.filename}`,
      contents_url: `${api}/contents/${f.filename}?ref=${c.sha}`,
    })),
  };
}
