import fc from 'fast-check';
import type { RallySandboxHandle } from '../../rally-sandbox/index.js';
import { QueryError, parseQuery, type QueryNode } from '../../rally-sandbox/query.js';
import { startSandbox, wsapi, type Json } from './support.js';

describe('query parser', () => {
  it('parses nested binary AND/OR with dotted paths and quoted values', () => {
    expect(parseQuery('(((State = Open) OR (State = Submitted)) AND (Owner.UserName = "alice@example.com"))')).toEqual({
      kind: 'bool',
      op: 'AND',
      left: {
        kind: 'bool',
        op: 'OR',
        left: { kind: 'cond', path: ['State'], op: '=', value: { text: 'Open', quoted: false } },
        right: { kind: 'cond', path: ['State'], op: '=', value: { text: 'Submitted', quoted: false } },
      },
      right: { kind: 'cond', path: ['Owner', 'UserName'], op: '=', value: { text: 'alice@example.com', quoted: true } },
    });
  });

  it.each([
    ['(Name contains "export")', 'contains'],
    ['(Name !contains export)', '!contains'],
    ['(ScheduleState in "Defined,In-Progress")', 'in'],
    ['(PlanEstimate >= 3)', '>='],
    ['(Owner != null)', '!='],
  ])('reads the operator of %s', (q, op) => {
    expect(parseQuery(q)).toMatchObject({ kind: 'cond', op });
  });

  it.each([
    ['(Name zobolts 3)', 'Unknown operator "zobolts"'],
    ['((A = 1) AND (B = 2) AND (C = 3))', 'expected ")" but saw "AND"'],
    ['(A = 1) AND (B = 2)', 'unexpected text'],
    ['(Name = two words)', 'expected ")" but saw "words"'],
    ['Name = x', 'expected "("'],
    ['((A = 1) XOR (B = 2))', 'expected "AND" or "OR"'],
    ['(Name = "unterminated)', 'unterminated'],
    ['(Name = )', 'expected a value'],
  ])('rejects %s', (q, message) => {
    expect(() => parseQuery(q)).toThrow(QueryError);
    expect(() => parseQuery(q)).toThrow(message);
  });

  it('round-trips any well-formed expression tree', () => {
    const cond = fc.record({
      kind: fc.constant('cond' as const),
      path: fc.array(fc.stringMatching(/^[A-Z][a-zA-Z]{0,6}$/), { minLength: 1, maxLength: 3 }),
      op: fc.constantFrom('=', '!=', '<', '<=', '>', '>=', 'contains', '!contains', 'in'),
      value: fc.record({ text: fc.stringMatching(/^[A-Za-z0-9 ,.-]{1,12}$/), quoted: fc.constant(true) }),
    });
    const tree = fc.letrec<{ node: QueryNode }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        cond,
        fc.record({
          kind: fc.constant('bool' as const),
          op: fc.constantFrom('AND' as const, 'OR' as const),
          left: tie('node'),
          right: tie('node'),
        }),
      ),
    })).node;
    const print = (n: QueryNode): string =>
      n.kind === 'bool'
        ? `(${print(n.left)} ${n.op} ${print(n.right)})`
        : `(${n.path.join('.')} ${n.op} "${n.value.text}")`;
    fc.assert(fc.property(tree, (t) => expect(parseQuery(print(t))).toEqual(t)));
  });
});

