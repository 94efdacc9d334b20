/**
 * The project allowlist of a connection token at the Rally client (shared/rally/project-scope.ts),
 * against an in-memory Rally that records every call: what reaches Rally, and what never does.
 * Security cases O16–O21 (the end-to-end tests are in test/integration/connections/projects.test.ts).
 */
import type { QueryOptions, RallyClient } from '../../../shared/rally/client.js';
import { ProjectNotAllowedError, parseRef, scopeToProjects } from '../../../shared/rally/project-scope.js';
import type { QueryPage, RallyObject, RallyType } from '../../../shared/rally/types.js';

const ALLOWED = '100';
const OTHER = '200';

interface Call {
  readonly op: string;
  readonly type: string;
  readonly oid?: string;
  readonly options?: QueryOptions;
  readonly fields?: Readonly<Record<string, unknown>>;
}

const ref = (type: string, oid: string | number) => ({ _ref: `https://rally.test/slm/webservice/v2.0/${type}/${oid}` });

/** A tiny Rally: objects by ObjectID, queries return `results` as given (no evaluation: the guard's clause is asserted). */
function fakeRally(objects: Record<string, RallyObject & { _type: string }>, results: RallyObject[] = []) {
  const calls: Call[] = [];
  const page = (r: readonly RallyObject[]): QueryPage => ({
    totalResultCount: r.length,
    startIndex: 1,
    pageSize: 20,
    results: r,
    warnings: [],
  });
  const client: RallyClient = {
    principalKey: 'rally-user:1',
    async query(type, options) {
      calls.push({ op: 'query', type, ...(options ? { options } : {}) });
      return page(results);
    },
    async read(type, oid) {
      calls.push({ op: 'read', type, oid });
      const o = objects[oid];
      if (!o || o._type !== type) throw new Error(`no ${type} ${oid}`);
      return o;
    },
    async create(type, fields) {
      calls.push({ op: 'create', type, fields });
      return { ObjectID: 999, _ref: `/${type}/999` };
    },
    async update(type, oid, fields) {
      calls.push({ op: 'update', type, oid, fields });
      return { ObjectID: Number(oid) };
    },
    async collection(type, oid, name, options) {
      calls.push({ op: `collection:${name}`, type, oid, ...(options ? { options } : {}) });
      return page(results);
    },
    async editCollection(type, oid, name, op) {
      calls.push({ op: `${name}/${op}`, type, oid });
    },
    async currentUser() {
      calls.push({ op: 'currentUser', type: 'user' });
      return { ObjectID: 1 };
    },
  };
  return {
    client,
    calls,
    writes: () =>
      calls.filter((c) => !['query', 'read', 'currentUser'].includes(c.op) && !c.op.startsWith('collection')),
  };
}

const story = (oid: number, project: string) => ({
  _type: 'hierarchicalrequirement',
  ObjectID: oid,
  _ref: `/hierarchicalrequirement/${oid}`,
  Project: ref('project', project),
  RevisionHistory: ref('revisionhistory', oid + 5000),
});

const SEED = {
  '1': story(1, ALLOWED),
  '2': story(2, OTHER),
  '7': { _type: 'iteration', ObjectID: 7, Project: ref('project', OTHER) },
  '8': { _type: 'iteration', ObjectID: 8, Project: ref('project', ALLOWED) },
  '30': {
    _type: 'attachment',
    ObjectID: 30,
    Artifact: { ...ref('hierarchicalrequirement', 2), Project: ref('project', OTHER) },
    Content: ref('attachmentcontent', 31),
  },
  '40': {
    _type: 'attachment',
    ObjectID: 40,
    Artifact: { ...ref('hierarchicalrequirement', 1), Project: ref('project', ALLOWED) },
    Content: ref('attachmentcontent', 41),
  },
  '41': { _type: 'attachmentcontent', ObjectID: 41, Content: 'aGk=' },
  '31': { _type: 'attachmentcontent', ObjectID: 31, Content: 'aGk=' },
} satisfies Record<string, RallyObject & { _type: string }>;

const refused = (p: Promise<unknown>) => expect(p).rejects.toBeInstanceOf(ProjectNotAllowedError);

