/**
 * Fidelity check against code no one here wrote: Rally's official Node toolkit
 * (npm `rally` 2.1.3, RallyTools/rally-node) runs against the in-process
 * sandbox. Every behaviour where the two disagreed is recorded in
 * docs/rally-api.md §8 with how it was resolved.
 */
import { createRequire } from 'node:module';
import type { RallySandboxHandle } from '../../rally-sandbox/index.js';
import { startSandbox, type Json } from './support.js';

interface RallyQuery {
  and(left: string, op: string, right: unknown): RallyQuery;
  or(left: string, op: string, right: unknown): RallyQuery;
  toQueryString(): string;
}
interface RallyError extends Error {
  readonly errors: readonly string[];
}
interface RallyClient {
  query(options: Json): Promise<Json>;
  get(options: Json): Promise<Json>;
  create(options: Json): Promise<Json>;
  update(options: Json): Promise<Json>;
  del(options: Json): Promise<Json>;
  add(options: Json): Promise<Json>;
  remove(options: Json): Promise<Json>;
}
interface RallyModule {
  (options: Json): RallyClient;
  util: { query: { where(left: string, op: string, right: unknown): RallyQuery } };
}

// The package is CommonJS (babel `add-module-exports`): require() gives the factory itself.
const rally = createRequire(import.meta.url)('rally') as RallyModule;
const { where } = rally.util.query;

