import { LinkRequiredError } from '../../../shared/upstream/link-required.js';
import { RallyApiError } from '../../../shared/rally/errors.js';
import { clientWith, html401, json, queryResult } from './fake-rally.js';

const defect = {
  Defect: {
    _ref: 'https://rally.test/slm/webservice/v2.0/defect/738120455921',
    _type: 'Defect',
    ObjectID: 738120455921,
    FormattedID: 'DE1042',
    Name: 'Export drops owner',
    Errors: [],
    Warnings: [],
  },
};

describe('RallyClient', () => {
  describe('headers (D6)', () => {
    it('authenticates only with ZSESSIONID and sends labels, User-Agent and integration headers', async () => {
      const { client, seen } = clientWith([json(defect)]);
      await client.read('defect', '738120455921', ['Name']);
      expect(seen).toHaveLength(1);
      expect(seen[0]?.headers).toEqual({
        accept: 'application/json',
        'user-agent': 'rally-mcp/0.1.0 (test)',
        'x-correlation-id': 'corr-456',
        'x-rallyintegrationname': 'rally-mcp',
        'x-rallyintegrationvendor': 'rally-mcp-gcp',
        'x-rallyintegrationversion': '0.1.0',
        'x-request-id': 'req-123',
        zsessionid: 'tok-1',
      });
      expect(seen[0]?.headers.authorization).toBeUndefined();
      expect(seen[0]?.headers.cookie).toBeUndefined();
      expect(seen[0]?.hasSignal).toBe(true);
    });

    it('omits X-Correlation-ID when there is none', async () => {
      const { client, seen } = clientWith([json(defect)], { labels: { requestId: 'r-1' } });
      await client.read('defect', '1');
      expect(seen[0]?.headers['x-correlation-id']).toBeUndefined();
      expect(seen[0]?.headers['x-request-id']).toBe('r-1');
    });
  });

  describe('URLs', () => {
    it('builds the WSAPI URL from the configured base with encoded query parameters', async () => {
      const { client, seen } = clientWith([json(queryResult([]))]);
      await client.query('defect', {
        query: '(Name contains "a&b=c")',
        fetch: ['FormattedID', 'Name'],
        order: 'FormattedID DESC',
        start: 21,
        pageSize: 20,
        workspace: '111',
        project: '222',
      });
      expect(seen[0]?.url).toBe(
        'https://rally.test/slm/webservice/v2.0/defect?query=%28Name+contains+%22a%26b%3Dc%22%29&fetch=FormattedID%2CName' +
          '&order=FormattedID+DESC&start=21&pagesize=20&workspace=%2Fworkspace%2F111&project=%2Fproject%2F222' +
          '&projectScopeUp=false&projectScopeDown=true',
      );
    });

    it('refuses path segments that are not ObjectIDs or allowlisted types and collections, before any request', async () => {
      const { client, seen } = clientWith([]);
      await expect(client.read('defect', '../user')).rejects.toMatchObject({ code: 'rally_rejected' });
      await expect(client.read('defect', '12?x=1')).rejects.toMatchObject({ code: 'rally_rejected' });
      await expect(client.read('defect/../../x' as 'defect', '12')).rejects.toMatchObject({ code: 'rally_rejected' });
      await expect(client.collection('defect', '12', 'Owners' as 'Tasks')).rejects.toMatchObject({
        code: 'rally_rejected',
      });
      await expect(client.query('defect', { order: 'Name; DROP' })).rejects.toMatchObject({ code: 'rally_rejected' });
      await expect(client.query('defect', { fetch: ['Name,Owner'] })).rejects.toMatchObject({ code: 'rally_rejected' });
      await expect(client.query('defect', { pageSize: 2001 })).rejects.toMatchObject({ code: 'rally_rejected' });
      expect(seen).toHaveLength(0);
    });

    it('reads a collection under /{type}/{oid}/{Collection}', async () => {
      const { client, seen } = clientWith([json(queryResult([]))]);
      await client.collection('hierarchicalrequirement', '42', 'Tasks', { fetch: ['Name'] });
      expect(seen[0]?.url).toBe('https://rally.test/slm/webservice/v2.0/hierarchicalrequirement/42/Tasks?fetch=Name');
    });

    it('creates with POST /{type}/create and a typed wrapper body', async () => {
      const created = {
        CreateResult: {
          Errors: [],
          Warnings: [],
          Object: { _ref: 'https://rally.test/slm/webservice/v2.0/task/9', ObjectID: 9, FormattedID: 'TA1' },
        },
      };
      const { client, seen } = clientWith([json(created)]);
      const obj = await client.create('task', { Name: 'x', WorkProduct: '/defect/1' }, ['FormattedID']);
      expect(obj).toMatchObject({ ObjectID: 9, FormattedID: 'TA1' });
      expect(seen[0]).toMatchObject({
        method: 'POST',
        url: 'https://rally.test/slm/webservice/v2.0/task/create?fetch=FormattedID',
      });
      expect(JSON.parse(seen[0]?.body ?? '')).toEqual({ task: { Name: 'x', WorkProduct: '/defect/1' } });
      expect(seen[0]?.headers['content-type']).toBe('application/json');
    });
  });

  describe('redirects (D7)', () => {
    it.each([301, 302, 307, 308])('does not follow a %i and fails with rally_unavailable', async (status) => {
      const { client, seen } = clientWith([
        new Response(null, { status, headers: { location: 'https://evil.example/steal' } }),
      ]);
      await expect(client.read('defect', '1')).rejects.toMatchObject({ code: 'rally_unavailable', status });
      expect(seen).toHaveLength(1);
      expect(seen[0]?.redirect).toBe('manual');
    });
  });

  describe('401 handling', () => {
    it('refreshes once and retries with the new token', async () => {
      const { client, seen, refreshCalls } = clientWith([html401(), json(defect)]);
      await expect(client.read('defect', '738120455921')).resolves.toMatchObject({ FormattedID: 'DE1042' });
      expect(refreshCalls).toEqual(['tok-1']);
      expect(seen.map((r) => r.headers.zsessionid)).toEqual(['tok-1', 'tok-2']);
    });

    it('throws LinkRequiredError(revoked) on a second 401', async () => {
      const { client, seen, refreshCalls } = clientWith([html401(), html401()]);
      const err = await client.read('defect', '1').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LinkRequiredError);
      expect((err as LinkRequiredError).reason).toBe('revoked');
      expect(refreshCalls).toHaveLength(1);
      expect(seen).toHaveLength(2);
    });

    it('retries a create once after a 401 (the request was not processed)', async () => {
      const created = { CreateResult: { Errors: [], Warnings: [], Object: { ObjectID: 9 } } };
      const { client, seen } = clientWith([html401(), json(created)]);
      await client.create('task', { Name: 'x' });
      expect(seen.map((r) => r.method)).toEqual(['POST', 'POST']);
    });

    it('passes LinkRequiredError from the token provider through', async () => {
      const { client } = clientWith([html401()], {
        tokens: {
          accessToken: async () => 't',
          refreshAfterUnauthorized: async () => {
            throw new LinkRequiredError('rally', 'refresh_failed');
          },
        },
      });
      await expect(client.read('defect', '1')).rejects.toMatchObject({
        name: 'LinkRequiredError',
        reason: 'refresh_failed',
      });
    });
  });

  describe('retries', () => {
    it('retries a GET on 503, 429 and a connection reset, with full-jitter delays, then succeeds', async () => {
      const { client, seen, sleeps } = clientWith(
        [new Response('busy', { status: 503 }), new Response('', { status: 429 }), json(defect)],
        {
          retry: { attempts: 4, baseDelayMs: 100 },
        },
      );
      await expect(client.read('defect', '1')).resolves.toMatchObject({ ObjectID: 738120455921 });
      expect(seen).toHaveLength(3);
      expect(sleeps).toEqual([50, 100]); // random()=0.5 × 100 × 2^(n-1)
    });

    it('gives up after the configured attempts with rally_unavailable', async () => {
      const reset = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } });
      const { client, seen } = clientWith([
        new Response('', { status: 502 }),
        reset,
        new Response('<html>down</html>', { status: 503 }),
      ]);
      await expect(client.read('defect', '1')).rejects.toMatchObject({ code: 'rally_unavailable', status: 503 });
      expect(seen).toHaveLength(3);
    });

    it.each([
      ['503', () => new Response('', { status: 503 })],
      ['524', () => new Response('', { status: 524 })],
      ['a timeout', () => Promise.reject(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))],
      ['a reset', () => Promise.reject(new TypeError('fetch failed'))],
    ])('never retries a create on %s (no duplicate creates)', async (_label, make) => {
      const { client, seen } = clientWith([make as () => Response, make as () => Response]);
      await expect(client.create('hierarchicalrequirement', { Name: 'x' })).rejects.toMatchObject({
        code: 'rally_unavailable',
      });
      expect(seen).toHaveLength(1);
    });

    it('never retries an update on 503', async () => {
      const { client, seen } = clientWith([new Response('', { status: 503 }), new Response('', { status: 503 })]);
      await expect(client.update('defect', '1', { State: 'Open' })).rejects.toMatchObject({
        code: 'rally_unavailable',
      });
      expect(seen).toHaveLength(1);
    });

    it('times out through the AbortSignal', async () => {
      const hang = (_input: unknown, init?: RequestInit) =>
        new Promise<Response>((_resolve, reject) =>
          init?.signal?.addEventListener('abort', () => reject(init.signal?.reason)),
        );
      const { client } = clientWith([], {
        fetch: hang as typeof fetch,
        timeoutMs: 5,
        retry: { attempts: 1, baseDelayMs: 0 },
      });
      await expect(client.read('defect', '1')).rejects.toMatchObject({ code: 'rally_unavailable' });
    });
  });

  describe('status mapping', () => {
    it('maps 403 to rally_forbidden', async () => {
      const { client } = clientWith([new Response('<html>Forbidden</html>', { status: 403 })]);
      await expect(client.read('project', '5')).rejects.toMatchObject({ code: 'rally_forbidden', status: 403 });
    });

    it('maps a non-JSON 200 to rally_unavailable', async () => {
      const { client } = clientWith([new Response('<html>maintenance</html>', { status: 200 })]);
      await expect(client.read('defect', '1')).rejects.toMatchObject({ code: 'rally_unavailable' });
    });
  });

  describe('Errors on HTTP 200', () => {
    it.each([
      [
        { OperationResult: { Errors: ['Cannot find object to read'], Warnings: [] } },
        'rally_not_found',
        ['Cannot find object to read'],
      ],
      [
        { OperationResult: { Errors: ['Could not read: Could not read Defect 123 to update.'] } },
        'rally_not_found',
        ['Could not read: Could not read Defect 123 to update.'],
      ],
      [
        { OperationResult: { Errors: ['Not authorized to update: Feature 19457166996'] } },
        'rally_forbidden',
        ['Not authorized to update: Feature 19457166996'],
      ],
      [
        {
          QueryResult: {
            Errors: ['Could not parse: Unknown operator "zobolts"'],
            Warnings: [],
            TotalResultCount: 0,
            StartIndex: 0,
            PageSize: 0,
            Results: [],
          },
        },
        'rally_rejected',
        ['Could not parse: Unknown operator "zobolts"'],
      ],
      [
        { Defect: { ObjectID: 1, Errors: ['Validation error: Defect.Name should not be null'] } },
        'rally_rejected',
        ['Validation error: Defect.Name should not be null'],
      ],
    ])('maps %j', async (body, code, messages) => {
      const { client } = clientWith([json(body)]);
      const err = (await client.read('defect', '1').catch((e: unknown) => e)) as RallyApiError;
      expect(err).toBeInstanceOf(RallyApiError);
      expect(err.code).toBe(code);
      expect(err.rallyErrors).toEqual(messages);
    });

    it('sanitises and caps Rally messages', async () => {
      const hostile = `Validation error: \u202eevil\u200b ![x](https://attacker.example/?d=1) ${'z'.repeat(400)}`;
      const { client } = clientWith([
        json({ CreateResult: { Errors: [hostile, 2, 'b', 'c', 'd', 'e', 'f'], Warnings: [] } }),
      ]);
      const err = (await client.create('defect', { Name: 'x' }).catch((e: unknown) => e)) as RallyApiError;
      expect(err.code).toBe('rally_rejected');
      expect(err.rallyErrors).toHaveLength(5);
      expect(err.rallyErrors[0]).toBe(
        `Validation error: evil ［image］ ${'z'.repeat(269)}… [truncated: 131 more characters]`,
      );
    });

    it('returns a parsed query page with warnings', async () => {
      const { client } = clientWith([
        json(
          queryResult([{ ObjectID: 1 }], {
            TotalResultCount: 57,
            StartIndex: 21,
            Warnings: ['It is no longer necessary to append ".js" to WSAPI resources.'],
          }),
        ),
      ]);
      await expect(client.query('defect')).resolves.toEqual({
        totalResultCount: 57,
        startIndex: 21,
        pageSize: 20,
        results: [{ ObjectID: 1 }],
        warnings: ['It is no longer necessary to append ".js" to WSAPI resources.'],
      });
    });
  });

  describe('currentUser', () => {
    it('reads GET /user with the profile fields', async () => {
      const { client, seen } = clientWith([
        json({ User: { ObjectID: 7, UserName: 'alice@example.com', Errors: [], Warnings: [] } }),
      ]);
      await expect(client.currentUser()).resolves.toMatchObject({ UserName: 'alice@example.com' });
      expect(seen[0]?.url).toBe(
        'https://rally.test/slm/webservice/v2.0/user?fetch=ObjectID%2CUserName%2CDisplayName%2CEmailAddress%2CFirstName%2CLastName%2CUserProfile%2CDefaultWorkspace%2CDefaultProject',
      );
    });
  });
});
