/**
 * What an operator can do about connection tokens (issue 18): list and revoke a user's tokens
 * with `npm run admin -- tokens …` (ops/admin.ts) against the stack's Firestore emulator, and
 * turn the feature off (CONNECTION_TOKENS=false: the pages answer 404, every token 401).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { depsFor, startTestStack, waitOutLinkCache, type TestStack } from '../../helpers/stack.js';
import { callWithHeaders, createToken, signInToConsole, TOKEN_SHAPE } from '../../helpers/connections.js';
import { runAdmin } from '../../../ops/admin.js';
import { listConnectionTokens } from '../../../shared/store/connection-tokens.repo.js';
import { getGrant } from '../../../shared/store/grants.repo.js';

const ALICE = 'alice@example.com';
const plain = (token: string) => ({ 'X-Rally-MCP-Token': token });
const root = new URL('../../..', import.meta.url).pathname;

/** The real command line, as an operator runs it (npm run admin -- … is this with npm's banner). */
async function adminCli(stack: TestStack, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(
    `${root}node_modules/.bin/node`,
    ['--import', 'tsx', 'ops/admin.ts', ...args],
    {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        GOOGLE_CLOUD_PROJECT: stack.serverEnv.GOOGLE_CLOUD_PROJECT,
        FIRESTORE_EMULATOR_HOST: stack.serverEnv.FIRESTORE_EMULATOR_HOST,
      },
    },
  );
  return stdout;
}

describe('operators and connection tokens (issue 18)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('O12: npm run admin -- tokens list/revoke: lists a user’s tokens without secrets, revokes one by id, then every token and the grant → 401', async () => {
    const jar = await signInToConsole(stack.url, 'alice');
    const one = await createToken(stack.url, jar, { name: 'agent "one"' });
    const two = await createToken(stack.url, jar, {
      write: true,
      tools: 'get_rally_user',
      projects: ['Alice Private'],
    });
    const listed = await adminCli(stack, 'tokens', 'list', '--user', ALICE);
    expect(listed).toContain(one.id);
    expect(listed).toContain(two.id);
    expect(listed).toContain('"agent \\"one\\""');
    expect(listed).toMatch(/rally\.read,rally\.write\tget_rally_user\t\/project\/\d+\t/); // its project allowlist, as refs
    expect(listed).toContain(`${one.id}\tactive\trally.read\t*\t*\t`); // no tool list, no project list
    expect(TOKEN_SHAPE.test(listed)).toBe(false);

    expect(await adminCli(stack, 'tokens', 'revoke', '--id', one.id)).toContain(`revoked ${one.id}`);
    await waitOutLinkCache(stack);
    expect((await callWithHeaders(stack.url, plain(one.token), 'get_rally_user')).status).toBe(401);
    expect((await callWithHeaders(stack.url, plain(two.token), 'get_rally_user')).status).toBe(200);

    const out: string[] = [];
    const db = await depsFor(stack).db();
    const io = { db, now: () => stack.clock.now(), out: (l: string) => out.push(l) };
    expect(await runAdmin(['tokens', 'revoke', '--user', ALICE], io)).toBe(0);
    expect(out.join('\n')).toContain('revoked 1 token(s) and 1 connections grant(s)');
    await waitOutLinkCache(stack);
    expect((await callWithHeaders(stack.url, plain(two.token), 'get_rally_user')).status).toBe(401);
    const stored = await listConnectionTokens(db, { rallyUser: ALICE });
    expect(stored.map((t) => t.revokedBy).sort()).toEqual(['admin', 'admin']);
    expect((await getGrant(db, stored[0]!.grantId, stack.clock.now()))?.status).toBe('revoked');
    expect(await runAdmin(['tokens', 'revoke', '--id', 'not-an-id'], io)).toBe(2);
    expect(await runAdmin(['tokens', 'list'], io)).toBe(2);
  });

  it('O13: CONNECTION_TOKENS=false: /connections answers 404 and a token is refused (401) without being looked up', async () => {
    const jar = await signInToConsole(stack.url, 'bob');
    const { token } = await createToken(stack.url, jar);
    const off = await startTestStack({ env: { CONNECTION_TOKENS: 'false' } });
    try {
      expect((await fetch(`${off.url}/connections`)).status).toBe(404);
      const res = await callWithHeaders(off.url, plain(token), 'get_rally_user');
      expect(res.status).toBe(401);
      expect(off.logs.some((l) => l.includes('"connection_token_off"'))).toBe(true);
    } finally {
      await off.stop();
    }
    expect((await callWithHeaders(stack.url, plain(token), 'get_rally_user')).status).toBe(200); // on again: unchanged
  });
});
