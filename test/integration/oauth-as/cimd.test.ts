/**
 * Security cases L5, L6 and H24: fetching a Client ID Metadata Document (CIMD).
 * L5 over real HTTP against a stack with DANGEROUSLY_ALLOW_LOOPBACK_CIMD off
 * (as in production), with a TCP listener on loopback that must see no
 * connection; L6 against a local CIMD host that drips its document.
 */
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Firestore } from '@google-cloud/firestore';
import { startTestStack, type TestStack } from '../../helpers/stack.js';
import { pkcePair, tokenRequest } from '../../helpers/oauth-flow.js';
import { emulatorFirestore } from '../../helpers/firestore.js';
import { findClient } from '../../../shared/store/clients.repo.js';
import { resolveClient } from '../../../shared/oauth-as/clients.js';

const REDIRECT = 'http://127.0.0.1:33418/callback';
const PRODUCTION_DEADLINE_MS = 3000;

const listen = (server: TcpServer, host: string, port = 0) =>
  new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, ipv6Only: host.includes(':') }, () =>
      resolve((server.address() as { port: number }).port),
    );
  });
const close = (server: TcpServer) => new Promise<void>((resolve) => server.close(() => resolve()));

/** One port on 127.0.0.1 and [::1] (so also ::ffff:127.0.0.1): records every connection and answers none. */
async function loopbackTrap() {
  const connections: string[] = [];
  const onConnection = (socket: import('node:net').Socket) => {
    connections.push(String(socket.remoteAddress));
    socket.destroy();
  };
  const v4 = createTcpServer(onConnection);
  const v6 = createTcpServer(onConnection);
  const port = await listen(v4, '127.0.0.1');
  await listen(v6, '::1', port);
  return { port, connections, stop: () => Promise.all([close(v4), close(v6)]) };
}

/**
 * A CIMD host on 127.0.0.1 and [::1] that sends 200 and its headers at once,
 * then one space every 200 ms for `dripMs`, then a valid document whose
 * client_id names it by `hostname`. `closedAfterMs`: when each response's
 * connection closed, from the request's arrival.
 */
async function drippingCimdHost(dripMs: number, hostname = '127.0.0.1') {
  const closedAfterMs: number[] = [];
  const handler = (_req: IncomingMessage, res: ServerResponse) => {
    const arrived = Date.now();
    const doc = JSON.stringify({ client_id: url, client_name: 'Drip', redirect_uris: [REDIRECT] });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    const tick = setInterval(() => {
      if (Date.now() - arrived < dripMs) res.write(' ');
      else res.end(doc);
    }, 200);
    res.on('close', () => {
      clearInterval(tick);
      closedAfterMs.push(Date.now() - arrived);
    });
  };
  const servers = [createHttpServer(handler), createHttpServer(handler)];
  const port = await listen(servers[0]!, '127.0.0.1');
  await listen(servers[1]!, '::1', port);
  const url = `http://${hostname}:${port}/drip/client.json`;
  return {
    url,
    closedAfterMs,
    stop: () => Promise.all(servers.map((s) => (s.closeAllConnections(), close(s)))),
  };
}

/** A CIMD host on 127.0.0.1 serving `documents[path]` (with its own URL as client_id) at each path. */
async function cimdHost(documents: Record<string, Record<string, unknown>>) {
  const server = createHttpServer((req, res) => {
    const doc = documents[req.url ?? ''];
    if (!doc) return void res.writeHead(404).end();
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ client_id: urlOf(req.url!), ...doc }));
  });
  const port = await listen(server, '127.0.0.1');
  const urlOf = (path: string) => `http://127.0.0.1:${port}${path}`;
  return { urlOf, stop: () => (server.closeAllConnections(), close(server)) };
}

const firestoreOf = (stack: TestStack) => emulatorFirestore(stack.projectId, stack.firestoreHost);

