/**
 * A connection token's "last used" day (issue 18): written on its first use, then at most once an
 * hour (LAST_USED_EVERY_SECONDS), so warm calls write nothing to Firestore; shown on the token list
 * and on "Your access". Over real HTTP against the local stack, on the servers' clock.
 */
import { callWithHeaders, createToken, openConsole, signInToConsole } from '../../helpers/connections.js';
import { depsFor, startTestStack, waitOutLinkCache, type TestStack } from '../../helpers/stack.js';
import { connectionTokenPath } from '../../../shared/store/connection-tokens.repo.js';

describe('connection token: last used', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('is written on first use, then at most once an hour: warm calls leave the record untouched; the list and /account show it', async () => {
    const jar = await signInToConsole(stack.url, 'alice');
    const { token, id } = await createToken(stack.url, jar);
    const db = await depsFor(stack).db();
    const record = () => db.doc(connectionTokenPath(id)).get();
    expect((await record()).get('lastUsedAt')).toBeUndefined();
    expect((await openConsole(stack.url, jar)).body).toContain('not used yet');

    const use = async () =>
      expect((await callWithHeaders(stack.url, { 'X-Rally-MCP-Token': token }, 'get_rally_user')).status).toBe(200);
    await use();
    const first = await record();
    const firstUse = first.get('lastUsedAt').toDate() as Date;
    expect(Math.abs(firstUse.getTime() - stack.clock.now().getTime())).toBeLessThan(60_000);

    for (let i = 0; i < 3; i++) await use(); // warm: the instance's copy says "used just now"
    await waitOutLinkCache(stack);
    await use(); // the record read again: the stored day says the same
    const warm = await record();
    expect(warm.updateTime?.isEqual(first.updateTime!)).toBe(true); // no write since the first use
    expect((warm.get('lastUsedAt').toDate() as Date).getTime()).toBe(firstUse.getTime());

    await stack.clock.advanceSeconds(3600);
    await use();
    const later = (await record()).get('lastUsedAt').toDate() as Date;
    expect(later.getTime() - firstUse.getTime()).toBeGreaterThanOrEqual(3600_000);

    const fresh = await signInToConsole(stack.url, 'alice'); // the page's session lasts 15 minutes
    const day = later.toISOString().slice(0, 10);
    expect((await openConsole(stack.url, fresh)).body).toContain(`last used ${day}`);
    const account = await fetch(`${stack.url}/account`, { headers: { cookie: fresh.header(`${stack.url}/account`)! } });
    expect(await account.text()).toContain(`<dt>Last used</dt><dd>${day}</dd>`);
  });
});