describe('rally-node (npm rally 2.1.3) against the sandbox', () => {
  let sb: RallySandboxHandle;
  let api: RallyClient;
  beforeAll(async () => {
    sb = await startSandbox();
  });
  beforeEach(() => {
    sb.reset();
    api = rally({ server: sb.url, apiKey: sb.apiKey('alice') });
  });
  afterAll(async () => sb.stop());

  const rejection = async (p: Promise<unknown>): Promise<RallyError> => {
    try {
      await p;
    } catch (err) {
      return err as RallyError;
    }
    throw new Error('expected the toolkit to reject');
  };

  it('queries with fetch, a built filter, order and paging (limit over several pages)', async () => {
    const query = where('ScheduleState', '<', 'Accepted').and('Name', 'contains', 'e');
    const result = await api.query({
      type: 'hierarchicalrequirement',
      fetch: ['FormattedID', 'Name', 'ScheduleState', 'Owner'],
      query,
      order: 'FormattedID Desc,ObjectID',
      start: 1,
      pageSize: 3,
      limit: 7,
    });
    expect(result.Errors).toEqual([]);
    expect(result.Results).toHaveLength(7);
    expect(result.TotalResultCount).toBeGreaterThan(7);
    const pages = sb.requests().filter((r) => r.url.includes('/hierarchicalrequirement?'));
    expect(pages.map((r) => new URL(r.url, sb.url).searchParams.get('start'))).toEqual(['1', '4', '7']);
    for (const r of pages) expect(new URL(r.url, sb.url).searchParams.get('query')).toBe(query.toQueryString());
    const ids = (result.Results as Json[]).map((s) => s.FormattedID as string);
    expect([...ids].sort().reverse()).toEqual(ids);
    for (const s of result.Results as Json[]) {
      expect(s.ScheduleState).not.toBe('Accepted');
      expect(String(s.Name).toLowerCase()).toContain('e');
      expect(s).not.toHaveProperty('Description');
    }
  });

  it('scopes a query to a project and reads a collection by ref', async () => {
    const online = sb.items('project').find((p) => p.Name === 'Acme Online');
    const result = await api.query({
      type: 'defect',
      scope: { project: `/project/${String(online?.ObjectID)}`, up: false, down: false },
      fetch: 'FormattedID,Project',
      limit: 2000,
    });
    expect(result.Results.length).toBeGreaterThan(0);
    for (const d of result.Results as Json[]) expect(d.Project._refObjectName).toBe('Acme Online');
    const us1 = sb.items('hierarchicalrequirement').find((s) => s.FormattedID === 'US1');
    const tasks = await api.query({ ref: `/hierarchicalrequirement/${String(us1?.ObjectID)}/Tasks`, fetch: true });
    expect(tasks.TotalResultCount).toBeGreaterThan(0);
  });

  it('gets by ref, creates, updates and deletes (API key: no security token)', async () => {
    const created = await api.create({
      type: 'hierarchicalrequirement',
      data: { Name: 'Toolkit story', ScheduleState: 'Defined', PlanEstimate: 3 },
      fetch: ['FormattedID', 'Name'],
    });
    expect(created.Errors).toEqual([]);
    const ref = created.Object._ref as string;
    expect(created.Object.FormattedID).toMatch(/^US\d+$/);

    const got = await api.get({ ref, fetch: ['Name', 'PlanEstimate', 'ScheduleState'] });
    expect(got.Object).toMatchObject({ Name: 'Toolkit story', PlanEstimate: 3, ScheduleState: 'Defined' });

    const updated = await api.update({ ref, data: { ScheduleState: 'In-Progress' }, fetch: ['ScheduleState'] });
    expect(updated.Object.ScheduleState).toBe('In-Progress');

    await api.del({ ref });
    const gone = await rejection(api.get({ ref }));
    expect(gone.errors).toEqual(['Cannot find object to read']);
    expect(sb.requests().some((r) => r.url.includes('/security/authorize'))).toBe(false);
  });

  it('adds and removes tags through the collection endpoints', async () => {
    const us4 = sb.items('hierarchicalrequirement').find((s) => s.FormattedID === 'US4');
    const tag = sb.items('tag').find((t) => t.Name === 'ux');
    const ref = `/hierarchicalrequirement/${String(us4?.ObjectID)}`;
    const added = await api.add({ ref, collection: 'Tags', data: [{ _ref: `/tag/${String(tag?.ObjectID)}` }] });
    expect(added.Errors).toEqual([]);
    expect((added.Results as Json[]).map((t) => t._refObjectName)).toContain('ux');
    const stored = sb.items('hierarchicalrequirement').find((s) => s.FormattedID === 'US4')?.Tags as number[];
    expect(stored).toContain(tag?.ObjectID);
    expect((await api.get({ ref, fetch: ['Tags'] })).Object.Tags.Count).toBe(stored.length);
    await api.remove({ ref, collection: 'Tags', data: [{ _ref: `/tag/${String(tag?.ObjectID)}` }] });
    const after = sb.items('hierarchicalrequirement').find((s) => s.FormattedID === 'US4');
    expect(after?.Tags).not.toContain(tag?.ObjectID);
  });

  it('reads and updates a portfolio item by its two-segment ref, with a validated custom field', async () => {
    const features = await api.query({
      type: 'portfolioitem/feature',
      fetch: ['FormattedID', 'Name', 'PercentDoneByStoryCount', 'c_RiskLevel'],
      query: where('Name', '=', 'Checkout revamp'),
    });
    const ref = features.Results[0]._ref as string;
    expect(ref).toMatch(/\/portfolioitem\/feature\/\d+$/);
    const updated = await api.update({ ref, data: { c_RiskLevel: 'Low' }, fetch: ['c_RiskLevel'] });
    expect(updated.Object.c_RiskLevel).toBe('Low');
    const bad = await rejection(api.update({ ref, data: { c_RiskLevel: 'Sky-high' } }));
    expect(bad.errors[0]).toMatch(/^Validation error: PortfolioItem\/Feature\.c_RiskLevel has an invalid value/);
  });

  it('user name and password: Basic challenge, then the security token on every write', async () => {
    const basic = rally({ server: sb.url, user: 'alice@example.com', password: 'alice' });
    const created = await basic.create({ type: 'defect', data: { Name: 'Basic-auth defect' }, fetch: ['FormattedID'] });
    expect(created.Object.FormattedID).toMatch(/^DE\d+$/);
    const log = sb.requests();
    expect(log.some((r) => r.url.includes('/security/authorize') && r.status === 200)).toBe(true);
    const write = log.find((r) => r.method === 'POST' && r.url.includes('/defect/create') && r.status === 200);
    expect(new URL(write?.url ?? '/', sb.url).searchParams.get('key')).toMatch(/\S+/);
  });

  it('a Basic-auth write without the security token is refused like Rally', async () => {
    const auth = `Basic ${Buffer.from('alice:alice').toString('base64')}`;
    const res = await fetch(`${sb.url}/slm/webservice/v2.0/defect/create`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({ Defect: { Name: 'no key' } }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Json).CreateResult.Errors).toEqual(['Not authorized to perform action: Invalid key']);
  });

  it('rejects a query whose AND joins three operands, as Rally does, with HTTP 200 and Errors', async () => {
    const err = await rejection(
      api.query({ type: 'defect', query: '((State = Open) AND (Priority = Normal) AND (Severity = None))' }),
    );
    expect(err.errors).toHaveLength(1);
    expect(err.errors[0]).toMatch(/^Could not parse: /);
    const last = sb.requests().at(-1);
    expect(last?.status).toBe(200);
    const flat = await rejection(api.query({ type: 'defect', query: '(State = Open AND Priority = Normal)' }));
    expect(flat.errors[0]).toMatch(/^Could not parse: /);
  });

  it('surfaces a 401 (bad key) as an error, not a result', async () => {
    const bad = rally({ server: sb.url, apiKey: `_${'a'.repeat(41)}` });
    const err = await rejection(bad.query({ type: 'defect' }));
    expect(err.message).toMatch(/401/);
  });
});
