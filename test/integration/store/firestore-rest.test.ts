/**
 * The lean REST reader against the real emulator: it returns what the client
 * library returns for the same document, and the token store reads a link
 * through it. In production it authenticates with Application Default
 * Credentials: exercised here through google-auth-library against a
 * metadata-server stand-in, the way a Cloud Function gets its token.
 */
import { jest } from '@jest/globals';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Firestore } from '@google-cloud/firestore';
import { createDeps, createDocumentReader, createFirestore } from '../../../shared/app/deps.js';
import { createAuthServices } from '../../../shared/app/auth-services.js';
import { createLogger } from '../../../shared/logging/logger.js';
import { grantPrincipal } from '../../../shared/store/upstream-tokens.repo.js';
import { ensureLocalKeys } from '../../../dev/local-keys.js';
import { loadConfig, type Config } from '../../../shared/config/config.js';
import {
  createRestDocumentReader,
  googleAccessToken,
  type DocumentReader,
} from '../../../shared/store/firestore-rest.js';
import { demoProjectId, emulatorHost } from '../../helpers/env.js';

jest.setTimeout(60_000);

let config: Config;
let db: Firestore;
let documents: DocumentReader;

let projectId: string;
const configEnv = () => ({
  NODE_ENV: 'development',
  PUBLIC_BASE_URL: 'http://127.0.0.1:1',
  GOOGLE_CLOUD_PROJECT: projectId,
  RALLY_CLIENT_ID: 'c',
  FIRESTORE_EMULATOR_HOST: emulatorHost(),
});

beforeAll(async () => {
  projectId = demoProjectId();
  config = loadConfig(configEnv());
  db = await createFirestore(config);
  documents = createDocumentReader(config, fetch);
});
afterAll(async () => {
  await db?.terminate();
});

/** What the client library's `data()` holds, with timestamps as ISO strings so both sides compare. */
const normal = (v: unknown): unknown => {
  if (v && typeof (v as { toDate?: unknown }).toDate === 'function')
    return (v as { toDate(): Date }).toDate().toISOString();
  if (Buffer.isBuffer(v)) return `bytes:${v.toString('base64')}`;
  if (Array.isArray(v)) return v.map(normal);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normal(x)]));
  return v;
};

describe('REST document reads (emulator)', () => {
  it('read the same values as the client library for every field type our records use, and more', async () => {
    const path = `rally_tokens/${randomBytes(16).toString('base64url')}`;
    await db.doc(path).set({
      principalKind: 'grant',
      status: 'linked',
      sealed: 'eyJhbGciOi.x.y.z.w',
      version: 7,
      leaseHolder: null,
      accessExpiresAt: new Date('2026-11-23T01:02:03.456Z'),
      rallyUser: { id: '123', login: 'alice@example.com' },
      ratio: 0.25,
      flag: true,
      list: ['a', 2, { nested: new Date(0) }],
      raw: Buffer.from([0, 1, 255]),
      big: 2 ** 40,
    });
    const viaLibrary = (await db.doc(path).get()).data();
    const viaRest = await documents.get(path);
    expect(normal(viaRest)).toEqual(normal(viaLibrary));
    expect(normal(viaRest)).toMatchObject({ version: 7, accessExpiresAt: '2026-11-23T01:02:03.456Z', big: 2 ** 40 });
  });

  it('a warm read through the token store never touches the Firestore client library', async () => {
    const keys = mkdtempSync(join(tmpdir(), 'rally-mcp-keys-'));
    await ensureLocalKeys(keys, { rallyClientSecret: randomBytes(21).toString('hex') });
    const withKeys = loadConfig({ ...configEnv(), SECRET_SOURCE: 'file', SECRETS_DIR: keys });
    const quiet = { log: createLogger({ level: 'error', write: () => {} }) };
    const principal = grantPrincipal(randomBytes(12).toString('hex'));
    const writer = await createDeps(withKeys, quiet).auth();
    await writer
      .tokenStore('rally')
      .link(
        principal,
        'grant',
        { accessToken: 'rally-at', refreshToken: 'rally-rt', accessExpiresAt: new Date(Date.now() + 3_600_000) },
        { id: '1', login: 'alice@example.com' },
      );

    const fresh = createDeps(withKeys, quiet); // a new instance
    let clientLoads = 0;
    const services = await createAuthServices({ ...fresh, db: () => (clientLoads++, fresh.db()) });
    const link = await services.tokenStore('rally').read(principal);
    expect(link?.tokens?.accessToken).toBe('rally-at');
    expect(link?.user.login).toBe('alice@example.com');
    expect(clientLoads).toBe(0);
  });

  it('reads asked for together (one batchGet) read the same as reads asked for alone, absent ones included', async () => {
    const id = () => randomBytes(16).toString('base64url');
    const [linked, absent, token, failed] = [
      `rally_tokens/${id()}`,
      `rally_tokens/${id()}`,
      `connection_tokens/${id()}`,
      `rally_tokens/${id()}`,
    ];
    const paths = [linked, absent, token, failed];
    await db.doc(linked).set({ status: 'linked', version: 1, at: new Date('2026-11-23T01:02:03.456Z') });
    await db.doc(token).set({ status: 'active', tools: ['get_rally_issue'], n: 2 ** 40 });
    await db.doc(failed).set({ status: 'refresh_failed', version: 3, nested: { a: [1, 'b'] } });
    const together = await Promise.all(paths.map((p) => documents.get(p)));
    const alone: unknown[] = [];
    for (const p of paths) alone.push(await documents.get(p));
    expect(together.map(normal)).toEqual(alone.map(normal));
    expect(together[1]).toBeUndefined();
    expect(normal(together[0])).toEqual({ status: 'linked', version: 1, at: '2026-11-23T01:02:03.456Z' });
    expect(normal(together[2])).toEqual(normal((await db.doc(token).get()).data()));
  });

  it('a missing document → undefined, like `exists: false`', async () => {
    expect(await documents.get(`rally_tokens/${randomBytes(16).toString('base64url')}`)).toBeUndefined();
  });

  it('a stopped port → UNAVAILABLE (gRPC 14), which the store turns into a 503', async () => {
    const gone = createRestDocumentReader({
      baseUrl: 'http://127.0.0.1:9',
      projectId: 'p',
      databaseId: '(default)',
      accessToken: async () => 'owner',
      fetch,
    });
    await expect(gone.get('rally_tokens/x')).rejects.toMatchObject({ name: 'FirestoreRestError', code: 14 });
  });
});

