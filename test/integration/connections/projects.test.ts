/**
 * A connection token's project allowlist (issue 18) over real HTTP against the local stack and the
 * Rally sandbox: chosen on the /connections page after a real Rally sign-in, stored as canonical
 * refs, and enforced on /mcp and /tools/<tool> by the one execution path. Alice's tokens here may
 * use only "Alice Private" (her default project, Acme Online, is outside). Security cases O16–O23.
 */
import { CookieJar } from '../../helpers/oauth-flow.js';
import { depsFor, sandboxOf, startTestStack, wsapi, type TestStack } from '../../helpers/stack.js';
import { callWithHeaders, createToken, openConsole, postForm, signInToConsole } from '../../helpers/connections.js';
import { listConnectionTokens } from '../../../shared/store/connection-tokens.repo.js';

const ALICE = 'alice@example.com';
const PRIVATE = 'Alice Private';
const plain = (token: string) => ({ 'X-Rally-MCP-Token': token });
const REFUSED = /^This connection token may use only some Rally projects/;

describe('connection tokens limited to projects (issue 18, O16–O23)', () => {
  let stack: TestStack;
  let alice: CookieJar;
  let reader: { token: string; id: string };
  let writer: { token: string; id: string };
  beforeAll(async () => {
    stack = await startTestStack();
    alice = await signInToConsole(stack.url, 'alice');
    reader = await createToken(stack.url, alice, { name: 'Reader of Alice Private', projects: [PRIVATE] });
    writer = await createToken(stack.url, alice, { name: 'Writer', write: true, projects: [PRIVATE] });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const rally = () => sandboxOf(stack);
  const project = (name: string) =>
    String(
      rally()
        .items('project')
        .find((p) => p.Name === name)!.ObjectID,
    );
  const story = (fid: string) =>
    rally()
      .items('hierarchicalrequirement')
      .find((s) => s.FormattedID === fid)!;
  const rallyWrites = () => wsapi(stack).filter((r) => r.method !== 'GET');
  const audits = (event: string, needle: string) =>
    stack.logs.filter((l) => l.includes(`"event":"${event}"`) && l.includes(needle));
  const call = async (token: string, tool: string, args: Record<string, unknown> = {}) => {
    const res = await callWithHeaders(stack.url, plain(token), tool, args);
    expect(res.status).toBe(200);
    return res.json.result as {
      isError?: boolean;
      structuredContent?: Record<string, unknown>;
      content: { text: string }[];
    };
  };

  it('O16: list tools return only the allowed projects’ items (search, projects), and a project outside the list is refused', async () => {
    const found = await call(reader.token, 'search_rally_items', { types: ['story', 'defect'], pageSize: 50 });
    expect(found.isError).toBeFalsy();
    const mine = new Set(
      ['hierarchicalrequirement', 'defect']
        .flatMap((t) => rally().items(t))
        .filter((i) => String(i.Project) === project(PRIVATE))
        .map((i) => i.FormattedID),
    );
    const items = (found.structuredContent!.items as { formattedId: string }[]).map((i) => i.formattedId);
    expect(items.length).toBeGreaterThan(0);
    for (const id of items) expect(mine).toContain(id);
    const projects = await call(reader.token, 'list_rally_projects');
    expect((projects.structuredContent!.projects as { objectId: string }[]).map((p) => p.objectId)).toEqual([
      project(PRIVATE),
    ]);
    const elsewhere = await call(reader.token, 'search_rally_items', { project: 'Acme Online' });
    expect(elsewhere.isError).toBe(true);
    expect(elsewhere.content[0]!.text).toMatch(REFUSED);
  });

  it('O17: a by-id read of an item in another project is refused (policy_denied, audited, same on REST); its own project’s item reads', async () => {
    const refused = await call(reader.token, 'get_rally_issue', { id: 'US1' });
    expect(refused.isError).toBe(true);
    expect(refused.content[0]!.text).toMatch(REFUSED);
    expect(JSON.stringify(refused)).not.toContain(String(story('US1').Name)); // none of its data
    const line = audits('policy_denied', `"connectionTokenId":"${reader.id}"`).join('\n');
    expect(line).toContain('"reason":"connection_token_projects"');
    expect(line).toContain('"errCode":"project_not_allowed"');
    const rest = await fetch(`${stack.url}/tools/get_rally_issue`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...plain(reader.token) },
      body: JSON.stringify({ id: 'DE1' }),
    });
    expect(rest.status).toBe(200);
    expect(((await rest.json()) as { isError: boolean }).isError).toBe(true);
    const own = await call(reader.token, 'get_rally_issue', { id: 'US34' });
    expect(own.isError).toBeFalsy();
  });

  it('O18: update, comment and tag on another project’s item are refused and no write reaches Rally', async () => {
    const before = JSON.stringify(story('US1'));
    const posts = rally().items('conversationpost').length;
    rally().clearRequests();
    for (const [tool, args] of [
      ['update_rally_item', { id: 'US1', name: 'Hijacked by the agent', confirm: true }],
      ['add_rally_comment', { id: 'US1', text: 'Injected comment' }],
      ['update_rally_tags', { id: 'US1', add: ['security'], confirm: true }],
      ['set_rally_custom_field', { id: 'US1', field: 'c_RiskLevel', value: 'High', confirm: true }],
    ] as const) {
      const r = await call(writer.token, tool, args);
      expect(r.isError).toBe(true);
      expect(r.content[0]!.text).toMatch(REFUSED);
    }
    expect(rallyWrites()).toEqual([]);
    expect(JSON.stringify(story('US1'))).toBe(before);
    expect(rally().items('conversationpost').length).toBe(posts);
    const inside = await call(writer.token, 'update_rally_item', {
      id: 'US35',
      name: 'Renamed by the agent',
      confirm: true,
    });
    expect(inside.isError).toBeFalsy();
    expect(story('US35').Name).toBe('Renamed by the agent');
  });

  it('O19: create into another project — named, or the default project — is refused and nothing is created; into its own it works', async () => {
    const count = rally().items('hierarchicalrequirement').length;
    rally().clearRequests();
    for (const args of [{ name: 'No project given' }, { name: 'Named elsewhere', project: 'Acme Online' }]) {
      const r = await call(writer.token, 'create_rally_story', args);
      expect(r.isError).toBe(true);
      expect(r.content[0]!.text).toMatch(REFUSED);
    }
    const task = await call(writer.token, 'create_rally_task', { workProduct: 'US1', name: 'Task elsewhere' });
    expect(task.isError).toBe(true);
    expect(rallyWrites()).toEqual([]);
    expect(rally().items('hierarchicalrequirement').length).toBe(count);
    const ok = await call(writer.token, 'create_rally_story', { name: 'Made inside', project: PRIVATE });
    expect(ok.isError).toBeFalsy();
    const made = rally()
      .items('hierarchicalrequirement')
      .find((s) => s.Name === 'Made inside')!;
    expect(String(made.Project)).toBe(project(PRIVATE));
  });

  it('O21: a tool allowlist and a project allowlist together: each refuses on its own', async () => {
    const both = await createToken(stack.url, alice, { tools: 'get_rally_issue', projects: [PRIVATE] });
    expect((await call(both.token, 'get_rally_issue', { id: 'US34' })).isError).toBeFalsy();
    const outside = await call(both.token, 'get_rally_issue', { id: 'US1' });
    expect(outside.content[0]!.text).toMatch(REFUSED);
    const otherTool = await call(both.token, 'search_rally_items', { project: PRIVATE });
    expect(otherTool.isError).toBe(true);
    expect(otherTool.content[0]!.text).toMatch(/may not call search_rally_items/);
    const reasons = audits('policy_denied', `"connectionTokenId":"${both.id}"`).map(
      (l) => /"reason":"([a-z_]+)"/.exec(l)?.[1],
    );
    expect(reasons).toEqual(['connection_token_projects', 'connection_token_tools']);
  });

  it('O22: a token without the field reaches every project, and stores no list', async () => {
    const all = await createToken(stack.url, alice, { name: 'Every project' });
    for (const id of ['US1', 'US19', 'US34'])
      expect((await call(all.token, 'get_rally_issue', { id })).isError).toBeFalsy();
    const stored = await listConnectionTokens(await depsFor(stack).db(), { rallyUser: ALICE });
    expect(stored.find((t) => t.tokenId === all.id)).not.toHaveProperty('projects');
    expect(stored.find((t) => t.tokenId === reader.id)?.projects).toEqual([
      { ref: `/project/${project(PRIVATE)}`, name: PRIVATE },
    ]);
  });

  it('O23: the page lists the user’s projects and shows each token’s list; /account shows it too', async () => {
    const page = await openConsole(stack.url, alice);
    const boxes = page.form('/connections/create').checkboxes.filter((c) => c.name === 'projects');
    expect(boxes.map((b) => b.label)).toEqual(['Acme Mobile', 'Acme Online', PRIVATE]); // open projects alice sees, by name
    expect(boxes.map((b) => b.value)).toEqual(['Acme Mobile', 'Acme Online', PRIVATE].map(project));
    expect(page.body).toMatch(new RegExp(`data-token-id="${reader.id}"><div>[^<]*· projects: ${PRIVATE}</div>`));
    const account = await fetch(`${stack.url}/account`, { headers: { cookie: alice.header(`${stack.url}/account`)! } });
    expect(await account.text()).toContain(`<dt>Projects</dt><dd>${PRIVATE}</dd>`);
  });

  it('O23: tampering with the list through the page is refused server-side: a project the user cannot see, a closed one, a forged value, too many, or a cross-site post', async () => {
    const before = (await listConnectionTokens(await depsFor(stack).db(), { rallyUser: ALICE })).length;
    const attempt = async (projects: readonly string[], headers?: Record<string, string>) => {
      const form = (await openConsole(stack.url, alice)).form('/connections/create');
      return postForm(form.action, alice, { ...form.fields, name: 'Tampered', days: '7', projects }, headers);
    };
    const bobs = await attempt([project('Bob Private')]);
    expect(bobs.status).toBe(400);
    expect(bobs.body).toContain('Unknown project');
    expect(audits('access_denied', '"reason":"connection_form_project"').length).toBe(1);
    expect((await attempt([project(PRIVATE), project('Legacy Archive')])).status).toBe(400); // closed
    expect((await attempt(['/project/1'])).status).toBe(400);
    expect((await attempt(['1 OR 1=1'])).status).toBe(400);
    expect((await attempt(Array.from({ length: 21 }, (_, i) => String(1000 + i)))).status).toBe(400);
    const crossSite = await attempt([project(PRIVATE)], {
      'content-type': 'application/x-www-form-urlencoded',
      origin: 'https://evil.example',
      'sec-fetch-site': 'cross-site',
    });
    expect(crossSite.status).toBe(403);
    // No page changes a stored token's list: creation is the only form that carries one.
    expect(
      (await postForm(`${stack.url}/connections/update`, alice, { token_id: reader.id, projects: [] })).status,
    ).toBe(404);
    const after = await listConnectionTokens(await depsFor(stack).db(), { rallyUser: ALICE });
    expect(after.length).toBe(before);
    expect(after.some((t) => t.name === 'Tampered')).toBe(false);
  });
});