describe('scopeToProjects (a connection token’s project allowlist at the Rally client)', () => {
  it('O16: a list query is ANDed with the allowlist clause and fetches Project; a result outside stops the call', async () => {
    const rally = fakeRally(SEED, [story(1, ALLOWED)]);
    const scoped = scopeToProjects(rally.client, [ALLOWED, '101'], 'scoped');
    await scoped.query('defect', { query: '(Blocked = true)', fetch: ['ObjectID', 'Name'] });
    expect(rally.calls[0]?.options?.query).toBe(
      '((Blocked = true) AND ((Project = /project/100) OR (Project = /project/101)))',
    );
    expect(rally.calls[0]?.options?.fetch).toEqual(['ObjectID', 'Name', 'Project']);
    const leaky = fakeRally(SEED, [story(2, OTHER)]); // a Rally that ignored the clause
    await refused(scopeToProjects(leaky.client, [ALLOWED], 'scoped').query('hierarchicalrequirement', {}));
  });

  it('O16: projects themselves are narrowed by ObjectID; milestones by TargetProject', async () => {
    const rally = fakeRally(SEED);
    const scoped = scopeToProjects(rally.client, [ALLOWED], 'scoped');
    await scoped.query('project', { query: '(State = "Open")' });
    await scoped.query('milestone', {});
    expect(rally.calls.map((c) => c.options?.query)).toEqual([
      '((State = "Open") AND (ObjectID = 100))',
      '(TargetProject = /project/100)',
    ]);
  });

  it('O16: a project parameter outside the list is refused before anything reaches Rally', async () => {
    const rally = fakeRally(SEED);
    const scoped = scopeToProjects(rally.client, [ALLOWED], 'scoped');
    await refused(scoped.query('hierarchicalrequirement', { project: OTHER, projectScopeDown: true }));
    expect(rally.calls).toEqual([]);
  });

  it('O17: a lookup (one FormattedID or name) is not narrowed, and a match in another project is refused with the reason', async () => {
    const rally = fakeRally(SEED, [story(2, OTHER)]);
    const scoped = scopeToProjects(rally.client, [ALLOWED], 'scoped');
    const err = await scoped
      .query('hierarchicalrequirement', { query: '(FormattedID = "US2")', lookup: true, fetch: ['ObjectID'] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProjectNotAllowedError);
    expect((err as ProjectNotAllowedError).code).toBe('project_not_allowed');
    expect((err as ProjectNotAllowedError).rallyObject).toBe('hierarchicalrequirement/2');
    expect((err as ProjectNotAllowedError).publicMessage).toContain('Its projects (ObjectIDs): 100.');
    expect(rally.calls[0]?.options?.query).toBe('(FormattedID = "US2")');
  });

  it('O17: a read by ObjectID of an item in another project is refused; one inside is returned', async () => {
    const rally = fakeRally(SEED);
    const scoped = scopeToProjects(rally.client, [ALLOWED], 'scoped');
    await refused(scoped.read('hierarchicalrequirement', '2', ['Name']));
    await expect(scoped.read('hierarchicalrequirement', '1', ['Name'])).resolves.toMatchObject({ ObjectID: 1 });
    await refused(scoped.read('project', OTHER));
  });

  it('O18: an update, a tag change or a comment on an item in another project reads it first and writes nothing', async () => {
    const rally = fakeRally(SEED);
    const scoped = scopeToProjects(rally.client, [ALLOWED], 'scoped');
    await refused(scoped.update('hierarchicalrequirement', '2', { Name: 'x' }));
    await refused(scoped.editCollection('hierarchicalrequirement', '2', 'Tags', 'add', [{ type: 'tag', oid: '5' }]));
    await refused(scoped.create('conversationpost', { Artifact: '/hierarchicalrequirement/2', Text: 'x' }));
    expect(rally.writes()).toEqual([]);
    await scoped.update('hierarchicalrequirement', '1', { Name: 'ok' });
    expect(rally.writes().map((c) => `${c.op} ${c.type}/${c.oid ?? ''}`)).toEqual(['update hierarchicalrequirement/1']);
  });

  it('O18: a write that sets a ref into another project (an iteration) is refused before the write', async () => {
    const rally = fakeRally(SEED);
    const scoped = scopeToProjects(rally.client, [ALLOWED], 'scoped');
    await refused(scoped.update('hierarchicalrequirement', '1', { Iteration: '/iteration/7' }));
    await refused(
      scoped.update('hierarchicalrequirement', '1', {
        Iteration: 'https://rally.test/slm/webservice/v2.0/iteration/7',
      }),
    );
    await refused(scoped.update('hierarchicalrequirement', '1', { Parent: { _ref: '/hierarchicalrequirement/2' } }));
    await refused(scoped.update('hierarchicalrequirement', '1', { Release: 'not a ref' }));
    await scoped.update('hierarchicalrequirement', '1', { Iteration: null, Description: '<p>see /defect/2</p>' });
    await scoped.update('hierarchicalrequirement', '1', { Iteration: '/iteration/8', Owner: '/user/3' });
    expect(rally.writes().length).toBe(2);
  });

  it('O19: a create needs an allowed Project: none given, or another one, is refused and nothing is created', async () => {
    const rally = fakeRally(SEED);
    const scoped = scopeToProjects(rally.client, [ALLOWED], 'scoped');
    await refused(scoped.create('hierarchicalrequirement', { Name: 'x' }));
    await refused(scoped.create('defect', { Name: 'x', Project: `/project/${OTHER}` }));
    await refused(
      scoped.create('task', { Name: 'x', Project: '/project/100', WorkProduct: '/hierarchicalrequirement/2' }),
    );
    expect(rally.writes()).toEqual([]);
    await scoped.create('task', { Name: 'x', Project: '/project/100', WorkProduct: '/hierarchicalrequirement/1' });
    expect(rally.writes().length).toBe(1);
  });

  it('O17: an attachment is checked through its item; its content only after that', async () => {
    const rally = fakeRally(SEED);
    const scoped = scopeToProjects(rally.client, [ALLOWED], 'scoped');
    await refused(scoped.read('attachment', '30', ['Name']));
    await refused(scoped.read('attachmentcontent', '31'));
    await refused(scoped.read('attachmentcontent', '41')); // not reached through its attachment yet
    await scoped.read('attachment', '40', ['Name']);
    await expect(scoped.read('attachmentcontent', '41')).resolves.toMatchObject({ ObjectID: 41 });
  });

  it('O17: collections: tasks are narrowed; the discussion or history of an item outside is refused, inside passes', async () => {
    const rally = fakeRally(SEED);
    const scoped = scopeToProjects(rally.client, [ALLOWED], 'scoped');
    await scoped.collection('hierarchicalrequirement', '1', 'Tasks', { fetch: ['Name'] });
    const tasks = rally.calls.find((c) => c.op === 'collection:Tasks');
    expect(tasks?.options?.query).toBe('(Project = /project/100)');
    await refused(scoped.collection('hierarchicalrequirement', '2', 'Discussion', {}));
    await refused(scoped.collection('revisionhistory', '5002', 'Revisions', {}));
    await scoped.read('hierarchicalrequirement', '1', ['RevisionHistory']);
    await expect(scoped.collection('revisionhistory', '5001', 'Revisions', {})).resolves.toBeDefined();
  });

  it('O20: objects with no project pass; a tool declared `none` is refused anything with a project', async () => {
    const rally = fakeRally(SEED);
    const none = scopeToProjects(rally.client, [ALLOWED], 'none');
    await none.currentUser();
    await none.query('user', { query: '(UserName = "a")' });
    await none.query('typedefinition', {});
    expect(rally.calls.map((c) => c.options?.query)).toEqual([undefined, '(UserName = "a")', undefined]);
    await refused(none.read('hierarchicalrequirement', '1'));
    await refused(none.query('project', {}));
    await refused(none.create('hierarchicalrequirement', { Name: 'x', Project: '/project/100' }));
    expect(rally.writes()).toEqual([]);
  });

  it('O20: a type nobody classified is refused, and a post is only reached through its item', async () => {
    const rally = fakeRally(SEED);
    const scoped = scopeToProjects(rally.client, [ALLOWED], 'scoped');
    await refused(scoped.query('conversationpost', {}));
    await refused(scoped.read('somethingnew' as RallyType, '1'));
    expect(parseRef('/portfolioitem/feature/12')).toEqual({ type: 'portfolioitem/feature', oid: '12' });
    expect(parseRef({ _ref: 'https://rally.test/slm/webservice/v2.0/defect/7' })).toEqual({ type: 'defect', oid: '7' });
    expect(parseRef('/nonsense/7')).toBeUndefined();
  });
});
