/**
 * Load: two server processes sharing one emulator and the sandbox, 200
 * signed-in users issuing mixed read/write tool calls for a bounded time.
 * Asserts no cross-user data, no 5xx, every successful create stored exactly
 * once (and rate-limited ones not at all), no lost or corrupted token record,
 * and the per-agent rate limit respected across both instances.
 */
import { randomBytes } from 'node:crypto';
import { startLocalStack, type LocalStack } from '../../dev/local-stack.js';
import { signIn } from '../helpers/oauth-flow.js';
import { demoProjectId, emulatorHost } from '../helpers/env.js';
import { serverClock, type ServerClock } from '../helpers/stack.js';
import { callTool, mapLimit, recordSummary, semaphore, type ToolOutcome } from './helpers.js';

const USERS = 200;
const LOAD_MS = Number(process.env.RESILIENCE_LOAD_MS ?? 30_000);
const MAX_OPS_PER_USER = 30;
const IN_FLIGHT = 40; // below 2 × MAX_CONCURRENT_REQUESTS, so the instance cap never answers 503
const LIMITED_AGENT = 'load-limited-agent';
const AGENT_LIMIT = 40; // calls per minute, shared by both instances

let stack: LocalStack;
let clock: ServerClock;
const serverLines: string[] = [];

beforeAll(async () => {
  stack = await startLocalStack({
    firestoreHost: emulatorHost(),
    projectId: demoProjectId(),
    instances: 2,
    sandboxOptions: { extraUsers: USERS },
    env: {
      POLICY_JSON: JSON.stringify({
        version: 1,
        agents: { [LIMITED_AGENT]: { rateLimits: { perAgentPerMinute: AGENT_LIMIT } } },
      }),
    },
    onServerLog: (line) => {
      if (/"severity":"(ERROR|CRITICAL)"/.test(line)) serverLines.push(line);
    },
    clockControl: true,
  });
  clock = serverClock(stack);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

interface User {
  readonly name: string;
  readonly token: string;
  stories: string[];
}

test('200 users, mixed reads and writes on 2 instances: no leaks, no 5xx, exact creates, tokens intact, rate limit held', async () => {
  const names = Array.from({ length: USERS }, (_, i) => `user${String(i + 1).padStart(3, '0')}`);
  const t0 = performance.now();
  const users: User[] = await mapLimit(names, 10, async (name) => ({
    name,
    token: (await signIn(stack.url, name)).accessToken,
    stories: [],
  }));
  const signInMs = performance.now() - t0;

  const sandbox = stack.sandbox!;
  const limit = semaphore(IN_FLIGHT);
  const leaks: string[] = [];
  const fiveXx: string[] = [];
  const failures: string[] = [];
  const createdOk = new Map<string, string>(); // marker → user
  const createdUnsure = new Set<string>();
  const createdRefused = new Set<string>();
  let requests = 0;
  let rateLimited = 0;
  /** Server-clock times (ms) of each agent call: the limiter decided its window somewhere in [sent, done]. */
  const agentCalls: Array<{ sent: number; done: number; ok: boolean; limited: boolean }> = [];
  const sentAt = new WeakMap<ToolOutcome, number>();
  // The load starts in a fresh per-minute window of the servers' clock.
  await clock.toNextMinute();
  const deadline = performance.now() + LOAD_MS;
  const loadStart = performance.now();

  const check = (u: User, o: ToolOutcome, what: string) => {
    requests++;
    if (o.status >= 500) fiveXx.push(`${what} ${o.status} ${o.text.slice(0, 200)}`);
    const seen = `${JSON.stringify(o.structured ?? null)}\n${o.text}`;
    for (const m of seen.matchAll(/user\d{3}/g)) if (m[0] !== u.name) leaks.push(`${u.name} saw ${m[0]} in ${what}`);
    if (/Rate limit reached/.test(o.text)) rateLimited++;
  };

  const step = async (u: User, i: number, agent: boolean) => {
    const url = stack.instanceUrls[(i + u.name.length + Number(u.name.slice(4))) % stack.instanceUrls.length]!;
    const headers: Record<string, string> = agent ? { 'x-ms-copilot-agent-id': LIMITED_AGENT } : {};
    const call = (name: string, args: Record<string, unknown>) =>
      limit(async () => {
        const sent = clock.now().getTime();
        const o = await callTool(url, u.token, name, args, headers);
        sentAt.set(o, sent);
        return o;
      });
    const note = (o: ToolOutcome) => {
      if (agent)
        agentCalls.push({
          sent: sentAt.get(o)!,
          done: clock.now().getTime(),
          ok: o.status === 200 && !o.isError,
          limited: /Rate limit reached/.test(o.text),
        });
    };
    const kind = u.stories.length === 0 ? 0 : i % 4;
    if (kind === 0) {
      const o = await call('search_rally_items', { text: u.name, types: ['story'], pageSize: 50 });
      check(u, o, 'search');
      note(o);
      const items = (o.structured as { items?: Array<{ formattedId: string }> } | undefined)?.items ?? [];
      if (items.length) u.stories = items.map((it) => it.formattedId);
      else if (!/Rate limit/.test(o.text)) failures.push(`${u.name} search: ${o.text.slice(0, 200)}`);
    } else if (kind === 1) {
      const o = await call('get_rally_issue', { id: u.stories[i % u.stories.length]! });
      check(u, o, 'get');
      note(o);
      if (o.isError && !/Rate limit/.test(o.text)) failures.push(`${u.name} get: ${o.text.slice(0, 200)}`);
    } else if (kind === 2) {
      const marker = `${u.name} load ${randomBytes(6).toString('hex')}`;
      let o: ToolOutcome;
      try {
        o = await call('create_rally_story', { name: marker, description: `created by the load test for ${u.name}` });
      } catch (err) {
        createdUnsure.add(marker);
        throw err;
      }
      check(u, o, 'create');
      note(o);
      if (o.status === 200 && !o.isError) createdOk.set(marker, u.name);
      else if (/Rate limit reached/.test(o.text)) createdRefused.add(marker);
      else {
        createdUnsure.add(marker);
        failures.push(`${u.name} create: ${o.text.slice(0, 200)}`);
      }
    } else {
      const o = await call('add_rally_comment', { id: u.stories[0]!, text: `load comment from ${u.name}` });
      check(u, o, 'comment');
      note(o);
      if (o.isError && !/Rate limit/.test(o.text)) failures.push(`${u.name} comment: ${o.text.slice(0, 200)}`);
    }
  };

  let thrown = 0;
  await Promise.all(
    users.map(async (u, ui) => {
      for (let i = 0; i < MAX_OPS_PER_USER && performance.now() < deadline; i++) {
        try {
          await step(u, i, ui % 10 === 0); // every tenth user calls through the rate-limited agent
        } catch (err) {
          thrown++;
          failures.push(`${u.name} threw: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    }),
  );
  const loadMs = performance.now() - loadStart;

  // every created item exists exactly once; refused ones not at all; unsure ones at most once
  const stories = sandbox.items('hierarchicalrequirement');
  const countOf = (marker: string) => stories.filter((s) => s.Name === marker).length;
  const wrongCreates = [
    ...[...createdOk.keys()].filter((m) => countOf(m) !== 1).map((m) => `${m}: ${countOf(m)} (expected 1)`),
    ...[...createdRefused].filter((m) => countOf(m) !== 0).map((m) => `${m}: ${countOf(m)} (rate-limited, expected 0)`),
    ...[...createdUnsure].filter((m) => countOf(m) > 1).map((m) => `${m}: ${countOf(m)} (expected ≤ 1)`),
  ];

  // no token record lost or corrupted: every user can still call a tool (no agent header: not rate-limited)
  const finalChecks = await mapLimit(users, 20, async (u) => {
    const o = await callTool(stack.instanceUrls[Number(u.name.slice(4)) % 2]!, u.token, 'get_rally_user', {});
    check(u, o, 'final');
    return o.status === 200 && !o.isError && JSON.stringify(o.structured).includes(u.name)
      ? undefined
      : `${u.name}: ${o.status} ${o.text.slice(0, 200)}`;
  });
  const lostTokens = finalChecks.filter((x): x is string => Boolean(x));

  // the per-agent limit holds across both instances: successes per minute window (servers' clock) ≤ the limit.
  // A call sent and answered in one window was counted in it; one that straddles two is left out of both.
  const minute = (ms: number) => Math.floor(ms / 60_000);
  const windows = new Map<number, number>();
  for (const c of agentCalls)
    if (c.ok && minute(c.sent) === minute(c.done)) windows.set(minute(c.sent), (windows.get(minute(c.sent)) ?? 0) + 1);
  const agentOk = agentCalls.filter((c) => c.ok).length;
  const agentLimited = agentCalls.filter((c) => c.limited).length;
  const windowsTouched =
    minute(Math.max(...agentCalls.map((c) => c.done))) - minute(Math.min(...agentCalls.map((c) => c.sent))) + 1;

  recordSummary('load', {
    users: users.length,
    signInSeconds: Math.round(signInMs / 1000),
    loadSeconds: Math.round(loadMs / 1000),
    requests,
    rps: Math.round((requests / loadMs) * 1000),
    itemsCreated: createdOk.size,
    createsRateLimited: createdRefused.size,
    createsUnsure: createdUnsure.size,
    rateLimited,
    agentCalls: agentCalls.length,
    agentOk,
    agentLimited,
    fiveXx: fiveXx.length,
    leaks: leaks.length,
    lostTokens: lostTokens.length,
    wrongCreates: wrongCreates.length,
    otherFailures: failures.length,
    thrown,
    serverErrorLogs: serverLines.length,
  });
  if (failures.length)
    process.stdout.write(`[resilience] load: first failures: ${JSON.stringify(failures.slice(0, 5))}\n`);

  expect(leaks).toEqual([]);
  expect(fiveXx).toEqual([]);
  expect(wrongCreates).toEqual([]);
  expect(lostTokens).toEqual([]);
  expect(createdOk.size).toBeGreaterThan(0);
  // rate limit: never more successes than the limit in one window, and refused once exceeded (the load makes
  // more agent calls than the windows it spans allow, or it would not test the limit)
  expect(agentOk).toBeLessThanOrEqual(AGENT_LIMIT * windowsTouched);
  expect([...windows].filter(([, ok]) => ok > AGENT_LIMIT)).toEqual([]); // [window, successes] over the limit
  expect(agentCalls.length).toBeGreaterThan(AGENT_LIMIT * windowsTouched);
  expect(agentLimited).toBeGreaterThan(0);
  // tolerate rare tool-level failures (e.g. a Rally hiccup) but not systematic ones
  expect(failures.length).toBeLessThanOrEqual(Math.ceil(requests * 0.01));
}, 240_000);
