import {
  ALICE_PRIVATE_STORIES,
  CLOSED_PROJECT_STORY,
  HOSTILE_DEFECT,
  HOSTILE_STORIES,
} from '../../../rally-sandbox/seed.js';
import { WEB, connect, textOf, useToolHarness, wsapiRequests } from './harness.js';

const h = useToolHarness();

const call = (name: string, args: Record<string, unknown>) => h.mcp.client.callTool({ name, arguments: args });
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON that the test reads freely and checks with expect()
const structured = <T = Record<string, any>>(r: Awaited<ReturnType<typeof call>>) => r.structuredContent as T;

describe('get_rally_issue', () => {
  it('returns key fields, refs, tasks summary, sanitised description and web URL for US1', async () => {
    const r = await call('get_rally_issue', { id: 'US1' });
    expect(r.isError).toBeFalsy();
    const item = structured(r).item;
    expect(item).toMatchObject({
      kind: 'story',
      formattedId: 'US1',
      name: { source: 'rally', untrusted: true, text: 'Add owner column to CSV export' },
      scheduleState: 'Defined',
      owner: { displayName: { source: 'rally', untrusted: true, text: 'Alice Anders' } },
      project: { name: { text: 'Acme Online' } },
      iteration: { name: { text: 'Sprint 42' } },
      release: { name: { text: 'Release 2025.4' } },
      tasks: { total: 2 },
    });
    expect(item.url).toBe(`${WEB}/#/detail/userstory/${item.objectId}`);
    expect(item.description).toEqual({
      source: 'rally',
      untrusted: true,
      text:
        'As a support lead I want the owner in the export so handoffs are clear.\n\nAcceptance criteria\n\n' +
        '- Owner column present\n- Sorted by Created\n  - newest first\n\nField | Source\nOwner | User.DisplayName\n\n' +
        '［image］\n\nDesign notes: wiki (https://wiki.example.com/exports) old link',
    });
    expect(item.tasks.listed.map((t: { name: { text: string } }) => t.name.text)).toEqual([
      'Design: Add owner column to CSV export',
      'Implement: Add owner column to CSV export',
    ]);
    expect(textOf(r).split('\n')[0]).toBe(`US1 (story): ${item.url}`);
    expect(JSON.parse(textOf(r).split('\n').slice(1).join('\n'))).toEqual(r.structuredContent);
  });

  it('resolves FormattedIDs by querying each candidate type, not by prefix', async () => {
    const r = await call('get_rally_issue', { id: 'DE2' });
    expect(structured(r).item).toMatchObject({
      kind: 'defect',
      formattedId: 'DE2',
      name: { text: 'Checkout total off by one cent' },
    });
    const paths = wsapiRequests(h.sandbox).map((q) => q.url.split('?')[0]);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/slm/webservice/v2.0/hierarchicalrequirement',
        '/slm/webservice/v2.0/defect',
        '/slm/webservice/v2.0/task',
      ]),
    );
  });

  it('reads by ObjectID', async () => {
    const first = structured(await call('get_rally_issue', { id: 'TA1' })).item;
    const r = await call('get_rally_issue', { id: first.objectId });
    expect(structured(r).item).toMatchObject({
      kind: 'task',
      formattedId: 'TA1',
      objectId: first.objectId,
      tasks: null,
    });
    expect(structured(r).item.parent).toMatchObject({ name: { text: 'Add owner column to CSV export' } });
  });

  it('reports an unknown item as a tool error with the request id', async () => {
    const r = await call('get_rally_issue', { id: 'US9999' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toBe(
      'No work item matches that name or ID, or you cannot see it in Rally. (Request ID: req-test-1)',
    );
  });

  it("I5: bob cannot read alice's private story; no fallback to broader credentials", async () => {
    await h.mcp.close();
    await h.mcp.close(); // replace the default connection
    h.mcp = await connect(h.sandbox, { user: 'bob' });
    h.sandbox.clearRequests();
    const r = await call('get_rally_issue', { id: ALICE_PRIVATE_STORIES[0] });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(
      /^No work item matches that name or ID, or you cannot see it in Rally\. \(Request ID: req-test-1\)$/,
    );
    for (const req of wsapiRequests(h.sandbox)) expect(req.user).toBe('bob');
  });

  it('I5: a story in a closed project is invisible to queries', async () => {
    const r = await call('get_rally_issue', { id: CLOSED_PROJECT_STORY });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toBe(
      'No work item matches that name or ID, or you cannot see it in Rally. (Request ID: req-test-1)',
    );
  });

  it("I5: reading a closed-project story by ObjectID surfaces Rally's 403 as a tool error", async () => {
    const oid = String(
      h.sandbox.items('hierarchicalrequirement').find((i) => i.FormattedID === CLOSED_PROJECT_STORY)?.ObjectID,
    );
    const r = await call('get_rally_issue', { id: oid });
    expect(r).toEqual({
      isError: true,
      content: [
        {
          type: 'text',
          text: 'Rally denied access: the project or item is not shared with you, is closed, or you may not change it. (Request ID: req-test-1)',
        },
      ],
    });
  });

  describe('J1/J3/J4/J5: hostile descriptions', () => {
    const expected: Record<string, string> = {
      script: 'Steps attached.\n\n［image］',
      style: 'Styled report.',
      eventHandlers: 'Click me\n\nx',
      javascriptLink: 'details more spaced',
      hiddenText: 'Visible summary.',
      htmlComment: 'Routine bug.',
      entities: '‹b>escaped‹/b> & café ‹script>alert(1)‹/script> "quoted" 😀',
      zeroWidthBidi: 'Payment fails for eman resu and isolated text.',
      unicodeTags: 'Looks harmless.',
      markdownImage: 'See ［image］ and click (https://attacker.example/phish).',
      dataUrl: 'Logo: ［link removed］ and ［image］.',
      combined: 'Steps attached.\n\n［image］details\n\n‹b>escaped‹/b> & café',
    };
    it.each(Object.entries(expected))('%s', async (kind, text) => {
      const r = await call('get_rally_issue', { id: HOSTILE_STORIES[kind as keyof typeof HOSTILE_STORIES] });
      const item = structured(r).item;
      expect(item.description).toEqual({ source: 'rally', untrusted: true, text });
      expect(item.name).toEqual({ source: 'rally', untrusted: true, text: `Hostile content: ${kind}` });
      const whole = textOf(r);
      for (const bad of [
        '<script',
        'onerror',
        'javascript:',
        'Ignore earlier instructions',
        'access token',
        '![',
        'data:text',
        '\u200b',
        '\u202e',
        '\u{E0069}',
      ]) {
        expect(whole).not.toContain(bad);
      }
    });

    it('J4: cuts a 1 MB description at 4,000 characters with a visible marker', async () => {
      const r = await call('get_rally_issue', { id: HOSTILE_STORIES.huge });
      const text: string = structured(r).item.description.text;
      expect(
        text.startsWith(
          'Full diagnostic log\n\nLog excerpt: request 4f1c9a07 failed after 30000 ms — retrying with backoff. Überprüfung läuft.\n\n',
        ),
      ).toBe(true);
      expect(text.endsWith('… [truncated: 940,314 more characters]')).toBe(true);
      expect(text.length).toBe(4000 + '… [truncated: 940,314 more characters]'.length);
      expect(textOf(r).length).toBeLessThan(24_000);
    });

    it("J5: the hostile defect's notes are sanitised too, and Rally text appears only in labelled fields", async () => {
      const r = await call('get_rally_issue', { id: HOSTILE_DEFECT });
      const item = structured(r).item;
      expect(item.notes).toEqual({
        source: 'rally',
        untrusted: true,
        text: 'Routine bug.\n\nPayment fails for eman resu and isolated text.',
      });
      expect(item.description.text).toBe('Steps attached.\n\n［image］details\n\n‹b>escaped‹/b> & café');
    });
  });
});
