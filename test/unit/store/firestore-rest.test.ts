/**
 * The REST document reader's contract without a server: value decoding like
 * the client library's, corrupt values refused, and every failure carrying a
 * gRPC code so withStoreRetry treats it like the library's (503 after retries).
 */
import { createRestDocumentReader, decodeFields, FirestoreRestError } from '../../../shared/store/firestore-rest.js';
import { CorruptRecordError, StoreUnavailableError, withStoreRetry } from '../../../shared/store/firestore-utils.js';
import { fakeFetch, jsonResponse, type FakeRoute } from '../../helpers/fetch.js';

function reader(route: FakeRoute, token: () => Promise<string> = async () => 'tok') {
  const { fetch, calls } = fakeFetch(route);
  return {
    calls,
    r: createRestDocumentReader({
      baseUrl: 'https://firestore.example/',
      projectId: 'p-1',
      databaseId: '(default)',
      accessToken: token,
      fetch,
    }),
  };
}

const json = (status: number, body: unknown) => jsonResponse(body, status);

describe('decodeFields', () => {
  it('decodes every value kind the way the client library returns it', () => {
    const out = decodeFields(
      {
        s: { stringValue: 'x' },
        i: { integerValue: '42' },
        neg: { integerValue: '-7' },
        d: { doubleValue: 1.5 },
        nan: { doubleValue: 'NaN' },
        b: { booleanValue: true },
        n: { nullValue: null },
        t: { timestampValue: '2026-11-23T01:02:03.456789Z' },
        bytes: { bytesValue: Buffer.from('hi').toString('base64') },
        ref: { referenceValue: 'projects/p/databases/(default)/documents/a/b' },
        geo: { geoPointValue: { latitude: 1.5 } },
        arr: { arrayValue: { values: [{ integerValue: '1' }, { stringValue: 'two' }] } },
        emptyArr: { arrayValue: {} },
        map: { mapValue: { fields: { inner: { mapValue: { fields: { deep: { booleanValue: false } } } } } } },
        emptyMap: { mapValue: {} },
      },
      'c',
    );
    expect(out).toMatchObject({
      s: 'x',
      i: 42,
      neg: -7,
      d: 1.5,
      b: true,
      n: null,
      ref: 'projects/p/databases/(default)/documents/a/b',
      geo: { latitude: 1.5, longitude: 0 },
      arr: [1, 'two'],
      emptyArr: [],
      map: { inner: { deep: false } },
      emptyMap: {},
    });
    expect(Number.isNaN(out.nan)).toBe(true);
    expect((out.t as { toDate(): Date }).toDate().toISOString()).toBe('2026-11-23T01:02:03.456Z');
    expect(Buffer.isBuffer(out.bytes) && out.bytes.toString()).toBe('hi');
  });

  it.each([
    ['an unknown kind', { x: { fancyValue: 1 } }],
    ['two kinds in one value', { x: { stringValue: 'a', integerValue: '1' } }],
    ['an integer beyond 2^53', { x: { integerValue: '9007199254740993' } }],
    ['a non-numeric integer', { x: { integerValue: '12abc' } }],
    ['a bad timestamp', { x: { timestampValue: 'yesterday' } }],
    ['a string that is not a string', { x: { stringValue: 5 } }],
    ['a double spelled as words', { x: { doubleValue: 'lots' } }],
    ['a malformed nested map', { x: { mapValue: { fields: { y: 'plain' } } } }],
    ['fields that are not a map', ['a']],
  ])('%s → CorruptRecordError naming the collection', (_what, fields) => {
    expect(() => decodeFields(fields, 'rally_tokens')).toThrow(new CorruptRecordError('rally_tokens'));
  });
});