const authorize = (base: string, clientId: string) => {
  const url = new URL(`${base}/authorize`);
  const params = {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
    state: 'st',
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return fetch(url, { redirect: 'manual' });
};
const revoke = (base: string, clientId: string) =>
  fetch(`${base}/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: 'x'.repeat(43), client_id: clientId }),
  });

/** Every spelling of loopback a CIMD client_id could use, on the trap's port. */
const loopbackClientIds = (port: number) => [
  `https://[::ffff:127.0.0.1]:${port}/client.json`,
  `https://[::ffff:7f00:1]:${port}/client.json`,
  `https://[0:0:0:0:0:ffff:7f00:1]:${port}/client.json`,
  `https://[::1]:${port}/client.json`,
  `https://127.0.0.1:${port}/client.json`,
  `https://2130706433:${port}/client.json`,
  `https://localhost:${port}/client.json`, // a name: refused because it resolves to loopback
];

describe('CIMD fetch (L5, L6)', () => {
  let strict: TestStack; // DANGEROUSLY_ALLOW_LOOPBACK_CIMD off, as in production
  let local: TestStack; // the local stack's default: on
  let db: Firestore;

  beforeAll(async () => {
    [strict, local] = await Promise.all([
      startTestStack({ env: { DANGEROUSLY_ALLOW_LOOPBACK_CIMD: 'false' } }),
      startTestStack(),
    ]);
    db = firestoreOf(local);
    // A fresh project's first Firestore read can outlast the server's store deadline on a loaded machine (503):
    // take that hit here, not in the first case.
    for (const stack of [strict, local]) {
      for (let i = 0; i < 5 && (await authorize(stack.url, 'rmcp_warmup')).status === 503; i++);
    }
  });
  afterAll(async () => {
    await db?.terminate();
    await Promise.all([strict?.stop(), local?.stop()]);
  });

  describe('L5: SSRF through the client_id URL', () => {
    it('L5: /authorize with client_id at IPv4-mapped IPv6 loopback ([::ffff:127.0.0.1] and its other spellings) → unknown-client page, and no connection is made', async () => {
      const trap = await loopbackTrap();
      try {
        for (const clientId of loopbackClientIds(trap.port)) {
          const res = await authorize(strict.url, clientId);
          expect({
            clientId,
            status: res.status,
            location: res.headers.get('location'),
            unknown: (await res.text()).includes('Unknown application'),
          }).toEqual({ clientId, status: 400, location: null, unknown: true });
        }
        expect(trap.connections).toEqual([]);
      } finally {
        await trap.stop();
      }
    });

    it('L5: /token and /revoke with such a client_id → invalid_client, and no connection is made', async () => {
      const trap = await loopbackTrap();
      try {
        for (const clientId of loopbackClientIds(trap.port)) {
          const token = await tokenRequest(strict.url, {
            grant_type: 'authorization_code',
            code: 'c'.repeat(43),
            redirect_uri: REDIRECT,
            code_verifier: pkcePair().verifier,
            client_id: clientId,
          });
          const revoked = await revoke(strict.url, clientId);
          expect({
            clientId,
            token: token.json.error,
            revoke: ((await revoked.json()) as { error: string }).error,
          }).toEqual({ clientId, token: 'invalid_client', revoke: 'invalid_client' });
        }
        expect(trap.connections).toEqual([]);
      } finally {
        await trap.stop();
      }
    });

    it('L5: DANGEROUSLY_ALLOW_LOOPBACK_CIMD lets through plain http to 127.0.0.1/[::1]/localhost only: https or http to a mapped address is still refused unconnected', async () => {
      const trap = await loopbackTrap();
      try {
        const mapped = loopbackClientIds(trap.port).slice(0, 3);
        for (const clientId of [...mapped, ...mapped.map((u) => u.replace('https:', 'http:'))]) {
          const res = await authorize(local.url, clientId);
          expect({ clientId, status: res.status }).toEqual({ clientId, status: 400 });
        }
        expect(trap.connections).toEqual([]);
      } finally {
        await trap.stop();
      }
    });

    it("L5: a CIMD host given by name is fetched from the address that was checked (the pinned lookup answers Node's all:true query)", async () => {
      const host = await drippingCimdHost(0, 'localhost');
      try {
        const client = await resolveClient(host.url, {
          db,
          now: new Date(),
          allowLoopbackCimd: true,
          cimdDeadlineMs: 2000,
        });
        expect(client).toMatchObject({ clientId: host.url, source: 'cimd' });
      } finally {
        await host.stop();
      }
    });
  });

  describe('H24: application_type in a Client ID Metadata Document', () => {
    it('H24: a CIMD document is held to the redirect rules of its application_type (absent → web), and the type is stored on the client record', async () => {
      // VS Code's shape (native, https beside loopback), plus the redirect this test requests.
      const vscodeRedirects = ['https://vscode.dev/redirect', 'http://127.0.0.1/', 'http://127.0.0.1:33418/', REDIRECT];
      const host = await cimdHost({
        '/vscode.json': { client_name: 'VS Code', application_type: 'native', redirect_uris: vscodeRedirects },
        '/legacy.json': { client_name: 'Legacy', redirect_uris: [REDIRECT] },
        '/native-app.json': {
          client_name: 'App',
          application_type: 'native',
          redirect_uris: [REDIRECT, 'com.example.app:/cb'],
        },
        '/web-loopback.json': { client_name: 'Mixed', application_type: 'web', redirect_uris: [REDIRECT] },
        '/native-web-host.json': {
          client_name: 'Bad',
          application_type: 'native',
          redirect_uris: ['http://app.example.com/cb'],
        },
        '/scheme-without-native.json': { client_name: 'Bad', redirect_uris: ['com.example.app:/cb'] },
      });
      try {
        const accepted: Array<[string, string]> = [
          ['/vscode.json', 'native'],
          ['/legacy.json', 'web'],
          ['/native-app.json', 'native'],
        ];
        for (const [path, type] of accepted) {
          const res = await authorize(local.url, host.urlOf(path));
          expect({ path, status: res.status }).toEqual({ path, status: 200 });
          expect((await findClient(db, host.urlOf(path), new Date()))?.applicationType).toBe(type);
        }
        for (const path of ['/web-loopback.json', '/native-web-host.json', '/scheme-without-native.json']) {
          const res = await authorize(local.url, host.urlOf(path));
          expect({ path, status: res.status, unknown: (await res.text()).includes('Unknown application') }).toEqual({
            path,
            status: 400,
            unknown: true,
          });
          expect(await findClient(db, host.urlOf(path), new Date())).toBeUndefined();
        }
      } finally {
        await host.stop();
      }
    });
  });

  describe('L6: one total deadline for the fetch', () => {
    it('L6: a CIMD host that sends headers and then drips a byte every 200 ms is abandoned at the injected deadline; the client is not registered', async () => {
      const host = await drippingCimdHost(4000);
      try {
        const started = Date.now();
        const client = await resolveClient(host.url, {
          db,
          now: new Date(),
          allowLoopbackCimd: true,
          cimdDeadlineMs: 600,
        });
        const elapsed = Date.now() - started;
        expect(client).toBeUndefined();
        expect(elapsed).toBeGreaterThanOrEqual(600);
        expect(elapsed).toBeLessThan(2500);
        expect(await findClient(db, host.url, new Date())).toBeUndefined();
        expect(host.closedAfterMs).toHaveLength(1);
        expect(host.closedAfterMs[0]).toBeLessThan(2500); // we hung up; the host did not get to finish
      } finally {
        await host.stop();
      }
    });

    it(`L6: over HTTP, /authorize with a dripping CIMD host answers the unknown-client page at the production deadline (${PRODUCTION_DEADLINE_MS} ms), not when the host finishes`, async () => {
      const host = await drippingCimdHost(10_000);
      try {
        const started = Date.now();
        const res = await authorize(local.url, host.url);
        const elapsed = Date.now() - started;
        expect({ status: res.status, unknown: (await res.text()).includes('Unknown application') }).toEqual({
          status: 400,
          unknown: true,
        });
        expect(elapsed).toBeGreaterThanOrEqual(PRODUCTION_DEADLINE_MS);
        expect(elapsed).toBeLessThan(PRODUCTION_DEADLINE_MS + 4000);
        expect(await findClient(db, host.url, new Date())).toBeUndefined();
      } finally {
        await host.stop();
      }
    });

    it('control: the same host without the drip is accepted, both in process and over HTTP (the deadline, not the fetch, refuses the drip)', async () => {
      const host = await drippingCimdHost(0);
      try {
        const client = await resolveClient(host.url, {
          db,
          now: new Date(),
          allowLoopbackCimd: true,
          cimdDeadlineMs: 2000,
        });
        expect(client).toMatchObject({
          clientId: host.url,
          clientName: 'Drip',
          source: 'cimd',
          redirectUris: [REDIRECT],
        });
        const other = await drippingCimdHost(0);
        try {
          expect((await authorize(local.url, other.url)).status).toBe(200);
        } finally {
          await other.stop();
        }
      } finally {
        await host.stop();
      }
    });
  });
});
