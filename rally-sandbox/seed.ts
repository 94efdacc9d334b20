/**
 * Deterministic seed data: one workspace, shared and private projects,
 * iterations and releases relative to "today", stories, defects, tasks,
 * discussion, and hostile rich text. Other tests reference items by the
 * FormattedIDs exported here.
 * @module
 */
import { HOSTILE_HTML, REALISTIC_HTML, hugeHtml, type HostileKind } from './seed-html.js';
import { seedTeamData } from './seed-team.js';
import type { Store } from './store.js';

export interface SeedUser {
  /** Sign-in name; the password is the same string. */
  readonly login: string;
  readonly userName: string;
  readonly displayName: string;
}

export const SEED_USERS: readonly SeedUser[] = [
  { login: 'alice', userName: 'alice@example.com', displayName: 'Alice Anders' },
  { login: 'bob', userName: 'bob@example.com', displayName: 'Bob Brennan' },
];

export const WORKSPACE_NAME = 'Acme Workspace';
export const PROJECTS = {
  online: 'Acme Online',
  mobile: 'Acme Mobile',
  alicePrivate: 'Alice Private',
  bobPrivate: 'Bob Private',
  archive: 'Legacy Archive',
} as const;

const HOSTILE_ORDER = [
  ...(Object.keys(HOSTILE_HTML) as (keyof typeof HOSTILE_HTML)[]),
  'huge',
] as const satisfies readonly HostileKind[];

/** Number of ordinary shared stories (US1…US20); hostile stories follow. */
const SHARED_STORIES = 20;

/** Stories whose Description carries hostile markup, by concern (all in Acme Online, readable by alice and bob). */
export const HOSTILE_STORIES: Readonly<Record<HostileKind, string>> = Object.fromEntries(
  HOSTILE_ORDER.map((k, i) => [k, `US${SHARED_STORIES + 1 + i}`]),
) as Record<HostileKind, string>;

/** A defect with the combined hostile Description and hostile Notes, plus a hostile discussion post. */
export const HOSTILE_DEFECT = 'DE11';
/** Stories in Alice Private: bob must never see them (US34…US36). */
export const ALICE_PRIVATE_STORIES = ['US34', 'US35', 'US36'] as const;
/** Defect in Alice Private. */
export const ALICE_PRIVATE_DEFECT = 'DE13';
/** Defect in the closed Legacy Archive project. */
export const CLOSED_PROJECT_DEFECT = 'DE12';
/** Story in Bob Private (US37). */
export const BOB_PRIVATE_STORY = 'US37';
/** Story and defect in the closed Legacy Archive project: any access gives 403. */
export const CLOSED_PROJECT_STORY = 'US38';

export interface SeedOptions {
  readonly now: Date;
  readonly extraUsers: number;
  readonly apiKeyFor: (login: string) => string;
}

const DAY = 86_400_000;

/** Midnight UTC `offset` days from `now`; `endOfDay` gives 23:59:59.000 instead. */
function day(now: Date, offset: number, endOfDay = false): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) + offset * DAY);
  return new Date(d.getTime() + (endOfDay ? DAY - 1000 : 0)).toISOString();
}

const STORY_NAMES = [
  'Add owner column to CSV export',
  'Paginate search results',
  'Remember filters in the URL',
  'Onboarding wizard: three screens',
  'Show delivery ETA on order page',
  'Support Apple Pay at checkout',
  'Bulk edit of product tags',
  'Dark mode for the storefront',
  'Order history export to PDF',
  'Customer can reset password by SMS',
  'Inventory sync every five minutes',
  'Gift cards: partial redemption',
  'Localise e-mails for DE and JA',
  'Accessibility pass on checkout',
  'Audit log for admin actions',
  'Rate-limit login attempts',
  'Faster image thumbnails',
  'Wishlist sharing link',
  'Mobile: push notification settings',
  'Mobile: offline cart',
];
const DEFECT_NAMES = [
  'Export drops owner',
  'Checkout total off by one cent',
  'Mojibake in order e-mails',
  'Search returns archived products',
  'Login button unresponsive on Safari',
  'Duplicate order confirmation e-mail',
  'Cart badge count not updated',
  'Crash when uploading HEIC image',
  'Timezone wrong on delivery ETA',
  'Mobile: app freezes on slow network',
];