describe('WSAPI queries', () => {
  let sb: RallySandboxHandle;
  let alice: ReturnType<typeof wsapi>;
  beforeAll(async () => {
    sb = await startSandbox();
    alice = wsapi(sb, sb.issueTokens('alice').access_token);
  });
  afterAll(async () => sb.stop());

  const ids = (results: Json[]) => results.map((r) => r.FormattedID as string);
  const q = (type: string, query: string, extra: Record<string, string> = {}) =>
    alice.query(type, {
      query,
      fetch: 'FormattedID,Name,ScheduleState,State,Owner,Iteration,Blocked',
      pagesize: '2000',
      ...extra,
    });

  it('finds the current iteration relative to today', async () => {
    const it = await q('iteration', '((StartDate <= today) AND (EndDate >= today))');
    expect(it.results.map((r) => r.Name)).toEqual(['Sprint 42']);
    const stories = await q(
      'hierarchicalrequirement',
      '((Iteration.StartDate <= today) AND (Iteration.EndDate >= today))',
    );
    expect(stories.total).toBeGreaterThan(0);
    expect(stories.results.every((r) => r.Iteration._refObjectName === 'Sprint 42')).toBe(true);
    const future = await q('iteration', '(StartDate > today+7)');
    expect(future.results.map((r) => r.Name)).toEqual(['Sprint 43']);
  });

  it('compares ScheduleState by position', async () => {
    const early = await q('hierarchicalrequirement', '(ScheduleState < Completed)');
    expect(early.total).toBeGreaterThan(0);
    expect(new Set(early.results.map((r) => r.ScheduleState))).toEqual(new Set(['Defined', 'In-Progress']));
    const late = await q('hierarchicalrequirement', '(ScheduleState >= Completed)');
    expect(new Set(late.results.map((r) => r.ScheduleState))).toEqual(new Set(['Completed', 'Accepted']));
    const all = await q('hierarchicalrequirement', '(ObjectID > 0)');
    expect(early.total + late.total).toBe(all.total);
  });

  it('evaluates nested AND/OR', async () => {
    const r = await q('defect', '(((State = Open) OR (State = Submitted)) AND (Severity = "Major Problem"))', {
      fetch: 'FormattedID,State,Severity',
    });
    expect(r.total).toBeGreaterThan(0);
    for (const d of r.results) {
      expect(['Open', 'Submitted']).toContain(d.State);
      expect(d.Severity).toBe('Major Problem');
    }
  });

  it('supports in, contains and !contains', async () => {
    const inList = await q('hierarchicalrequirement', '(ScheduleState in "Defined,Accepted")');
    expect(new Set(inList.results.map((r) => r.ScheduleState))).toEqual(new Set(['Defined', 'Accepted']));
    const hit = await q('hierarchicalrequirement', '(Name contains "EXPORT")');
    expect(ids(hit.results)).toEqual(expect.arrayContaining(['US1', 'US9']));
    const miss = await q('hierarchicalrequirement', '(Name !contains "export")');
    expect(miss.results.some((r) => /export/i.test(r.Name as string))).toBe(false);
    expect(hit.total + miss.total).toBe((await q('hierarchicalrequirement', '(ObjectID > 0)')).total);
  });

  it('follows dotted paths, null, booleans and refs', async () => {
    const mine = await q(
      'hierarchicalrequirement',
      '((Owner.UserName = "alice@example.com") AND (ScheduleState < Accepted))',
    );
    expect(mine.total).toBeGreaterThan(0);
    expect(mine.results.every((r) => r.Owner._refObjectName === 'Alice Anders')).toBe(true);
    const unowned = await q('hierarchicalrequirement', '((Owner = null) AND (Blocked = true))');
    expect(unowned.results.every((r) => r.Owner === null && r.Blocked === true)).toBe(true);
    const sprint = (await q('iteration', '(Name = "Sprint 42")')).results[0] as Json;
    const oid = (sprint._ref as string).split('/').pop() as string;
    const rel = await q('hierarchicalrequirement', `(Iteration = /iteration/${oid})`);
    const abs = await q('hierarchicalrequirement', `(Iteration = ${sprint._ref as string})`);
    expect(rel.total).toBeGreaterThan(0);
    expect(ids(abs.results)).toEqual(ids(rel.results));
    const byId = await q('hierarchicalrequirement', '(FormattedID = US7)');
    expect(ids(byId.results)).toEqual(['US7']);
  });

  it.each([
    ['(Name zobolts 3)', 'Could not parse: Unknown operator "zobolts"'],
    [
      '((ScheduleState = Defined) AND (Blocked = true) AND (Ready = true))',
      'Could not parse: Error parsing expression -- expected ")" but saw "AND" instead.',
    ],
    [
      '(Bogus = 1)',
      'Could not parse: Could not find attribute "Bogus" on type HierarchicalRequirement in the query segment "Bogus"',
    ],
  ])('answers %s with a parse error envelope', async (query, message) => {
    const r = await alice.get(`/hierarchicalrequirement?query=${encodeURIComponent(query)}`);
    expect(r.status).toBe(200);
    expect(r.body.QueryResult).toEqual({
      _rallyAPIMajor: '2',
      _rallyAPIMinor: '0',
      Errors: [message],
      Warnings: [],
      TotalResultCount: 0,
      StartIndex: 0,
      PageSize: 0,
      Results: [],
    });
  });

  it('rejects order on an unknown attribute', async () => {
    const r = await alice.get('/defect?order=Bogus');
    expect(r.body.QueryResult.Errors).toEqual(['Cannot sort using unknown attribute Bogus']);
  });

  it('orders by FormattedID numerically, with Desc', async () => {
    const asc = await alice.query('defect', { fetch: 'FormattedID', order: 'FormattedID', pagesize: '200' });
    const desc = await alice.query('defect', { fetch: 'FormattedID', order: 'FormattedID desc', pagesize: '200' });
    expect(ids(asc.results).slice(0, 3)).toEqual(['DE1', 'DE2', 'DE3']);
    expect(ids(desc.results)).toEqual([...ids(asc.results)].reverse());
  });

  it('pages 1-based, echoes StartIndex/PageSize, and counts all matches', async () => {
    const all = await alice.query('hierarchicalrequirement', {
      fetch: 'FormattedID',
      order: 'FormattedID',
      pagesize: '2000',
    });
    const page1 = await alice.query('hierarchicalrequirement', { fetch: 'FormattedID', order: 'FormattedID' });
    expect(page1.body.QueryResult).toMatchObject({ StartIndex: 1, PageSize: 20, TotalResultCount: all.total });
    expect(page1.results).toHaveLength(20);
    const page2 = await alice.query('hierarchicalrequirement', {
      fetch: 'FormattedID',
      order: 'FormattedID',
      start: '21',
      pagesize: '20',
    });
    expect(page2.body.QueryResult).toMatchObject({ StartIndex: 21, PageSize: 20 });
    expect([...ids(page1.results), ...ids(page2.results)]).toEqual(ids(all.results).slice(0, 40));
    const huge = await alice.query('hierarchicalrequirement', { fetch: 'FormattedID', pagesize: '5000' });
    expect(huge.body.QueryResult.PageSize).toBe(2000);
    const beyond = await alice.query('hierarchicalrequirement', { start: String(all.total + 1) });
    expect(beyond.results).toEqual([]);
    expect(beyond.total).toBe(all.total);
  });

  it('returns shallow refs without fetch and ignores unknown fetch names', async () => {
    const shallow = await alice.query('defect', { pagesize: '1' });
    expect(Object.keys(shallow.results[0] as Json).sort()).toEqual([
      '_objectVersion',
      '_rallyAPIMajor',
      '_rallyAPIMinor',
      '_ref',
      '_refObjectName',
      '_refObjectUUID',
      '_type',
    ]);
    const odd = await alice.query('defect', { pagesize: '1', fetch: 'FormattedID,NoSuchField' });
    expect(odd.body.QueryResult.Errors).toEqual([]);
    expect(odd.results[0]).toHaveProperty('FormattedID');
    expect(odd.results[0]).not.toHaveProperty('NoSuchField');
  });

  it('treats type segments case-insensitively and reports unknown types', async () => {
    const a = await alice.query('HierarchicalRequirement', { pagesize: '1' });
    const b = await alice.query('hierarchicalrequirement', { pagesize: '1' });
    expect(a.total).toBe(b.total);
    const bad = await alice.get('/zobolt');
    expect(bad.body.QueryResult.Errors).toEqual(['Requested type name "zobolt" is unknown.']);
  });
});
