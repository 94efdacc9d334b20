/**
 * The GitHub sandbox's REST API against docs/github-api.md §3: request checks,
 * GitHub's error bodies, private repositories as 404, the endpoints the tools
 * call, search and its paging, rate limits and their headers, faults, the log.
 */
import { SEED, type GitHubSandboxHandle } from '../../github-sandbox/index.js';
import { FakeClock } from '../helpers/clock.js';
import { GITHUB_CLIENT, githubApi, startTestGitHubSandbox } from '../helpers/github-sandbox.js';
import { until } from '../helpers/poll.js';

describe('GitHub sandbox REST API', () => {
  let sb: GitHubSandboxHandle;
  let clock: FakeClock;
  let alice: string;
  let bob: string;
  let carol: string;
  beforeEach(async () => {
    clock = new FakeClock();
    sb = await startTestGitHubSandbox({ now: clock.now });
    alice = sb.issueTokens('alice').access_token;
    bob = sb.issueTokens('bob').access_token;
    carol = sb.issueTokens('carol').access_token;
  });
  afterEach(async () => sb.stop());

  describe('requests', () => {
    it('GET /user answers the token’s user with rate-limit, request-id and version headers', async () => {
      const res = await githubApi(sb, '/user', alice);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ login: 'alice', id: 1001, name: 'Alice Anders', type: 'User' });
      expect(res.body.html_url).toBe(`${sb.webUrl}/alice`);
      expect(res.headers.get('x-ratelimit-limit')).toBe('5000');
      expect(res.headers.get('x-ratelimit-remaining')).toBe('4999');
      expect(res.headers.get('x-ratelimit-used')).toBe('1');
      expect(res.headers.get('x-ratelimit-resource')).toBe('core');
      expect(Number(res.headers.get('x-ratelimit-reset'))).toBe(clock.nowMs() / 1000 + 3600);
      expect(res.headers.get('x-github-request-id')).toMatch(/^[0-9A-F:]+$/);
      expect(res.headers.get('x-github-api-version-selected')).toBe('2022-11-28');
    });

    it('`token` works like `Bearer`; a bad token is 401 Bad credentials; no token on /user is 401 Requires authentication', async () => {
      expect((await githubApi(sb, '/user', undefined, { authorization: `token ${alice}` })).body.login).toBe('alice');
      const bad = await githubApi(sb, '/user', 'gho_unknown');
      expect(bad.status).toBe(401);
      expect(bad.body).toEqual({
        message: 'Bad credentials',
        documentation_url: 'https://docs.github.com/rest',
        status: '401',
      });
      const none = await githubApi(sb, '/user', undefined);
      expect(none.status).toBe(401);
      expect(none.body.message).toBe('Requires authentication');
      expect(none.headers.get('x-ratelimit-limit')).toBe('60');
    });

    it('an unsupported X-GitHub-Api-Version is 400; a missing User-Agent is 403', async () => {
      const version = await githubApi(sb, '/user', alice, { 'x-github-api-version': '2019-01-01' });
      expect(version.status).toBe(400);
      expect(version.body.message).toMatch(/X-GitHub-Api-Version/);
      const ua = await sb.dispatch({
        server: 'api',
        method: 'GET',
        url: '/user',
        headers: { authorization: `Bearer ${alice}` },
      });
      expect(ua?.status).toBe(403);
      expect(ua?.body).toMatch(/User-Agent/);
    });

    it('a trailing slash or an unknown path is 404 Not Found', async () => {
      for (const path of ['/user/', '/repos/acme/storefront/', '/nope']) {
        const res = await githubApi(sb, path, alice);
        expect(res.status).toBe(404);
        expect(res.body.message).toBe('Not Found');
      }
    });
  });

  describe('repositories, pull requests and commits', () => {
    it('a public repository is readable by anyone; its default branch is there', async () => {
      const res = await githubApi(sb, '/repos/acme/storefront', carol);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ full_name: 'acme/storefront', private: false, default_branch: 'main' });
      expect((await githubApi(sb, '/repos/acme/storefront', undefined)).status).toBe(200);
    });

    it('a private repository is 404 Not Found to a user without access, the same as a missing one', async () => {
      const hidden = await githubApi(sb, `/repos/${SEED.privateRepo}`, carol);
      const missing = await githubApi(sb, '/repos/acme/nothing-here', carol);
      expect(hidden.status).toBe(404);
      expect(hidden.body).toEqual(missing.body);
      expect((await githubApi(sb, `/repos/${SEED.privateRepo}/pulls/1`, carol)).status).toBe(404);
      expect((await githubApi(sb, `/repos/${SEED.alicePrivateRepo}`, bob)).status).toBe(404);
      const own = await githubApi(sb, `/repos/${SEED.privateRepo}`, bob);
      expect(own.body).toMatchObject({ private: true, default_branch: 'develop', visibility: 'private' });
    });

    it('an OAuth App token without the repo scope does not see private repositories', async () => {
      const narrow = sb.issueTokens('alice', ['read:user']).access_token;
      expect((await githubApi(sb, `/repos/${SEED.privateRepo}`, narrow)).status).toBe(404);
      expect((await githubApi(sb, `/repos/${SEED.publicRepo}`, narrow)).status).toBe(200);
    });

    it('GET pulls/{n}: head and base, merged state; an issue number is 404', async () => {
      const pr = await githubApi(sb, '/repos/acme/storefront/pulls/1', alice);
      expect(pr.status).toBe(200);
      expect(pr.body).toMatchObject({
        number: 1,
        title: 'US1: Add owner column to CSV export',
        state: 'closed',
        merged: true,
        draft: false,
        user: { login: 'alice' },
        head: { ref: 'feature/US1-owner-column', sha: expect.stringMatching(/^[0-9a-f]{40}$/) },
        base: { ref: 'main' },
        html_url: `${sb.webUrl}/acme/storefront/pull/1`,
      });
      expect(pr.body.merged_at).toEqual(expect.any(String));
      expect(
        (await githubApi(sb, `/repos/acme/storefront/pulls/${SEED.issueMentioningUs1.number}`, alice)).status,
      ).toBe(404);
      const nullBody = await githubApi(sb, '/repos/acme/storefront/pulls/9', alice);
      expect(nullBody.body.body).toBeNull();
    });

    it('GET commits/{ref}: by full SHA, by a 7-character prefix, by branch with its slash as %2F; unknown is 422', async () => {
      const pr = await githubApi(sb, '/repos/acme/storefront/pulls/1', alice);
      const sha = pr.body.head.sha as string;
      const full = await githubApi(sb, `/repos/acme/storefront/commits/${sha}`, alice);
      expect(full.status).toBe(200);
      expect(full.body).toMatchObject({
        sha,
        author: { login: 'alice' },
        commit: { message: expect.stringContaining('US1') },
      });
      expect((await githubApi(sb, `/repos/acme/storefront/commits/${sha.slice(0, 7)}`, alice)).body.sha).toBe(sha);
      expect((await githubApi(sb, '/repos/acme/storefront/commits/feature%2FUS1-owner-column', alice)).body.sha).toBe(
        sha,
      );
      const main = await githubApi(sb, '/repos/acme/storefront/commits/main', alice);
      expect(main.body.commit.message).toMatch(/\(#\d+\)$/);
      const unknown = await githubApi(sb, '/repos/acme/storefront/commits/0000000', alice);
      expect(unknown.status).toBe(422);
      expect(unknown.body.message).toBe('No commit found for SHA: 0000000');
    });

    it('a commit by an address no account claims has author null', async () => {
      const main = await githubApi(sb, '/repos/acme/storefront/commits/main', alice);
      let sha = main.body.sha as string;
      for (;;) {
        const c = await githubApi(sb, `/repos/acme/storefront/commits/${sha}`, alice);
        if (c.body.parents.length === 0) {
          expect(c.body.author).toBeNull();
          expect(c.body.commit.author.email).toBe('ci@acme.example');
          break;
        }
        sha = c.body.parents[0].sha as string;
      }
    });
  });

  describe('search', () => {
    const search = (q: string, token: string | undefined, extra = '') =>
      githubApi(sb, `/search/issues?q=${encodeURIComponent(q)}${extra}`, token);

    it('finds pull requests whose title or body names the FormattedID, in every repository the user can see', async () => {
      const res = await search('US1 is:pr', alice);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ratelimit-resource')).toBe('search');
      expect(res.headers.get('x-ratelimit-limit')).toBe('30');
      expect(res.body.incomplete_results).toBe(false);
      const found = (res.body.items as Array<{ repository_url: string; number: number }>)
        .map((i) => `${i.repository_url.split('/repos/')[1]}#${i.number}`)
        .sort();
      expect(found).toEqual(['acme/mobile-app#2', 'acme/storefront#1', 'acme/storefront#5']);
      expect(res.body.total_count).toBe(3);
      const item = res.body.items.find((i: { number: number }) => i.number === 1);
      expect(item.pull_request).toMatchObject({
        merged_at: expect.any(String),
        html_url: `${sb.webUrl}/acme/storefront/pull/1`,
      });
    });

    it('never returns items of repositories the user cannot see', async () => {
      const res = await search('US1 is:pr', carol);
      expect(res.body.items.map((i: { repository_url: string }) => i.repository_url)).not.toContain(
        `${sb.apiUrl}/repos/${SEED.privateRepo}`,
      );
      expect(res.body.total_count).toBe(2);
      expect((await search('US34 is:pr', bob)).body.total_count).toBe(0);
      expect((await search('US34 is:pr', alice)).body.total_count).toBe(1);
    });

    it('whole words only: US1 does not match US12 or US19; the ID only in a branch name is not found by free text', async () => {
      expect((await search('US19 is:pr', alice)).body.total_count).toBe(1);
      const byText = await search(`${SEED.branchOnlyPull.formattedId} is:pr`, alice);
      expect(byText.body.items.map((i: { number: number }) => i.number)).not.toContain(SEED.branchOnlyPull.number);
      const byHead = await search('is:pr head:feature/US3', alice);
      expect(byHead.body.items.map((i: { number: number }) => i.number)).toEqual([SEED.branchOnlyPull.number]);
    });

    it('is:issue and is:pr tell issues from pull requests; a query with neither is 422', async () => {
      const issues = await search('US1 is:issue', alice);
      expect(issues.body.items.map((i: { number: number }) => i.number)).toEqual([SEED.issueMentioningUs1.number]);
      expect(issues.body.items[0].pull_request).toBeUndefined();
      const untyped = await search('US1', alice);
      expect(untyped.status).toBe(422);
      expect(untyped.body.message).toBe("Query must include 'is:issue' or 'is:pull-request'");
      expect((await search('US1 type:pr', alice)).body.total_count).toBe(3);
    });

    it('state qualifiers: is:open, is:closed, is:merged, is:unmerged, draft', async () => {
      const numbers = async (q: string) =>
        ((await search(q, alice)).body.items as Array<{ number: number }>).map((i) => i.number).sort();
      expect(await numbers('is:pr repo:acme/storefront is:merged')).toEqual([1, 3, 9]);
      expect(await numbers('is:pr repo:acme/storefront is:unmerged')).toEqual([8]);
      expect(await numbers('is:pr repo:acme/storefront is:open draft:true')).toEqual([4, 5]);
      expect(await numbers('US1 is:pr repo:acme/storefront state:open')).toEqual([5]);
      expect(await numbers('US1 is:pr repo:acme/storefront -is:draft')).toEqual([1]);
    });

    it('repo: naming only what the user cannot see is 422 Validation Failed; mixed with a visible one it searches that one', async () => {
      const hidden = await search(`US1 is:pr repo:${SEED.privateRepo}`, carol);
      expect(hidden.status).toBe(422);
      expect(hidden.body).toMatchObject({
        message: 'Validation Failed',
        errors: [
          { resource: 'Search', field: 'q', code: 'invalid', message: expect.stringMatching(/cannot be searched/) },
        ],
      });
      const mixed = await search(`US1 is:pr repo:${SEED.privateRepo} repo:${SEED.publicRepo}`, carol);
      expect(mixed.status).toBe(200);
      expect(mixed.body.total_count).toBe(2);
    });

    it('missing q, more than 256 characters of text, or more than five operators is 422', async () => {
      const missing = await githubApi(sb, '/search/issues', alice);
      expect(missing.body.errors).toEqual([{ resource: 'Search', field: 'q', code: 'missing' }]);
      expect((await search(`is:pr ${'a'.repeat(257)}`, alice)).status).toBe(422);
      expect((await search(`is:pr ${'a'.repeat(200)} repo:acme/storefront`, alice)).status).toBe(200);
      expect((await search('is:pr a AND b AND c AND d AND e AND f AND g', alice)).status).toBe(422);
    });

    it('pages with per_page and page, with a Link header; at most 100 a page and the first 1000 results', async () => {
      const first = await search('US1 is:pr', alice, '&per_page=2');
      expect(first.body.items).toHaveLength(2);
      expect(first.body.total_count).toBe(3);
      const link = first.headers.get('link') ?? '';
      expect(link).toContain('rel="next"');
      expect(link).toContain('rel="last"');
      const next = /<([^>]+)>; rel="next"/.exec(link)?.[1] ?? '';
      expect(new URL(next).origin).toBe(sb.apiUrl);
      expect(new URL(next).searchParams.get('page')).toBe('2');
      const second = await githubApi(sb, next.slice(sb.apiUrl.length), alice);
      expect(second.body.items).toHaveLength(1);
      expect(second.headers.get('link')).toContain('rel="prev"');
      expect(second.headers.get('link')).not.toContain('rel="next"');
      const all = [...first.body.items, ...second.body.items].map((i: { url: string }) => i.url);
      expect(new Set(all).size).toBe(3);
      expect((await search('is:pr', alice, '&per_page=500')).body.items.length).toBeLessThanOrEqual(100);
      const past = await search('is:pr', alice, '&per_page=100&page=11');
      expect(past.status).toBe(422);
    });

    it('orders by updated_at, newest first, unless told otherwise', async () => {
      const res = await search('is:pr repo:acme/storefront', alice);
      const updated = (res.body.items as Array<{ updated_at: string }>).map((i) => i.updated_at);
      expect(updated).toEqual([...updated].sort().reverse());
      const asc = await search('is:pr repo:acme/storefront', alice, '&sort=created&order=asc');
      const created = (asc.body.items as Array<{ created_at: string }>).map((i) => i.created_at);
      expect(created).toEqual([...created].sort());
    });
  });

  describe('rate limits', () => {
    it('search allows 30 a minute per user; the 31st is 403 with remaining 0, until the window resets', async () => {
      for (let i = 0; i < 30; i++) expect((await githubApi(sb, '/search/issues?q=is:pr', alice)).status).toBe(200);
      const over = await githubApi(sb, '/search/issues?q=is:pr', alice);
      expect(over.status).toBe(403);
      expect(over.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(over.headers.get('x-ratelimit-resource')).toBe('search');
      expect(over.body.message).toMatch(/^API rate limit exceeded for user ID 1001\./);
      expect(over.body.documentation_url).toMatch(/rate-limits-for-the-rest-api$/);
      expect((await githubApi(sb, '/search/issues?q=is:pr', bob)).status).toBe(200); // per user
      expect((await githubApi(sb, '/user', alice)).status).toBe(200); // per resource
      clock.advanceSeconds(60);
      const again = await githubApi(sb, '/search/issues?q=is:pr', alice);
      expect(again.status).toBe(200);
      expect(again.headers.get('x-ratelimit-remaining')).toBe('29');
    });

    it('an exhausted core limit is 403 (or 429 when configured) with remaining 0 and the reset time', async () => {
      sb.exhaustRateLimit('alice', 'core');
      const over = await githubApi(sb, '/repos/acme/storefront', alice);
      expect(over.status).toBe(403);
      expect(over.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(Number(over.headers.get('x-ratelimit-reset'))).toBe(sb.rateLimit('alice', 'core').reset);
      await sb.stop();
      sb = await startTestGitHubSandbox({ now: clock.now, primaryLimitStatus: 429, coreLimit: 2 });
      const t = sb.issueTokens('alice').access_token;
      await githubApi(sb, '/user', t);
      await githubApi(sb, '/user', t);
      expect((await githubApi(sb, '/user', t)).status).toBe(429);
    });

    it('GET /rate_limit does not count', async () => {
      await githubApi(sb, '/user', alice);
      const rl = await githubApi(sb, '/rate_limit', alice);
      expect(rl.body.resources.core).toMatchObject({ limit: 5000, used: 1, remaining: 4999 });
      expect(rl.body.resources.search).toMatchObject({ limit: 30, used: 0 });
      expect(sb.rateLimit('alice', 'core').used).toBe(1);
    });

    it('the secondary-rate-limit fault answers GitHub’s message and retry-after', async () => {
      sb.injectFault({
        server: 'api',
        pathPrefix: '/search/',
        times: 1,
        fault: { kind: 'secondary-rate-limit', retryAfterSeconds: 42 },
      });
      const res = await githubApi(sb, '/search/issues?q=is:pr', alice);
      expect(res.status).toBe(403);
      expect(res.headers.get('retry-after')).toBe('42');
      expect(res.body.message).toMatch(/^You have exceeded a secondary rate limit/);
      expect((await githubApi(sb, '/search/issues?q=is:pr', alice)).status).toBe(200);
    });
  });

  describe('faults, the log and the app endpoints', () => {
    it('status, reset and latency faults, by server and path prefix; the log records what was sent', async () => {
      sb.injectFault({ server: 'api', pathPrefix: '/user', times: 1, fault: { kind: 'status', status: 502 } });
      expect((await githubApi(sb, '/user', alice)).status).toBe(502);
      sb.injectFault({ server: 'api', pathPrefix: '/user', times: 1, fault: { kind: 'reset' } });
      await expect(githubApi(sb, '/user', alice)).rejects.toThrow();
      sb.injectFault({ server: 'api', pathPrefix: '/user', fault: { kind: 'latency', ms: 60_000 } });
      let settled = false;
      const held = githubApi(sb, '/user', alice).finally(() => (settled = true));
      await until(() => sb.requests().filter((r) => r.url === '/user').length === 3, 'the held request to arrive');
      expect(settled).toBe(false);
      sb.clearFaults(); // releases the held request at once
      expect((await held).status).toBe(200);
      const log = sb.requests().filter((r) => r.server === 'api' && r.url === '/user');
      expect(log.map((r) => r.status)).toEqual([502, 0, 200]);
      expect(log[2]?.user).toBe('alice');
      expect(log[2]?.headers['user-agent']).toBe('rally-mcp-tests');
    });

    it('DELETE /applications/{client_id}/grant with the app’s Basic credentials revokes the user’s authorization', async () => {
      const basic = Buffer.from(`${sb.clientId}:wrong`).toString('base64');
      const del = (auth: string) =>
        fetch(`${sb.apiUrl}/applications/${sb.clientId}/grant`, {
          method: 'DELETE',
          headers: { authorization: `Basic ${auth}`, 'user-agent': 't', 'content-type': 'application/json' },
          body: JSON.stringify({ access_token: alice }),
        });
      expect((await del(basic)).status).toBe(404);
      expect((await githubApi(sb, '/user', alice)).status).toBe(200);
      const good = Buffer.from(`${sb.clientId}:${GITHUB_CLIENT.clientSecret}`).toString('base64');
      expect((await del(good)).status).toBe(204);
      expect((await githubApi(sb, '/user', alice)).status).toBe(401);
      expect((await githubApi(sb, '/user', bob)).status).toBe(200);
    });

    it('reset() restores the seed and forgets tokens and rate-limit windows', async () => {
      sb.exhaustRateLimit('alice', 'core');
      sb.reset();
      expect((await githubApi(sb, '/user', alice)).status).toBe(401);
      const fresh = sb.issueTokens('alice').access_token;
      expect((await githubApi(sb, '/user', fresh)).headers.get('x-ratelimit-remaining')).toBe('4999');
    });

    it('html_url pages of public repositories exist on the web origin; private ones are 404 there', async () => {
      const page = await fetch(`${sb.webUrl}/acme/storefront/pull/1`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('US1: Add owner column to CSV export');
      expect((await fetch(`${sb.webUrl}/${SEED.privateRepo}/pull/1`)).status).toBe(404);
    });
  });
});