export function seedStore(store: Store, options: SeedOptions): void {
  const { now } = options;
  const created = (daysAgo: number): Date => new Date(now.getTime() - daysAgo * DAY);
  const sub = store.insert('subscription', { Name: 'Acme Corp', SubscriptionID: 4242 }, created(900));
  const ws = store.insert('workspace', { Name: WORKSPACE_NAME, State: 'Open', Subscription: sub.oid }, created(900));
  const base = { Subscription: sub.oid, Workspace: ws.oid };
  const project = (Name: string, extra: Record<string, unknown> = {}) =>
    store.insert('project', { ...base, Name, State: 'Open', Description: `<p>${Name}</p>`, ...extra }, created(800));

  const online = project(PROJECTS.online);
  const mobile = project(PROJECTS.mobile, { Parent: online.oid });
  const alicePrivate = project(PROJECTS.alicePrivate);
  const bobPrivate = project(PROJECTS.bobPrivate);
  const archive = project(PROJECTS.archive, { State: 'Closed' });

  const addUser = (login: string, userName: string, displayName: string, defaultProject: number) => {
    const profile = store.insert(
      'userprofile',
      {
        ...base,
        DefaultWorkspace: ws.oid,
        DefaultProject: defaultProject,
        TimeZone: 'Etc/UTC',
        EmailNotificationEnabled: true,
      },
      created(700),
    );
    const [first = displayName, last = ''] = displayName.split(' ');
    const user = store.insert(
      'user',
      {
        ...base,
        UserName: userName,
        EmailAddress: userName,
        DisplayName: displayName,
        FirstName: first,
        LastName: last,
        Disabled: false,
        SubscriptionAdmin: false,
        UserProfile: profile.oid,
      },
      created(700),
    );
    store.accounts.set(login, { login, password: login, userOid: user.oid, apiKey: options.apiKeyFor(login) });
    return user.oid;
  };
  const alice = addUser('alice', 'alice@example.com', 'Alice Anders', online.oid);
  const bob = addUser('bob', 'bob@example.com', 'Bob Brennan', online.oid);
  store.grant(online.oid, 'alice', 'editor');
  store.grant(online.oid, 'bob', 'editor');
  store.grant(mobile.oid, 'alice', 'editor');
  store.grant(mobile.oid, 'bob', 'viewer');
  store.grant(alicePrivate.oid, 'alice', 'editor');
  store.grant(bobPrivate.oid, 'bob', 'editor');
  store.grant(archive.oid, 'alice', 'editor');
  store.grant(archive.oid, 'bob', 'editor');

  const iter = (Name: string, from: number, to: number, State: string) =>
    store.insert(
      'iteration',
      {
        ...base,
        Name,
        StartDate: day(now, from),
        EndDate: day(now, to, true),
        State,
        Project: online.oid,
        PlannedVelocity: 30,
      },
      created(200),
    ).oid;
  const pastIt = iter('Sprint 41', -20, -7, 'Accepted');
  const currentIt = iter('Sprint 42', -6, 7, 'Committed');
  const futureIt = iter('Sprint 43', 8, 21, 'Planning');
  const rel = (Name: string, from: number, to: number, State: string) =>
    store.insert(
      'release',
      {
        ...base,
        Name,
        ReleaseStartDate: day(now, from),
        ReleaseDate: day(now, to, true),
        State,
        Project: online.oid,
        Version: Name.split(' ')[1],
      },
      created(300),
    ).oid;
  const pastRel = rel('Release 2025.3', -120, -31, 'Accepted');
  const currentRel = rel('Release 2025.4', -30, 30, 'Active');
  const futureRel = rel('Release 2026.1', 31, 120, 'Planning');
  const tag = (Name: string) => store.insert('tag', { ...base, Name, Archived: false }, created(400)).oid;
  const tags = [tag('customer'), tag('security'), tag('tech-debt'), tag('ux')];

  const states = ['Defined', 'In-Progress', 'Completed', 'Accepted'];
  const iterations = [currentIt, currentIt, pastIt, futureIt, null];
  const releases = [currentRel, pastRel, futureRel, null];
  const owners = [alice, bob, null];
  const story = (Name: string, i: number, extra: Record<string, unknown> = {}) =>
    store.insert(
      'hierarchicalrequirement',
      {
        ...base,
        Name,
        Project: i >= 18 ? mobile.oid : online.oid,
        ScheduleState: states[i % 4],
        PlanEstimate: [1, 2, 3, 5, 8, null][i % 6],
        Owner: owners[i % 3],
        Iteration: iterations[i % 5],
        Release: releases[i % 4],
        Description: REALISTIC_HTML[i % REALISTIC_HTML.length],
        Notes: i % 4 === 0 ? '<p>Reviewed with&nbsp;support.</p>' : '',
        Blocked: i % 7 === 3,
        BlockedReason: i % 7 === 3 ? 'Waiting on payments API' : '',
        Ready: i % 5 === 1,
        Tags: i % 3 === 0 ? [tags[i % 4]] : [],
        ...extra,
      },
      created(60 - i),
    );
  const stories = STORY_NAMES.slice(0, SHARED_STORIES).map((n, i) => story(n, i));
  const [us1, us2, us3] = stories;
  if (us1 && us2 && us3) {
    store.update(us2, { Parent: us1.oid }, created(40));
    store.update(us3, { Parent: us1.oid }, created(40));
  }
  for (const [i, kind] of HOSTILE_ORDER.entries()) {
    const html = kind === 'huge' ? hugeHtml() : HOSTILE_HTML[kind];
    story(`Hostile content: ${kind}`, i, { Project: online.oid, Description: html, Tags: [tags[1]] });
  }
  for (const [i, n] of [
    'Alice private: salary review tool',
    'Alice private: reorg plan',
    'Alice private: vendor shortlist',
  ].entries()) {
    story(n, i, { Project: alicePrivate.oid, Owner: alice, Iteration: null, Release: null });
  }
  story('Bob private: conference talk notes', 1, {
    Project: bobPrivate.oid,
    Owner: bob,
    Iteration: null,
    Release: null,
  });
  story('Archived: legacy payment gateway', 2, { Project: archive.oid, Iteration: null, Release: null });

  const defStates = ['Submitted', 'Open', 'Fixed', 'Closed', 'Open'];
  const severities = ['Major Problem', 'Minor Problem', 'Crash/Data Loss', 'Cosmetic', 'None'];
  const priorities = ['High Attention', 'Normal', 'Resolve Immediately', 'Low', 'None'];
  const defect = (Name: string, i: number, extra: Record<string, unknown> = {}) =>
    store.insert(
      'defect',
      {
        ...base,
        Name,
        Project: i === 9 ? mobile.oid : online.oid,
        State: defStates[i % 5],
        ScheduleState: states[(i + 1) % 4],
        Severity: severities[i % 5],
        Priority: priorities[i % 5],
        Environment: i % 2 ? 'Production' : 'None',
        Owner: owners[(i + 1) % 3],
        SubmittedBy: i % 2 ? alice : bob,
        Iteration: iterations[i % 5],
        Release: releases[i % 4],
        Requirement: stories[i]?.oid ?? null,
        Description: REALISTIC_HTML[(i + 1) % REALISTIC_HTML.length],
        Resolution: i % 5 === 2 ? 'Code Change' : 'None',
        Blocked: i === 4,
        BlockedReason: i === 4 ? 'Needs HEIC sample files' : '',
        FoundInBuild: `2025.4.${i}`,
        Tags: i % 4 === 0 ? [tags[0]] : [],
        ...extra,
      },
      created(30 - i),
    );
  const defects = DEFECT_NAMES.map((n, i) => defect(n, i));
  const hostileDefect = defect('Hostile content: combined', 0, {
    Requirement: null,
    Description: HOSTILE_HTML.combined,
    Notes: HOSTILE_HTML.htmlComment + HOSTILE_HTML.zeroWidthBidi,
  });
  defect('Archived: gateway timeout', 1, { Project: archive.oid, Requirement: null, Iteration: null, Release: null });
  defect('Alice private: payroll rounding', 2, {
    Project: alicePrivate.oid,
    Requirement: null,
    Iteration: null,
    Release: null,
    Owner: alice,
  });

  const taskStates = ['Defined', 'In-Progress', 'Completed'];
  const task = (wp: { oid: number; values: Record<string, unknown> }, Name: string, i: number) =>
    store.insert(
      'task',
      {
        ...base,
        Name,
        WorkProduct: wp.oid,
        Project: wp.values.Project,
        Iteration: wp.values.Iteration,
        Release: wp.values.Release,
        State: taskStates[i % 3],
        Estimate: [2, 4, 6][i % 3],
        ToDo: i % 3 === 2 ? 0 : [2, 3][i % 2],
        Actuals: i % 3,
        Owner: owners[i % 3],
        Description: i % 2 ? '<p>Pair with QA.</p>' : '',
      },
      created(20 - (i % 10)),
    );
  stories.slice(0, 8).forEach((s, i) => {
    task(s, `Design: ${String(s.values.Name)}`, i);
    task(s, `Implement: ${String(s.values.Name)}`, i + 1);
  });
  defects.slice(0, 3).forEach((d, i) => task(d, `Reproduce: ${String(d.values.Name)}`, i));

  const post = (artifact: { oid: number }, user: number, Text: string, PostNumber: number) =>
    store.insert(
      'conversationpost',
      { ...base, Artifact: artifact.oid, User: user, Text, PostNumber },
      created(5 - PostNumber),
    );
  if (us1) {
    post(us1, alice, '<p>Can we include the <b>owner e-mail</b> too?</p>', 1);
    post(us1, bob, '<p>Yes — adding it as a second column.</p>', 2);
  }
  post(hostileDefect, bob, HOSTILE_HTML.htmlComment + HOSTILE_HTML.markdownImage, 1);

  for (let n = 1; n <= options.extraUsers; n++) {
    const login = `user${String(n).padStart(3, '0')}`;
    const p = project(`${login} Private`);
    const uid = addUser(login, `${login}@example.com`, `User ${login.slice(4)}`, p.oid);
    store.grant(p.oid, login, 'editor');
    for (let k = 1; k <= 3; k++) {
      store.insert(
        'hierarchicalrequirement',
        {
          ...base,
          Name: `${login} story ${k}: private backlog item`,
          Project: p.oid,
          Owner: uid,
          ScheduleState: states[k % 4],
          PlanEstimate: k,
          Description: `<p>Only ${login} may read this.</p>`,
        },
        created(10),
      );
    }
  }
  seedTeamData(store, base, now, { alice, bob });
}