describe('production credentials (google-auth-library → metadata server)', () => {
  const saved: Record<string, string | undefined> = {};
  const ENV = ['GCE_METADATA_HOST', 'METADATA_SERVER_DETECTION', 'CLOUDSDK_CONFIG', 'GOOGLE_APPLICATION_CREDENTIALS'];
  let metadata: Server;
  let firestore: Server;
  const seen: {
    tokenRequests: number;
    metadataFlavor: Array<string | undefined>;
    authorization: Array<string | undefined>;
    paths: string[];
  } = {
    tokenRequests: 0,
    metadataFlavor: [],
    authorization: [],
    paths: [],
  };

  const listen = async (handler: (req: IncomingMessage, res: import('node:http').ServerResponse) => void) => {
    const s = createServer(handler);
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return s;
  };
  const portOf = (s: Server) => (s.address() as { port: number }).port;

  beforeAll(async () => {
    metadata = await listen((req, res) => {
      seen.metadataFlavor.push(req.headers['metadata-flavor'] as string | undefined);
      if (req.url?.startsWith('/computeMetadata/v1/instance/service-accounts/default/token')) {
        seen.tokenRequests++;
        res.writeHead(200, { 'content-type': 'application/json', 'metadata-flavor': 'Google' });
        res.end(JSON.stringify({ access_token: 'ya29.stand-in-token', expires_in: 3599, token_type: 'Bearer' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'metadata-flavor': 'Google' }).end('demo-project');
    });
    firestore = await listen((req, res) => {
      seen.authorization.push(req.headers.authorization);
      seen.paths.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ name: 'x', fields: { version: { integerValue: '2' } } }));
    });
    for (const k of ENV) saved[k] = process.env[k];
    process.env.GCE_METADATA_HOST = `127.0.0.1:${portOf(metadata)}`;
    process.env.METADATA_SERVER_DETECTION = 'assume-present';
    process.env.CLOUDSDK_CONFIG = mkdtempSync(join(tmpdir(), 'no-gcloud-config-')); // no user ADC file can win
    delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
  });
  afterAll(async () => {
    for (const k of ENV) {
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- deleting is how a variable leaves process.env
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    await new Promise((r) => metadata.close(r));
    await new Promise((r) => firestore.close(r));
  });

  it("sends the function's service-account token, fetched once and reused while valid", async () => {
    const reader = createRestDocumentReader({
      baseUrl: `http://127.0.0.1:${portOf(firestore)}`,
      projectId: 'my-project',
      databaseId: 'rally-mcp',
      accessToken: googleAccessToken(),
      fetch,
    });
    expect(await reader.get('rally_tokens/abc')).toEqual({ version: 2 });
    expect(await reader.get('rally_tokens/def')).toEqual({ version: 2 });
    expect(seen.authorization).toEqual(['Bearer ya29.stand-in-token', 'Bearer ya29.stand-in-token']);
    expect(seen.paths).toEqual([
      '/v1/projects/my-project/databases/rally-mcp/documents/rally_tokens/abc',
      '/v1/projects/my-project/databases/rally-mcp/documents/rally_tokens/def',
    ]);
    expect(seen.tokenRequests).toBe(1);
    expect(seen.metadataFlavor.every((h) => h === 'Google')).toBe(true);
  });
});