describe('createRestDocumentReader', () => {
  it('GETs the document by path with the bearer token and decodes its fields', async () => {
    const { r, calls } = reader(() => json(200, { name: 'n', fields: { v: { integerValue: '3' } } }));
    expect(await r.get('rally_tokens/abc_DEF-123')).toEqual({ v: 3 });
    expect(calls).toMatchObject([
      {
        url: 'https://firestore.example/v1/projects/p-1/databases/(default)/documents/rally_tokens/abc_DEF-123',
        method: 'GET',
        headers: { authorization: 'Bearer tok', 'google-cloud-resource-prefix': 'projects/p-1/databases/(default)' },
      },
    ]);
  });

  it('404 → undefined (no such document)', async () => {
    const { r } = reader(() => json(404, { error: { code: 404, status: 'NOT_FOUND' } }));
    expect(await r.get('rally_tokens/x')).toBeUndefined();
  });

  it.each(['', 'rally_tokens', 'rally_tokens/a/b', '../x/y', 'rally_tokens/a?x=1', 'a b/c'])(
    'refuses %j as a document path before any request',
    async (path) => {
      const { r, calls } = reader(() => json(200, {}));
      await expect(r.get(path)).rejects.toThrow(TypeError);
      expect(calls).toHaveLength(0);
    },
  );

  it.each([
    [json(503, { error: { code: 503, status: 'UNAVAILABLE' } }), 14],
    [json(429, { error: { code: 429, status: 'RESOURCE_EXHAUSTED' } }), 8],
    [json(403, { error: { code: 403, status: 'PERMISSION_DENIED' } }), 7],
    [json(401, { error: { code: 401, status: 'UNAUTHENTICATED' } }), 16],
    [new Response('<html>bad gateway</html>', { status: 502 }), 14],
    [new Response('teapot', { status: 418 }), 2],
    // a status named like an Object.prototype member is no gRPC code: by HTTP status, as if absent
    [json(400, { error: { code: 400, status: 'constructor' } }), 2],
    [json(503, { error: { code: 503, status: '__proto__' } }), 14],
    [new Response('<html>200 but not JSON</html>', { status: 200 }), 13],
  ])('an error answer → FirestoreRestError with the gRPC code (%#)', async (res, code) => {
    const { r } = reader(() => res);
    await expect(r.get('rally_tokens/x')).rejects.toMatchObject({ name: 'FirestoreRestError', code });
  });

  it('a refused connection and a missing credential are UNAVAILABLE', async () => {
    const refused = reader(() =>
      Promise.reject(new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED') })),
    );
    await expect(refused.r.get('rally_tokens/x')).rejects.toMatchObject({ code: 14 });
    const noCredentials = reader(
      () => json(200, {}),
      () => Promise.reject(new Error('Could not load the default credentials')),
    );
    await expect(noCredentials.r.get('rally_tokens/x')).rejects.toMatchObject({ code: 14 });
    expect(noCredentials.calls).toHaveLength(0);
  });

  it('under withStoreRetry: UNAVAILABLE is retried, then StoreUnavailableError (503); PERMISSION_DENIED is not retried', async () => {
    const down = reader(() => json(503, { error: { status: 'UNAVAILABLE' } }));
    await expect(withStoreRetry(() => down.r.get('rally_tokens/x'))).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(down.calls).toHaveLength(3);
    const denied = reader(() => json(403, { error: { status: 'PERMISSION_DENIED' } }));
    await expect(withStoreRetry(() => denied.r.get('rally_tokens/x'))).rejects.toBeInstanceOf(FirestoreRestError);
    expect(denied.calls).toHaveLength(1);
  });

  describe('reads asked for together', () => {
    const NAME = 'projects/p-1/databases/(default)/documents/';
    const found = (path: string, v: number) => ({
      found: { name: NAME + path, fields: { v: { integerValue: String(v) } } },
    });

    it('go out as one batchGet, and each caller gets its own document (absent ones undefined)', async () => {
      const { r, calls } = reader(() =>
        json(200, [{ missing: `${NAME}rally_tokens/b` }, found('rally_tokens/a', 1), found('connection_tokens/c', 3)]),
      );
      const got = await Promise.all([r.get('rally_tokens/a'), r.get('rally_tokens/b'), r.get('connection_tokens/c')]);
      expect(got).toEqual([{ v: 1 }, undefined, { v: 3 }]);
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({
        url: 'https://firestore.example/v1/projects/p-1/databases/(default)/documents:batchGet',
        method: 'POST',
        headers: { authorization: 'Bearer tok', 'google-cloud-resource-prefix': 'projects/p-1/databases/(default)' },
        hasSignal: true,
      });
      expect(JSON.parse(calls[0]?.body ?? '')).toEqual({
        documents: [`${NAME}rally_tokens/a`, `${NAME}rally_tokens/b`, `${NAME}connection_tokens/c`],
      });
    });

    it('a read asked for later is not held back: it goes out on its own', async () => {
      const { r, calls } = reader((req) => json(200, { name: req.url, fields: { v: { integerValue: '7' } } }));
      expect(await r.get('rally_tokens/a')).toEqual({ v: 7 });
      expect(await r.get('rally_tokens/b')).toEqual({ v: 7 });
      expect(calls.map((c) => c.method)).toEqual(['GET', 'GET']);
    });

    it('a corrupt document, or one the answer does not mention, fails only its own caller; never absent', async () => {
      const { r } = reader(() =>
        json(200, [
          found('rally_tokens/a', 1),
          { found: { name: `${NAME}rally_tokens/b`, fields: { x: { fancyValue: 1 } } } },
        ]),
      );
      const [a, b, c] = await Promise.allSettled([
        r.get('rally_tokens/a'),
        r.get('rally_tokens/b'),
        r.get('rally_tokens/c'),
      ]);
      expect(a).toEqual({ status: 'fulfilled', value: { v: 1 } });
      expect(b).toMatchObject({ status: 'rejected', reason: new CorruptRecordError('rally_tokens') });
      expect(c).toMatchObject({ status: 'rejected', reason: { name: 'FirestoreRestError', code: 13 } });
    });

    it.each([
      [json(503, { error: { code: 503, status: 'UNAVAILABLE' } }), 14],
      [json(403, { error: { code: 403, status: 'PERMISSION_DENIED' } }), 7],
      [json(200, { not: 'an array' }), 13],
      [new Response('<html>200 but not JSON</html>', { status: 200 }), 13],
    ])('a failed batch fails every caller with its gRPC code (%#)', async (res, code) => {
      const { r } = reader(() => res);
      const all = await Promise.allSettled([r.get('rally_tokens/a'), r.get('rally_tokens/b')]);
      expect(all).toMatchObject([
        { status: 'rejected', reason: { name: 'FirestoreRestError', code } },
        { status: 'rejected', reason: { name: 'FirestoreRestError', code } },
      ]);
    });

    it('a refused connection or a missing credential fails every caller UNAVAILABLE', async () => {
      const refused = reader(() => Promise.reject(new TypeError('fetch failed')));
      const noCredentials = reader(
        () => json(200, []),
        () => Promise.reject(new Error('Could not load the default credentials')),
      );
      for (const { r } of [refused, noCredentials])
        expect(await Promise.allSettled([r.get('rally_tokens/a'), r.get('rally_tokens/b')])).toMatchObject([
          { status: 'rejected', reason: { code: 14 } },
          { status: 'rejected', reason: { code: 14 } },
        ]);
      expect(noCredentials.calls).toHaveLength(0);
    });
  });
});
