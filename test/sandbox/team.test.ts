/**
 * The sandbox's team objects (issue 17): type and attribute definitions with
 * custom fields, portfolio items and rollups, milestones, capacity, test cases
 * and results, attachments and revision history, each behind project visibility.
 */
import type { RallySandboxHandle } from '../../rally-sandbox/index.js';
import { BIG_ATTACHMENT, HOSTILE_ATTACHMENT } from '../../rally-sandbox/seed-team.js';
import { oidOf, startSandbox, wsapi, type Json } from './support.js';

describe('team objects', () => {
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

  it('discovers portfolio levels and custom fields with allowed values from TypeDefinition/AttributeDefinition', async () => {
    const levels = await alice.query('typedefinition', {
      query: '((TypePath contains "PortfolioItem/") AND (Ordinal >= 0))',
      order: 'Ordinal',
      fetch: 'TypePath,ElementName,Ordinal,IDPrefix',
    });
    expect(levels.results.map((t) => t.TypePath)).toEqual(['PortfolioItem/Feature', 'PortfolioItem/Initiative']);
    const story = (
      await alice.query('typedefinition', { query: '(TypePath = HierarchicalRequirement)', fetch: 'Attributes' })
    ).results[0] as Json;
    const attrs = await alice.get(
      `${new URL(story.Attributes._ref as string).pathname.replace('/slm/webservice/v2.0', '')}?query=(Custom = true)&fetch=ElementName,AttributeType,AllowedValues,Constrained`,
    );
    const custom = attrs.body.QueryResult.Results as Json[];
    expect(custom.map((a) => a.ElementName).sort()).toEqual(['c_CustomerImpact', 'c_RiskLevel']);
    const risk = custom.find((a) => a.ElementName === 'c_RiskLevel') as Json;
    expect(risk.Constrained).toBe(true);
    const values = await alice.get(
      `${new URL(risk.AllowedValues._ref as string).pathname.replace('/slm/webservice/v2.0', '')}?fetch=StringValue`,
    );
    expect((values.body.QueryResult.Results as Json[]).map((v) => v.StringValue)).toEqual([
      '',
      'Low',
      'Medium',
      'High',
    ]);
  });

  it('validates a custom drop-down on write and records the change in the revision history', async () => {
    const oid = await oidOf(sb, 'US5');
    const bad = await alice.post(`/hierarchicalrequirement/${oid}`, {
      HierarchicalRequirement: { c_RiskLevel: 'Huge' },
    });
    expect(bad.body.OperationResult.Errors[0]).toMatch(/c_RiskLevel has an invalid value "Huge"/);
    const ok = await alice.post(`/hierarchicalrequirement/${oid}?fetch=c_RiskLevel,RevisionHistory`, {
      HierarchicalRequirement: { c_RiskLevel: 'High', Blocked: true, BlockedReason: 'Vendor' },
    });
    expect(ok.body.OperationResult.Object.c_RiskLevel).toBe('High');
    const history = new URL(ok.body.OperationResult.Object.RevisionHistory._ref as string).pathname.split('/').at(-1);
    const revs = await alice.get(
      `/revisionhistory/${String(history)}/Revisions?fetch=RevisionNumber,Description&order=RevisionNumber`,
    );
    const texts = (revs.body.QueryResult.Results as Json[]).map((r) => r.Description as string);
    expect(texts[0]).toBe('Original revision');
    expect(texts.at(-1)).toMatch(/RISK LEVEL added \[High\]/);
    expect(texts.at(-1)).toMatch(/BLOCKED changed from \[false\] to \[true\]/);
  });

  it('serves portfolio items at portfolioitem/<level> with rollups from leaf stories', async () => {
    const features = await alice.query('portfolioitem/feature', {
      query: '(Name = "Checkout revamp")',
      fetch: 'FormattedID,PercentDoneByStoryCount,LeafStoryCount,AcceptedLeafStoryCount,State,Parent,UserStories',
    });
    const f = features.results[0] as Json;
    expect(f._type).toBe('PortfolioItem/Feature');
    expect(f.FormattedID).toMatch(/^F\d+$/);
    expect(f.LeafStoryCount).toBe(5);
    expect(f.PercentDoneByStoryCount).toBeCloseTo(f.AcceptedLeafStoryCount / 5);
    expect(f.State._type).toBe('State');
    expect(f.Parent._type).toBe('PortfolioItem/Initiative');
    const oid = new URL(f._ref as string).pathname.split('/').at(-1);
    const init = await alice.get(
      `/portfolioitem/initiative/${new URL(f.Parent._ref as string).pathname.split('/').at(-1)}?fetch=LeafStoryCount,Children`,
    );
    expect(init.body.PortfolioItem_Initiative ?? init.body['PortfolioItem/Initiative']).toBeDefined();
    expect(await alice.get(`/portfolioitem/feature/${String(oid)}/UserStories`)).toMatchObject({ status: 200 });
    const bobSees = await bob.query('portfolioitem/feature', { query: '(Name contains "Alice private")' });
    expect(bobSees.total).toBe(0);
  });

  it('creates a test case result (Build and Date required) and updates LastVerdict', async () => {
    const tc = (
      await alice.query('testcase', { query: '(Name = "Export includes the owner column")', fetch: 'LastVerdict' })
    ).results[0] as Json;
    expect(tc.LastVerdict).toBe('Pass');
    const missing = await alice.post('/testcaseresult/create', {
      TestCaseResult: { TestCase: tc._ref, Verdict: 'Fail' },
    });
    expect(missing.body.CreateResult.Errors).toEqual(
      expect.arrayContaining(['Validation error: TestCaseResult.Build should not be null']),
    );
    const made = await alice.post('/testcaseresult/create', {
      TestCaseResult: { TestCase: tc._ref, Verdict: 'Fail', Build: '2025.4.9', Date: new Date().toISOString() },
    });
    expect(made.body.CreateResult.Errors).toEqual([]);
    const again = (
      await alice.query('testcase', { query: '(Name = "Export includes the owner column")', fetch: 'LastVerdict' })
    ).results[0] as Json;
    expect(again.LastVerdict).toBe('Fail');
  });

  it('lists attachments and serves their content base64-encoded, only where the project is visible', async () => {
    const us2 = await oidOf(sb, 'US2');
    const list = await alice.get(`/hierarchicalrequirement/${us2}/Attachments?fetch=Name,Size,ContentType,Content`);
    const big = (list.body.QueryResult.Results as Json[]).find((a) => a.Name === BIG_ATTACHMENT) as Json;
    expect(big.Size).toBeGreaterThan(200_000);
    const content = await alice.get(new URL(big.Content._ref as string).pathname.replace('/slm/webservice/v2.0', ''));
    expect(Buffer.from(content.body.AttachmentContent.Content as string, 'base64').length).toBe(big.Size);
    const de11 = await oidOf(sb, 'DE11');
    const hostile = await bob.get(`/defect/${de11}/Attachments?fetch=Name`);
    expect((hostile.body.QueryResult.Results as Json[]).map((a) => a.Name)).toContain(HOSTILE_ATTACHMENT);
    const priv = sb.items('attachment').find((a) => a.Name === 'salary-bands.txt') as Json;
    expect((await bob.get(`/attachment/${String(priv.ObjectID)}`)).body.OperationResult.Errors).toEqual([
      'Cannot find object to read',
    ]);
    expect((await bob.get(`/attachmentcontent/${String(priv.Content)}`)).body.OperationResult.Errors).toEqual([
      'Cannot find object to read',
    ]);
  });

  it('serves milestones and per-user iteration capacity with task estimates', async () => {
    const ms = await alice.query('milestone', { fetch: 'Name,TargetDate,FormattedID', order: 'TargetDate' });
    expect(ms.results.map((m) => m.Name)).toEqual(['Checkout beta', 'Spring GA']);
    const caps = await alice.query('useriterationcapacity', {
      query: '(Iteration.Name = "Sprint 42")',
      fetch: 'User,Capacity,TaskEstimates',
    });
    expect(caps.results).toHaveLength(2);
    for (const c of caps.results) expect(typeof c.TaskEstimates).toBe('number');
  });
});
