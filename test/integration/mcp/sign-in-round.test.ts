/**
 * The 2026-07-28 sign-in prompt on the wire (shared/mcp/sign-in-round.ts), and
 * every way a client could bend its `requestState`: each refusal is the SDK's
 * -32602 before the tool runs (no Rally request), cases N1–N7 and N9 of
 * docs/security-cases.md. Raw HTTP with the revision's `_meta` envelope, as
 * the v2 client sends it, so the tests can send what that client never would.
 */
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  PROTOCOL_VERSION_META_KEY,
} from '@modelcontextprotocol/server';
import { COLLECTIONS } from '../../../shared/store/collections.js';
import { depsFor, startTestStack, type TestStack } from '../../helpers/stack.js';
import { browse, mcpCall, signIn, type SignedIn } from '../../helpers/oauth-flow.js';

const MODERN = '2026-07-28';
const URL_ELICITATION = { elicitation: { url: {} } };

describe('2026-07-28 sign-in prompt: input_required with a sealed requestState', () => {
  let stack: TestStack;
  let alice: SignedIn;
  let id = 10;

  beforeAll(async () => {
    stack = await startTestStack({ env: { SESSION_LINK_MODE: 'false' } });
    alice = await signIn(stack.url, 'alice');
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** A 2026-07-28 tools/call: the envelope in `_meta`, the revision in the header. */
  const call = (
    who: SignedIn,
    name: string,
    args: Record<string, unknown>,
    extra: { requestState?: string; inputResponses?: Record<string, unknown>; capabilities?: object } = {},
  ) =>
    mcpCall(
      stack.mcpUrl,
      {
        jsonrpc: '2.0',
        id: id++,
        method: 'tools/call',
        params: {
          name,
          arguments: args,
          ...(extra.requestState !== undefined ? { requestState: extra.requestState } : {}),
          ...(extra.inputResponses ? { inputResponses: extra.inputResponses } : {}),
          _meta: {
            [PROTOCOL_VERSION_META_KEY]: MODERN,
            [CLIENT_INFO_META_KEY]: { name: 'raw-2026', version: '1.0.0' },
            [CLIENT_CAPABILITIES_META_KEY]: extra.capabilities ?? URL_ELICITATION,
          },
        },
      },
      {
        authorization: `Bearer ${who.accessToken}`,
        'mcp-protocol-version': MODERN,
        'mcp-method': 'tools/call',
        'mcp-name': name,
      },
    );

  const ACCEPT = { rally_sign_in: { action: 'accept' } };
  const rallyCalls = () => stack.sandbox!.requests().filter((r) => r.url.startsWith('/slm/')).length;

  /** `who` loses the Rally link and the next call is the prompt: its URL and state. */
  async function prompt(who: SignedIn, name = 'get_rally_user', args: Record<string, unknown> = {}) {
    expect((await call(who, 'disconnect_rally', {})).json.result.structuredContent).toMatchObject({
      disconnected: true,
    });
    const res = await call(who, name, args);
    expect(res.status).toBe(200);
    const result = res.json.result;
    expect(result.resultType).toBe('input_required');
    return { url: result.inputRequests.rally_sign_in.params.url as string, state: result.requestState as string };
  }

  /** The answer the SDK gives a state it refused, and proof that the tool did not run. */
  async function expectRefused(res: Promise<Awaited<ReturnType<typeof call>>>) {
    stack.sandbox!.clearRequests();
    const { json } = await res;
    expect(json.error).toMatchObject({ code: -32602, message: 'Invalid or expired requestState' });
    expect(json.result).toBeUndefined();
    expect(rallyCalls()).toBe(0);
  }

  it('the prompt is an input_required URL elicitation with an encrypted state, never -32042, and the retry with it runs the tool', async () => {
    const res0 = await call(alice, 'disconnect_rally', {});
    expect(res0.json.result.structuredContent).toMatchObject({ disconnected: true });
    const res = await call(alice, 'get_rally_user', {});
    expect(res.json.error).toBeUndefined();
    const result = res.json.result;
    expect(result).toMatchObject({
      resultType: 'input_required',
      inputRequests: {
        rally_sign_in: {
          method: 'elicitation/create',
          params: { mode: 'url', url: expect.stringMatching(/\/connect\/[A-Za-z0-9_-]{43}$/) },
        },
      },
    });
    expect(result.inputRequests.rally_sign_in.params.message).toMatch(/Verification code: [A-Z2-9]{3}-[A-Z2-9]{3}/);
    expect(result.inputRequests.rally_sign_in.params).not.toHaveProperty('elicitationId'); // not in this revision
    // A compact JWE (five parts): nothing in it is readable without our key.
    expect(result.requestState).toMatch(
      /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/,
    );
    expect(Buffer.from(result.requestState.split('.')[0], 'base64url').toString()).toMatch(/"alg":"A256KW"/);
    expect(JSON.stringify(result)).not.toContain(alice.accessToken);

    await browse(result.inputRequests.rally_sign_in.params.url, { username: 'alice', stopAt: 'never' });
    stack.sandbox!.clearRequests();
    const retry = await call(
      alice,
      'get_rally_user',
      {},
      { requestState: result.requestState, inputResponses: ACCEPT },
    );
    expect(retry.json.result.isError ?? false).toBe(false);
    expect(JSON.stringify(retry.json.result.structuredContent)).toContain('alice@example.com');
    expect(rallyCalls()).toBeGreaterThan(0);
    // Spent in Firestore by the hash of its random id: the state itself is not stored.
    const spent = await (await depsFor(stack).db()).collection(COLLECTIONS.spentRequestStates).get();
    expect(spent.size).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(spent.docs.map((d) => d.data()))).not.toContain(result.requestState);
  });

  it('N1: a tampered requestState (one character of the ciphertext changed) is refused before the tool runs', async () => {
    const { state } = await prompt(alice);
    const parts = state.split('.');
    const body = parts[3]!;
    parts[3] = (body[0] === 'A' ? 'B' : 'A') + body.slice(1);
    await expectRefused(call(alice, 'get_rally_user', {}, { requestState: parts.join('.'), inputResponses: ACCEPT }));
  });

  it('N2: a requestState replayed after its retry is refused; so is a second concurrent retry', async () => {
    const { url, state } = await prompt(alice);
    await browse(url, { username: 'alice', stopAt: 'never' });
    const both = await Promise.all([
      call(alice, 'get_rally_user', {}, { requestState: state, inputResponses: ACCEPT }),
      call(alice, 'get_rally_user', {}, { requestState: state, inputResponses: ACCEPT }),
    ]);
    expect(both.filter((r) => r.json.result?.structuredContent).length).toBe(1);
    expect(both.filter((r) => r.json.error?.code === -32602).length).toBe(1);
    await expectRefused(call(alice, 'get_rally_user', {}, { requestState: state, inputResponses: ACCEPT }));
  });

  it("N3: alice's requestState is refused for bob, and for another client of alice's (another grant)", async () => {
    const bob = await signIn(stack.url, 'bob');
    const aliceElsewhere = await signIn(stack.url, 'alice');
    const { state } = await prompt(alice);
    await expectRefused(call(bob, 'get_rally_user', {}, { requestState: state, inputResponses: ACCEPT }));
    await expectRefused(call(aliceElsewhere, 'get_rally_user', {}, { requestState: state, inputResponses: ACCEPT }));
  });

  it('N4: a requestState is refused for another tool or other arguments than the request that got the prompt', async () => {
    const { state } = await prompt(alice, 'get_rally_issue', { id: 'US1' });
    await expectRefused(call(alice, 'get_rally_issue', { id: 'US2' }, { requestState: state, inputResponses: ACCEPT }));
    await expectRefused(call(alice, 'get_rally_user', {}, { requestState: state, inputResponses: ACCEPT }));
    // The same request, its arguments in another key order, is the same request.
    const { state: second } = await prompt(alice, 'search_rally_items', { types: ['story'], text: 'login' });
    const same = await call(
      alice,
      'search_rally_items',
      { text: 'login', types: ['story'] },
      { requestState: second, inputResponses: ACCEPT },
    );
    expect(same.json.error).toBeUndefined();
  });

  it('N5: a requestState older than its 10 minutes is refused', async () => {
    const { state } = await prompt(alice);
    await stack.clock.advanceSeconds(601); // the access token (1 h) is still good: only the state is too old
    await expectRefused(call(alice, 'get_rally_user', {}, { requestState: state, inputResponses: ACCEPT }));
  });

  it('N6: a forged requestState (plain JSON, an unsigned JWT, a JWS) is refused', async () => {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const claims = { v: 1, id: 'A'.repeat(22), tool: 'get_rally_user', exp: 9_999_999_999 };
    for (const forged of [
      JSON.stringify(claims),
      b64(claims),
      `${b64({ alg: 'none' })}.${b64(claims)}.`,
      `${b64({ alg: 'HS256' })}.${b64(claims)}.${'A'.repeat(43)}`,
      `${b64({ alg: 'dir', enc: 'A256GCM', kid: '1' })}..${'A'.repeat(16)}.${'A'.repeat(20)}.${'A'.repeat(22)}`,
    ]) {
      await expectRefused(call(alice, 'get_rally_user', {}, { requestState: forged, inputResponses: ACCEPT }));
    }
  });

  it('N7: a retry whose user declined or cancelled the sign-in does not run the tool and says so', async () => {
    for (const action of ['decline', 'cancel']) {
      const { state } = await prompt(alice, 'create_rally_story', { name: `Never created (${action})` });
      stack.sandbox!.clearRequests();
      const res = await call(
        alice,
        'create_rally_story',
        { name: `Never created (${action})` },
        { requestState: state, inputResponses: { rally_sign_in: { action } } },
      );
      expect(res.json.result.isError).toBe(true);
      expect(res.json.result.content[0].text).toMatch(/sign-in was declined, so the tool did not run/);
      expect(rallyCalls()).toBe(0);
      expect(stack.sandbox!.items('hierarchicalrequirement').map((i) => i.Name)).not.toContain(
        `Never created (${action})`,
      );
    }
  });

  it('N9: a 2026-07-28 client that does not declare URL elicitation gets the clickable link, not input_required', async () => {
    await call(alice, 'disconnect_rally', {});
    const res = await call(alice, 'get_rally_user', {}, { capabilities: {} });
    expect(res.json.result.resultType ?? 'complete').not.toBe('input_required');
    expect(res.json.result.isError).toBe(true);
    expect(res.json.result.content[0].text).toMatch(/\[Connect Rally\]\(http[^)]+\/connect\/[A-Za-z0-9_-]{43}\)/);
  });

  it('a 2026-07-28 tools/call without params or with a non-string name is refused by the protocol, not a server error', async () => {
    for (const params of [undefined, { name: 42, arguments: {} }]) {
      const res = await mcpCall(
        stack.mcpUrl,
        { jsonrpc: '2.0', id: id++, method: 'tools/call', ...(params ? { params } : {}) },
        {
          authorization: `Bearer ${alice.accessToken}`,
          'mcp-protocol-version': MODERN,
          'mcp-method': 'tools/call',
        },
      );
      expect(res.status).toBeLessThan(500);
      expect(res.json.error.code).toBeLessThan(-32000); // a JSON-RPC protocol error, never our -32603
      expect(res.json.error.code).not.toBe(-32603);
    }
  });
});
