import { request } from 'node:http';
import type { RallySandboxHandle } from '../../rally-sandbox/index.js';
import { startSandbox, tokenRequest, wsapi } from './support.js';
import { until } from '../helpers/poll.js';

describe('per-user concurrency limit', () => {
  let sb: RallySandboxHandle;
  afterEach(async () => sb.stop());

  it('holds the 13th request until a slot frees (wait mode, the default)', async () => {
    sb = await startSandbox();
    const alice = wsapi(sb, sb.issueTokens('alice').access_token);
    const bob = wsapi(sb, sb.issueTokens('bob').access_token);
    sb.injectFault({ pathPrefix: '/slm/webservice/v2.0/defect', fault: { kind: 'latency', ms: 60_000 } });
    const pending = Array.from({ length: 20 }, () => alice.get('/defect?pagesize=1'));
    await until(() => sb.stats().inFlight?.alice === 12 && sb.stats().queued?.alice === 8, '12 in flight and 8 queued');
    expect((await bob.get('/user')).status).toBe(200); // other users are not slowed
    sb.clearFaults(); // wakes the held requests
    const results = await Promise.all(pending);
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(sb.stats().maxConcurrent).toEqual({ alice: 12, bob: 1 });
  });

  it('rejects over-limit requests with 429 in reject mode', async () => {
    sb = await startSandbox({ overLimit: 'reject', maxConcurrentPerUser: 3 });
    const alice = wsapi(sb, sb.issueTokens('alice').access_token);
    sb.injectFault({ pathPrefix: '/slm/webservice/v2.0', fault: { kind: 'latency', ms: 60_000 } });
    const held = Array.from({ length: 3 }, () => alice.get('/defect'));
    await until(() => sb.stats().inFlight?.alice === 3, '3 in flight');
    const rejected = await Promise.all(Array.from({ length: 2 }, () => alice.get('/defect')));
    expect(rejected.map((r) => r.status)).toEqual([429, 429]);
    expect(rejected[0]?.body.OperationResult.Errors).toEqual(['Too many concurrent requests for this user']);
    sb.clearFaults();
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200, 200]);
    expect(sb.stats().maxConcurrent.alice).toBe(3);
  });
});

describe('fault injection', () => {
  let sb: RallySandboxHandle;
  let alice: ReturnType<typeof wsapi>;
  beforeAll(async () => {
    sb = await startSandbox();
  });
  beforeEach(() => {
    sb.reset();
    alice = wsapi(sb, sb.issueTokens('alice').access_token);
  });
  afterAll(async () => sb.stop());

  it('answers with an injected status and body, a limited number of times', async () => {
    sb.injectFault({
      pathPrefix: '/slm/webservice/v2.0/defect',
      times: 2,
      fault: { kind: 'status', status: 503, body: '<html><body>Rally is down for maintenance</body></html>' },
    });
    const a = await alice.get('/defect');
    expect(a.status).toBe(503);
    expect(a.headers.get('content-type')).toMatch(/^text\/html/);
    expect(a.text).toContain('down for maintenance');
    expect((await alice.get('/defect')).status).toBe(503);
    expect((await alice.get('/defect')).status).toBe(200);
  });

  it('matches by method and path prefix, and the returned function removes the rule', async () => {
    const remove = sb.injectFault({
      pathPrefix: '/slm/webservice/v2.0/hierarchicalrequirement',
      method: 'POST',
      fault: { kind: 'status', status: 429, body: '{"error":"slow down"}' },
    });
    expect((await alice.get('/hierarchicalrequirement?pagesize=1')).status).toBe(200);
    const post = await alice.post('/hierarchicalrequirement/create', { HierarchicalRequirement: { Name: 'x' } });
    expect(post.status).toBe(429);
    expect(post.body).toEqual({ error: 'slow down' });
    expect(post.headers.get('content-type')).toBe('application/json');
    remove();
    expect(
      (await alice.post('/hierarchicalrequirement/create', { HierarchicalRequirement: { Name: 'x' } })).status,
    ).toBe(200);
  });

  it('faults the token endpoint too', async () => {
    sb.injectFault({ pathPrefix: '/login/oauth2/token', times: 1, fault: { kind: 'status', status: 502 } });
    const { refresh_token } = sb.issueTokens('alice');
    await expect(tokenRequest(sb, { grant_type: 'refresh_token', refresh_token })).rejects.toThrow(); // HTML body, not JSON
    expect((await tokenRequest(sb, { grant_type: 'refresh_token', refresh_token })).status).toBe(200);
  });

  it('resets the connection', async () => {
    sb.injectFault({ pathPrefix: '/slm/webservice/v2.0/user', times: 1, fault: { kind: 'reset' } });
    const url = new URL(`${sb.url}/slm/webservice/v2.0/user`);
    const outcome = await new Promise<string>((resolve) => {
      const req = request(url, { headers: { zsessionid: sb.apiKey('alice') } }, (res) =>
        resolve(`status ${res.statusCode}`),
      );
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      req.end();
    });
    expect(outcome).toBe('ECONNRESET');
    expect((await alice.get('/user')).status).toBe(200);
  });

  it('redirects to another origin', async () => {
    sb.injectFault({
      pathPrefix: '/slm/webservice/v2.0/defect',
      times: 1,
      fault: { kind: 'redirect', location: 'https://attacker.example/steal' },
    });
    const res = await fetch(`${sb.url}/slm/webservice/v2.0/defect`, {
      headers: { zsessionid: sb.apiKey('alice') },
      redirect: 'manual',
    });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('https://attacker.example/steal');
  });
});

describe('request log', () => {
  let sb: RallySandboxHandle;
  beforeAll(async () => {
    sb = await startSandbox();
  });
  afterAll(async () => sb.stop());

  it('records method, url, headers, body, user and status for every request', async () => {
    sb.clearRequests();
    const { access_token } = sb.issueTokens('bob');
    await fetch(`${sb.url}/slm/webservice/v2.0/defect/create?fetch=FormattedID`, {
      method: 'POST',
      headers: { ZSESSIONID: access_token, 'X-Correlation-Id': 'corr-42', 'content-type': 'application/json' },
      body: JSON.stringify({ Defect: { Name: 'Logged' } }),
    });
    await fetch(`${sb.url}/slm/webservice/v2.0/user`);
    const [create, anon] = sb.requests();
    expect(create).toMatchObject({
      method: 'POST',
      url: '/slm/webservice/v2.0/defect/create?fetch=FormattedID',
      user: 'bob',
      status: 200,
      body: '{"Defect":{"Name":"Logged"}}',
    });
    expect(create?.headers['x-correlation-id']).toBe('corr-42');
    expect(create?.headers.zsessionid).toBe(access_token);
    expect(anon).toMatchObject({ method: 'GET', status: 401 });
    expect(anon?.user).toBeUndefined();
    expect(sb.requests().some((r) => r.headers.authorization !== undefined)).toBe(false);
    sb.clearRequests();
    expect(sb.requests()).toEqual([]);
  });
});
