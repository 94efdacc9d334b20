import { connect, textOf, useToolHarness, wsapiRequests } from './harness.js';

const h = useToolHarness();

const call = (name: string, args: Record<string, unknown> = {}) => h.mcp.client.callTool({ name, arguments: args });
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON that the test reads freely and checks with expect()
const structured = (r: Awaited<ReturnType<typeof call>>) => r.structuredContent as Record<string, any>;
const queryOf = (url: string) => new URL(url, 'http://x').searchParams.get('query');

describe('search_rally_items', () => {
  it('compiles structured filters into one correct query', async () => {
    const r = await call('search_rally_items', {
      types: ['defect'],
      text: 'Export',
      state: 'Submitted',
      owner: 'me',
      iteration: 'current',
    });
    expect(r.isError).toBeFalsy();
    const req = wsapiRequests(h.sandbox).find((q) => q.url.startsWith('/slm/webservice/v2.0/defect?'));
    expect(queryOf(req?.url ?? '')).toMatch(
      /^\(\(\(\(\(Name contains "Export"\) AND \(State = "Submitted"\)\) AND \(Owner = \/user\/\d+\)\) AND \(Iteration\.StartDate <= today\)\) AND \(Iteration\.EndDate >= today\)\)$/,
    );
    for (const item of structured(r).items) expect(item.kind).toBe('defect');
  });

  it('pages with an opaque cursor until every match was seen once', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let total = 0;
    for (let i = 0; i < 20; i++) {
      const r = await call('search_rally_items', {
        types: ['story'],
        pageSize: 7,
        order: 'formattedId',
        ...(cursor ? { cursor } : {}),
      });
      const s = structured(r);
      total = s.totalForKind;
      seen.push(...s.items.map((it: { formattedId: string }) => it.formattedId));
      cursor = s.nextCursor ?? undefined;
      if (!cursor) break;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toHaveLength(total);
    expect(total).toBeGreaterThan(7);
    expect(seen.slice(0, 3)).toEqual(['US1', 'US2', 'US3']);
  });

  it('moves to the next kind after the last page of the first', async () => {
    const first = structured(await call('search_rally_items', { text: 'Export', pageSize: 50 }));
    expect(first.kind).toBe('story');
    const second = structured(
      await call('search_rally_items', { text: 'Export', pageSize: 50, cursor: first.nextCursor }),
    );
    expect(second.kind).toBe('defect');
    expect(second.items.map((i: { name: { text: string } }) => i.name.text)).toContain('Export drops owner');
  });

  it('L19: a cursor edited to another offset, forged, or taken to another query → -32602 invalid params; no Rally call', async () => {
    const first = structured(await call('search_rally_items', { types: ['story'], pageSize: 5, order: 'formattedId' }));
    const sealed = Buffer.from(first.nextCursor as string, 'base64url');
    const body = sealed.subarray(0, sealed.length - 16).toString('utf8');
    expect(JSON.parse(body)).toEqual({ v: 2, s: 6, t: 0 });
    const tag = sealed.subarray(sealed.length - 16);
    const attempts = {
      // the same MAC on an edited body: skip ahead to item 50
      editedOffset: Buffer.concat([Buffer.from(body.replace('"s":6', '"s":50')), tag]).toString('base64url'),
      // a cursor in the old unkeyed format, as an attacker would write it
      forgedUnkeyed: Buffer.from(JSON.stringify({ v: 1, s: 40, t: 0, h: 'AAAAAAAAAAAAAAAA' })).toString('base64url'),
      // a valid body with a guessed tag
      forgedTag: Buffer.concat([Buffer.from(body), Buffer.alloc(16)]).toString('base64url'),
      truncated: (first.nextCursor as string).slice(0, -2),
    };
    h.sandbox.clearRequests();
    for (const [what, cursor] of Object.entries(attempts)) {
      const err = await call('search_rally_items', {
        types: ['story'],
        pageSize: 5,
        order: 'formattedId',
        cursor,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect({ what, code: (err as { code?: number })?.code }).toEqual({ what, code: -32602 });
      expect((err as Error).message).toMatch(
        /cursor: The cursor is not valid for this search .*Repeat the search without a cursor\./,
      );
    }
    const otherQuery = await call('search_rally_items', {
      types: ['defect'],
      pageSize: 5,
      cursor: first.nextCursor,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((otherQuery as { code?: number })?.code).toBe(-32602);
    expect(wsapiRequests(h.sandbox)).toHaveLength(0);
    // The genuine cursor still opens the next page.
    const second = structured(
      await call('search_rally_items', {
        types: ['story'],
        pageSize: 5,
        order: 'formattedId',
        cursor: first.nextCursor,
      }),
    );
    expect(second.items).toHaveLength(5);
  });

  it('ANDs a valid raw query with the structured filters', async () => {
    const r = await call('search_rally_items', {
      types: ['story'],
      query: '((Blocked = true) OR (PlanEstimate > 5))',
      text: 'a',
    });
    expect(r.isError).toBeFalsy();
    const req = wsapiRequests(h.sandbox).find((q) => q.url.startsWith('/slm/webservice/v2.0/hierarchicalrequirement?'));
    expect(queryOf(req?.url ?? '')).toBe('((Name contains "a") AND ((Blocked = true) OR (PlanEstimate > 5)))');
  });

  it('rejects an unbalanced raw query without calling Rally', async () => {
    const r = await call('search_rally_items', { query: '(Name = x) OR (Owner.UserName = bob' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toBe(
      'The search could not be expressed as a safe Rally query (raw query rejected: unbalanced_parentheses). (Request ID: req-test-1)',
    );
    expect(wsapiRequests(h.sandbox).filter((q) => q.url.includes('query='))).toHaveLength(0);
  });

  it("shows Rally's parse error for a raw query Rally rejects", async () => {
    const r = await call('search_rally_items', { types: ['story'], query: '(Name zobolts x)' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(
      /^Rally rejected the request\. Rally's messages, as data: \[\{"source":"rally","untrusted":true,"text":"Could not parse: .+"\}\] \(Request ID: req-test-1\)$/,
    );
  });

  it('J8: an injection attempt in text is refused with -32602 and no Rally call', async () => {
    await expect(call('search_rally_items', { text: 'x") OR (Owner.UserName = "bob' })).rejects.toMatchObject({
      code: -32602,
    });
    await expect(call('search_rally_items', { order: 'Name; drop' })).rejects.toMatchObject({ code: -32602 });
    await expect(call('search_rally_items', { pageSize: 5000 })).rejects.toMatchObject({ code: -32602 });
    expect(wsapiRequests(h.sandbox)).toHaveLength(0);
  });

  it("I5: bob never sees alice's private items", async () => {
    await h.mcp.close();
    await h.mcp.close(); // replace the default connection
    h.mcp = await connect(h.sandbox, { user: 'bob' });
    const r = await call('search_rally_items', { types: ['story'], text: 'Alice private', pageSize: 50 });
    expect(structured(r).items).toEqual([]);
  });
});

describe('list_rally_projects', () => {
  it('lists open projects visible to alice, by name', async () => {
    const r = await call('list_rally_projects');
    expect(structured(r).projects.map((p: { name: { text: string } }) => p.name.text)).toEqual([
      'Acme Mobile',
      'Acme Online',
      'Alice Private',
    ]);
  });

  it('includes closed projects on request and pages', async () => {
    const a = structured(await call('list_rally_projects', { includeClosed: true, pageSize: 2 }));
    expect(a.projects).toHaveLength(2);
    const b = structured(await call('list_rally_projects', { includeClosed: true, pageSize: 2, cursor: a.nextCursor }));
    expect([...a.projects, ...b.projects].map((p: { name: { text: string } }) => p.name.text)).toEqual([
      'Acme Mobile',
      'Acme Online',
      'Alice Private',
      'Legacy Archive',
    ]);
    expect(b.nextCursor).toBeNull();
  });
});

describe('list_rally_iterations', () => {
  it('returns the current sprint of the default project', async () => {
    const r = await call('list_rally_iterations', { timeframe: 'current' });
    expect(
      structured(r).iterations.map((i: { name: { text: string }; state: string }) => [i.name.text, i.state]),
    ).toEqual([['Sprint 42', 'Committed']]);
  });

  it('lists all iterations newest first', async () => {
    const r = await call('list_rally_iterations', { project: 'Acme Online' });
    expect(structured(r).iterations.map((i: { name: { text: string } }) => i.name.text)).toEqual([
      'Sprint 43',
      'Sprint 42',
      'Sprint 41',
    ]);
  });
});

describe('get_rally_user', () => {
  it('shows the linked account and its defaults', async () => {
    const r = await call('get_rally_user');
    expect(structured(r)).toMatchObject({
      user: {
        userName: 'alice@example.com',
        email: 'alice@example.com',
        displayName: { source: 'rally', untrusted: true, text: 'Alice Anders' },
        defaultWorkspace: { name: { text: 'Acme Workspace' } },
        defaultProject: { name: { text: 'Acme Online' } },
      },
    });
  });
});

describe('disconnect_rally', () => {
  it('deletes stored tokens and points to the "Your access" page and Authorized Applications', async () => {
    const r = await call('disconnect_rally');
    expect(h.mcp.disconnects.count).toBe(1);
    expect(textOf(r)).toBe(
      'Your Rally connection was removed from this server for this application. To see every application that can use Rally ' +
        'as you, and end any of them, open https://mcp.example.test/account. ' +
        'To revoke access completely, open Rally, go to your profile > ' +
        'Application Manager > Authorized Applications, and remove this app. Rally has no way for other services to revoke its access.',
    );
    expect((r as { structuredContent?: { accessPage?: string } }).structuredContent?.accessPage).toBe(
      'https://mcp.example.test/account',
    );
    expect(wsapiRequests(h.sandbox)).toHaveLength(0);
  });
});
