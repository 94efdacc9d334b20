import type { RallySandboxHandle } from '../../rally-sandbox/index.js';
import {
  ALICE_PRIVATE_DEFECT,
  ALICE_PRIVATE_STORIES,
  CLOSED_PROJECT_STORY,
  HOSTILE_DEFECT,
  HOSTILE_STORIES,
  PROJECTS,
} from '../../rally-sandbox/seed.js';
import { HOSTILE_HTML } from '../../rally-sandbox/seed-html.js';
import { oidOf, startSandbox, wsapi, type Json } from './support.js';

const JETTY_401 = '<title>Error 401 Full authentication is required to access this resource</title>';

describe('WSAPI', () => {
  let sb: RallySandboxHandle;
  let alice: ReturnType<typeof wsapi>;
  let bob: ReturnType<typeof wsapi>;
  beforeAll(async () => {
    sb = await startSandbox();
  });
  beforeEach(() => {
    sb.reset();
    alice = wsapi(sb, sb.issueTokens('alice').access_token);
    bob = wsapi(sb, sb.issueTokens('bob').access_token);
  });
  afterAll(async () => sb.stop());

  const projectOid = (name: string) => sb.items('project').find((p) => p.Name === name)?.ObjectID as number;

  describe('authentication', () => {
    const get = (headers: Record<string, string>) => fetch(`${sb.url}/slm/webservice/v2.0/user`, { headers });

    it('accepts the token in a ZSESSIONID header, a zsessionid cookie, or as an API key', async () => {
      const { access_token } = sb.issueTokens('alice');
      for (const headers of <Record<string, string>[]>[
        { ZSESSIONID: access_token },
        { zsessionid: access_token },
        { cookie: `ZSESSIONID=${access_token}` },
        { zsessionid: sb.apiKey('bob') },
      ]) {
        const res = await get(headers);
        expect(res.status).toBe(200);
      }
      expect(sb.apiKey('alice')).toMatch(/^_[A-Za-z0-9]{41}$/);
      expect(((await (await get({ zsessionid: sb.apiKey('bob') })).json()) as Json).User.UserName).toBe(
        'bob@example.com',
      );
    });

    it.each([
      ['no credential', {}],
      ['an unknown token', { zsessionid: 'x'.repeat(42) }],
      ['an unknown API key', { zsessionid: `_${'a'.repeat(41)}` }],
      ['a Bearer header (not accepted by default)', { authorization: 'Bearer TOKEN' }],
    ])('answers 401 with the Jetty HTML page for %s', async (_label, headers) => {
      const h: Record<string, string> = { ...headers };
      if (h.authorization) h.authorization = `Bearer ${sb.issueTokens('alice').access_token}`;
      const res = await get(h);
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await res.text()).toContain(JETTY_401);
    });

    it('accepts Authorization: Bearer when acceptBearer is on', async () => {
      const other = await startSandbox({ acceptBearer: true });
      try {
        const res = await fetch(`${other.url}/slm/webservice/v2.0/user`, {
          headers: { authorization: `Bearer ${other.issueTokens('alice').access_token}` },
        });
        expect(res.status).toBe(200);
      } finally {
        await other.stop();
      }
    });

    it('returns the signed-in user with a UserProfile naming the default workspace and project', async () => {
      const me = (await alice.get('/user')).body.User as Json;
      expect(me).toMatchObject({
        _type: 'User',
        UserName: 'alice@example.com',
        DisplayName: 'Alice Anders',
        EmailAddress: 'alice@example.com',
        Errors: [],
        Warnings: [],
      });
      expect(me._ref).toMatch(new RegExp(`^${sb.url}/slm/webservice/v2\\.0/user/\\d{11,12}$`));
      const profile = (
        await alice.get(new URL(me.UserProfile._ref as string).pathname.replace('/slm/webservice/v2.0', ''))
      ).body.UserProfile as Json;
      expect(profile.DefaultWorkspace._refObjectName).toBe('Acme Workspace');
      expect(profile.DefaultProject._refObjectName).toBe(PROJECTS.online);
      const nested = (await alice.get('/user?fetch=UserName,UserProfile[DefaultWorkspace;DefaultProject]')).body
        .User as Json;
      expect(nested.UserProfile.DefaultProject._refObjectName).toBe(PROJECTS.online);
    });
  });

  describe('read', () => {
    it('wraps the object in its type name with Errors and Warnings inside', async () => {
      const oid = await oidOf(sb, 'DE1');
      const r = await alice.get(`/Defect/${oid}`);
      const d = r.body.Defect as Json;
      expect(Object.keys(r.body)).toEqual(['Defect']);
      expect(d).toMatchObject({
        _rallyAPIMajor: '2',
        _rallyAPIMinor: '0',
        _ref: `${sb.url}/slm/webservice/v2.0/defect/${oid}`,
        _type: 'Defect',
        _objectVersion: '1',
        ObjectID: oid,
        FormattedID: 'DE1',
        Name: 'Export drops owner',
        Errors: [],
        Warnings: [],
      });
      expect(d._refObjectUUID).toMatch(/^[0-9a-f-]{36}$/);
      expect(d.CreationDate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(d.Tasks).toEqual({
        _rallyAPIMajor: '2',
        _rallyAPIMinor: '0',
        _ref: `${sb.url}/slm/webservice/v2.0/Defect/${oid}/Tasks`,
        _type: 'Task',
        Count: 1,
      });
      expect(d.Tags._tagsNameArray).toEqual([{ Name: 'customer', _ref: expect.stringMatching(/^\/tag\/\d+$/) }]);
    });

    it('uses null for unset refs and "None" for unset drop-downs', async () => {
      const d = (await alice.get(`/defect/${await oidOf(sb, 'DE5')}`)).body.Defect as Json;
      expect(d.Severity).toBe('None');
      expect(d.Priority).toBe('None');
      expect(d.Iteration).toBeNull();
      const d4 = (await alice.get(`/defect/${await oidOf(sb, 'DE4')}`)).body.Defect as Json;
      expect(d4.Release).toBeNull();
      expect(d4.Requirement).toMatchObject({
        _type: 'HierarchicalRequirement',
        _refObjectName: 'Onboarding wizard: three screens',
      });
    });

    it('answers Cannot find object to read for missing, wrong-type and invisible objects', async () => {
      const missing = {
        OperationResult: {
          _rallyAPIMajor: '2',
          _rallyAPIMinor: '0',
          Errors: ['Cannot find object to read'],
          Warnings: [],
        },
      };
      expect((await alice.get('/defect/123456789012')).body).toEqual(missing);
      expect((await alice.get(`/defect/${await oidOf(sb, 'US1')}`)).body).toEqual(missing);
      const priv = await bob.get(`/hierarchicalrequirement/${await oidOf(sb, ALICE_PRIVATE_STORIES[0])}`);
      expect(priv.status).toBe(200);
      expect(priv.body).toEqual(missing);
    });

    it('reads collections as QueryResults', async () => {
      const us1 = await oidOf(sb, 'US1');
      const children = await alice.get(`/HierarchicalRequirement/${us1}/Children?fetch=FormattedID`);
      expect(children.body.QueryResult.Results.map((r: Json) => r.FormattedID)).toEqual(['US2', 'US3']);
      const tasks = await alice.get(`/hierarchicalrequirement/${us1}/tasks?fetch=FormattedID,WorkProduct`);
      expect(tasks.body.QueryResult.TotalResultCount).toBe(2);
      const discussion = await alice.get(
        `/hierarchicalrequirement/${us1}/Discussion?fetch=Text,User,PostNumber&order=PostNumber`,
      );
      expect(discussion.body.QueryResult.Results.map((p: Json) => p.User._refObjectName)).toEqual([
        'Alice Anders',
        'Bob Brennan',
      ]);
      const defects = await alice.get(`/hierarchicalrequirement/${us1}/Defects?fetch=FormattedID`);
      expect(defects.body.QueryResult.Results.map((r: Json) => r.FormattedID)).toEqual(['DE1']);
    });
  });

  describe('create, update, delete', () => {
    it('creates with a case-insensitive wrapper and returns a trimmed CreateResult', async () => {
      const project = projectOid(PROJECTS.online);
      const r = await alice.post('/hierarchicalrequirement/create', {
        hierarchicalrequirement: { Name: 'New story', Project: `/project/${project}` },
      });
      const obj = r.body.CreateResult.Object as Json;
      expect(r.body.CreateResult).toMatchObject({ _rallyAPIMajor: '2', _rallyAPIMinor: '0', Errors: [], Warnings: [] });
      expect(obj).toMatchObject({
        _refObjectName: 'New story',
        _CreatedAt: 'just now',
        _objectVersion: '1',
        VersionId: '1',
        _type: 'HierarchicalRequirement',
      });
      expect(typeof obj.ObjectID).toBe('number');
      expect(obj).not.toHaveProperty('FormattedID');
      const stored = sb.items('hierarchicalrequirement').find((i) => i.ObjectID === obj.ObjectID) as Json;
      expect(stored).toMatchObject({
        Name: 'New story',
        ScheduleState: 'Defined',
        Project: project,
        FormattedID: 'US39',
      });
    });

    it('honours fetch on create and accepts refs as object or absolute URL', async () => {
      const usOid = await oidOf(sb, 'US4');
      const r = await alice.put('/task/create?fetch=FormattedID,Name,WorkProduct,Project,State', {
        Task: {
          Name: 'Write tests',
          WorkProduct: { _ref: `${sb.url}/slm/webservice/v2.0/hierarchicalrequirement/${usOid}` },
        },
      });
      const obj = r.body.CreateResult.Object as Json;
      expect(r.body.CreateResult.Errors).toEqual([]);
      expect(obj).toMatchObject({
        FormattedID: expect.stringMatching(/^TA\d+$/),
        Name: 'Write tests',
        State: 'Defined',
        _CreatedAt: 'just now',
      });
      expect(obj.WorkProduct._ref).toBe(`${sb.url}/slm/webservice/v2.0/hierarchicalrequirement/${usOid}`);
      expect(obj.Project._refObjectName).toBe(PROJECTS.online);
    });

    it('updates changed fields only and honours fetch', async () => {
      const oid = await oidOf(sb, 'DE2');
      const r = await alice.post(`/defect/${oid}?fetch=State,Severity`, {
        Defect: { State: 'Fixed', Owner: '/user/' + String(sb.items('user')[1]?.ObjectID) },
      });
      expect(r.body.OperationResult.Errors).toEqual([]);
      const obj = r.body.OperationResult.Object as Json;
      expect(obj).toMatchObject({ State: 'Fixed', Severity: 'Minor Problem', _objectVersion: '2', _type: 'Defect' });
      expect(obj).not.toHaveProperty('Name');
      expect(sb.items('defect').find((d) => d.ObjectID === oid)).toMatchObject({
        State: 'Fixed',
        Name: 'Checkout total off by one cent',
      });
      const full = await alice.put(`/defect/${oid}`, { defect: { Priority: 'Low' } });
      expect(full.body.OperationResult.Object).toMatchObject({
        Priority: 'Low',
        State: 'Fixed',
        Name: 'Checkout total off by one cent',
      });
    });

    it('warns about unknown attributes instead of failing', async () => {
      const r = await alice.post(`/defect/${await oidOf(sb, 'DE3')}?fetch=Name`, {
        Defect: { Name: 'Renamed', c_NoSuchField: 1 },
      });
      expect(r.body.OperationResult.Errors).toEqual([]);
      expect(r.body.OperationResult.Warnings).toEqual([
        'Ignored JSON element Defect.c_NoSuchField during processing of this request.',
      ]);
    });

    it('deletes, and reports deleting or updating a missing object', async () => {
      const oid = await oidOf(sb, 'US5');
      const tasksBefore = sb.items('task').filter((t) => t.WorkProduct === oid).length;
      expect(tasksBefore).toBe(2);
      expect((await alice.del(`/hierarchicalrequirement/${oid}`)).body).toEqual({
        OperationResult: { _rallyAPIMajor: '2', _rallyAPIMinor: '0', Errors: [], Warnings: [] },
      });
      expect(sb.items('task').filter((t) => t.WorkProduct === oid)).toEqual([]);
      expect((await alice.del(`/hierarchicalrequirement/${oid}`)).body.OperationResult.Errors).toEqual([
        'Object to delete cannot be null',
      ]);
      expect(
        (await alice.post(`/hierarchicalrequirement/${oid}`, { HierarchicalRequirement: { Name: 'x' } })).body
          .OperationResult.Errors,
      ).toEqual([`Could not read: Could not read HierarchicalRequirement ${oid} to update.`]);
    });

    it.each([
      [
        'an unknown ScheduleState',
        { HierarchicalRequirement: { Name: 'x', ScheduleState: 'Done' } },
        /^Validation error: HierarchicalRequirement\.ScheduleState has an invalid value "Done"/,
      ],
      [
        'a missing Name',
        { HierarchicalRequirement: { PlanEstimate: 3 } },
        /^Validation error: HierarchicalRequirement\.Name should not be null$/,
      ],
      [
        'a non-numeric PlanEstimate',
        { HierarchicalRequirement: { Name: 'x', PlanEstimate: 'big' } },
        /^Validation error: HierarchicalRequirement\.PlanEstimate must be a number/,
      ],
      [
        'a Description over 32 KB',
        { HierarchicalRequirement: { Name: 'x', Description: 'a'.repeat(32_769) } },
        /^Validation error: HierarchicalRequirement\.Description exceeds the maximum length of 32768/,
      ],
      [
        'a ref to a missing object',
        { HierarchicalRequirement: { Name: 'x', Iteration: '/iteration/1' } },
        /^Could not read: Could not read referenced object \/iteration\/1$/,
      ],
      [
        'invalid JSON',
        '{"HierarchicalRequirement": {',
        /^Cannot parse input stream due to I\/O error as JSON document/,
      ],
    ])('refuses to create with %s (HTTP 200 + Errors)', async (_label, body, message) => {
      const before = sb.items('hierarchicalrequirement').length;
      const r = await alice.post('/hierarchicalrequirement/create', body);
      expect(r.status).toBe(200);
      expect(r.body.CreateResult.Errors).toEqual([expect.stringMatching(message)]);
      expect(r.body.CreateResult).not.toHaveProperty('Object');
      expect(sb.items('hierarchicalrequirement')).toHaveLength(before);
    });

    it('requires a WorkProduct on tasks', async () => {
      const r = await alice.post('/task/create', { Task: { Name: 'orphan' } });
      expect(r.body.CreateResult.Errors).toEqual(['Validation error: Task.WorkProduct should not be null']);
    });

    it('posts to a discussion', async () => {
      const oid = await oidOf(sb, 'DE1');
      const r = await bob.post('/conversationpost/create?fetch=PostNumber,User,Artifact', {
        ConversationPost: { Artifact: `/defect/${oid}`, Text: '<p>Seen again today.</p>' },
      });
      expect(r.body.CreateResult.Object).toMatchObject({ PostNumber: 1, User: { _refObjectName: 'Bob Brennan' } });
    });

    it('numbers FormattedIDs with configurable prefixes', async () => {
      const other = await startSandbox({ formattedIdPrefixes: { hierarchicalrequirement: 'S', defect: 'D' } });
      try {
        expect(other.items('hierarchicalrequirement')[0]?.FormattedID).toBe('S1');
        const c = wsapi(other, other.issueTokens('alice').access_token);
        const r = await c.post('/defect/create?fetch=FormattedID', { Defect: { Name: 'New bug' } });
        expect(r.body.CreateResult.Object.FormattedID).toBe(`D${other.items('defect').length}`);
      } finally {
        await other.stop();
      }
    });
  });

  describe('permissions', () => {
    it("silently omits alice's private items from bob's queries", async () => {
      const all = await bob.query('hierarchicalrequirement', { fetch: 'FormattedID,Name', pagesize: '2000' });
      expect(
        all.results.some((r) => (ALICE_PRIVATE_STORIES as readonly string[]).includes(r.FormattedID as string)),
      ).toBe(false);
      expect(all.results.some((r) => /alice private/i.test(r.Name as string))).toBe(false);
      const mine = await alice.query('hierarchicalrequirement', {
        query: '(Name contains "Alice private")',
        fetch: 'FormattedID',
      });
      expect(mine.results.map((r) => r.FormattedID)).toEqual([...ALICE_PRIVATE_STORIES]);
      const d = await bob.query('defect', { query: `(FormattedID = ${ALICE_PRIVATE_DEFECT})` });
      expect(d.total).toBe(0);
    });

    it("refuses bob's create in alice's private project and update in a read-only project", async () => {
      const priv = projectOid(PROJECTS.alicePrivate);
      const c = await bob.post('/hierarchicalrequirement/create', {
        HierarchicalRequirement: { Name: 'sneaky', Project: `/project/${priv}` },
      });
      expect(c.status).toBe(200);
      expect(c.body.CreateResult.Errors).toEqual(['Not authorized to create: HierarchicalRequirement']);
      const mobileStory = await oidOf(sb, 'US19');
      const u = await bob.post(`/hierarchicalrequirement/${mobileStory}`, {
        HierarchicalRequirement: { Name: 'renamed' },
      });
      expect(u.body.OperationResult.Errors).toEqual([
        `Not authorized to update: HierarchicalRequirement ${mobileStory}`,
      ]);
      const del = await bob.del(`/hierarchicalrequirement/${mobileStory}`);
      expect(del.body.OperationResult.Errors).toEqual([
        `Not authorized to delete: HierarchicalRequirement ${mobileStory}`,
      ]);
      const privStory = await oidOf(sb, ALICE_PRIVATE_STORIES[0]);
      const hidden = await bob.post(`/hierarchicalrequirement/${privStory}`, {
        HierarchicalRequirement: { Name: 'renamed' },
      });
      expect(hidden.body.OperationResult.Errors).toEqual([
        `Could not read: Could not read HierarchicalRequirement ${privStory} to update.`,
      ]);
      expect(sb.items('hierarchicalrequirement').find((s) => s.ObjectID === privStory)?.Name).toBe(
        'Alice private: salary review tool',
      );
    });

    it('answers 403 for a closed project and for a project the user was not granted', async () => {
      const closed = await alice.get(`/hierarchicalrequirement/${await oidOf(sb, CLOSED_PROJECT_STORY)}`);
      expect(closed.status).toBe(403);
      const scoped = await alice.get(`/defect?project=/project/${projectOid(PROJECTS.archive)}`);
      expect(scoped.status).toBe(403);
      const notGranted = await bob.get(`/defect?project=/project/${projectOid(PROJECTS.alicePrivate)}`);
      expect(notGranted.status).toBe(403);
      const all = await alice.query('hierarchicalrequirement', { query: `(FormattedID = ${CLOSED_PROJECT_STORY})` });
      expect(all.total).toBe(0);
    });

    it('scopes queries by project with projectScopeUp/Down', async () => {
      const online = `/project/${projectOid(PROJECTS.online)}`;
      const down = await alice.query('hierarchicalrequirement', {
        project: online,
        projectScopeDown: 'true',
        projectScopeUp: 'false',
        fetch: 'Project',
        pagesize: '2000',
      });
      const only = await alice.query('hierarchicalrequirement', {
        project: online,
        projectScopeDown: 'false',
        projectScopeUp: 'false',
        fetch: 'Project',
        pagesize: '2000',
      });
      expect(new Set(down.results.map((r) => r.Project._refObjectName))).toEqual(
        new Set([PROJECTS.online, PROJECTS.mobile]),
      );
      expect(new Set(only.results.map((r) => r.Project._refObjectName))).toEqual(new Set([PROJECTS.online]));
      const up = await alice.query('hierarchicalrequirement', {
        project: `/project/${projectOid(PROJECTS.mobile)}`,
        projectScopeDown: 'false',
        projectScopeUp: 'true',
        pagesize: '1',
      });
      expect(up.total).toBe(down.total);
    });
  });

  describe('seed', () => {
    it('has at least 20 stories and 10 defects, iterations and releases around today', () => {
      expect(sb.items('hierarchicalrequirement').length).toBeGreaterThanOrEqual(20);
      expect(sb.items('defect').length).toBeGreaterThanOrEqual(10);
      expect(sb.items('iteration').map((i) => i.Name)).toEqual(['Sprint 41', 'Sprint 42', 'Sprint 43']);
      expect(sb.items('release')).toHaveLength(3);
    });

    it('puts the hostile markup where HOSTILE_STORIES and HOSTILE_DEFECT say', () => {
      const stories = sb.items('hierarchicalrequirement');
      const byId = (id: string) => stories.find((s) => s.FormattedID === id) as Json;
      for (const [kind, id] of Object.entries(HOSTILE_STORIES)) {
        expect(byId(id).Name).toBe(`Hostile content: ${kind}`);
        if (kind !== 'huge') expect(byId(id).Description).toBe(HOSTILE_HTML[kind as keyof typeof HOSTILE_HTML]);
      }
      expect(Buffer.byteLength(byId(HOSTILE_STORIES.huge).Description as string)).toBeGreaterThanOrEqual(1_000_000);
      const defect = sb.items('defect').find((d) => d.FormattedID === HOSTILE_DEFECT) as Json;
      expect(defect.Description).toContain('<script>');
      expect(defect.Description).toContain('display:none');
      expect(HOSTILE_HTML.unicodeTags).toMatch(/[\u{E0000}-\u{E007F}]/u);
    });

    it('adds extra users with private projects and named stories', async () => {
      const other = await startSandbox({ extraUsers: 3 });
      try {
        const u2 = wsapi(other, other.issueTokens('user002').access_token);
        const r = await u2.query('hierarchicalrequirement', { fetch: 'Name', pagesize: '2000' });
        expect(r.total).toBe(3);
        expect(r.results.every((s) => (s.Name as string).includes('user002'))).toBe(true);
        expect((await u2.get('/user')).body.User.UserName).toBe('user002@example.com');
      } finally {
        await other.stop();
      }
    });

    it('reset() restores the seed and forgets tokens', async () => {
      const token = sb.issueTokens('alice').access_token;
      await wsapi(sb, token).del(`/defect/${await oidOf(sb, 'DE1')}`);
      expect(sb.items('defect').some((d) => d.FormattedID === 'DE1')).toBe(false);
      sb.reset();
      expect(sb.items('defect').some((d) => d.FormattedID === 'DE1')).toBe(true);
      expect((await wsapi(sb, token).get('/user')).status).toBe(401);
    });
  });
});
