/**
 * A local, plain-HTTP stand-in for the Secret Manager REST API (v1), just enough
 * for `@google-cloud/secret-manager` in fallback (REST) mode:
 * `GET /v1/projects/<p>/secrets/<s>/versions/<v>:access`. Tests drive it in-process:
 * add, disable or destroy versions, make the whole service unavailable, count accesses.
 * Listens on 127.0.0.1 only and checks no credentials: never for production.
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { crc32c } from '../shared/secrets/crc32c.js';

export type VersionState = 'ENABLED' | 'DISABLED' | 'DESTROYED';
export type UnavailableMode = 'http-503' | 'refuse-connections';

export interface SecretManagerStandinOptions {
  /** 0 or absent: an ephemeral port. */
  readonly port?: number;
  /** The only project the stand-in serves; others get 403 PERMISSION_DENIED. */
  readonly projectId?: string;
}

export interface SecretManagerStandin {
  readonly url: string;
  readonly port: number;
  readonly projectId: string;
  /** Adds a version (creating the secret if needed) and returns its number, "1", "2", … */
  addVersion(name: string, payload: Uint8Array | string): string;
  disableVersion(name: string, version: string): void;
  enableVersion(name: string, version: string): void;
  destroyVersion(name: string, version: string): void;
  /** `http-503` answers 503 UNAVAILABLE; `refuse-connections` stops listening (ECONNREFUSED). */
  setUnavailable(unavailable: boolean, mode?: UnavailableMode): Promise<void>;
  /** Test hook: send a wrong `dataCrc32c` (or, with `omit`, none at all). */
  setChecksumMode(mode: 'correct' | 'wrong' | 'omit'): void;
  /** Successful and failed :access calls that reached the server, per secret and version. */
  accessCount(name?: string, version?: string): number;
  /** Every :access call in arrival order, with its arrival time (performance.now()). */
  accessLog(): ReadonlyArray<{ readonly name: string; readonly version: string; readonly at: number }>;
  /** Delay before each answer, standing in for the network distance to Google's endpoint. */
  setLatency(ms: number): void;
  stop(): Promise<void>;
}

interface Version {
  readonly data: Uint8Array;
  state: VersionState;
}

const ACCESS_PATH = /^\/v1\/projects\/([^/]+)\/secrets\/([^/]+)\/versions\/([^/:]+):access$/;

const STATUS_HTTP: Record<string, number> = {
  NOT_FOUND: 404,
  FAILED_PRECONDITION: 400,
  PERMISSION_DENIED: 403,
  UNAVAILABLE: 503,
  INVALID_ARGUMENT: 400,
};

function sendError(res: ServerResponse, status: keyof typeof STATUS_HTTP, message: string): void {
  const code = STATUS_HTTP[status] ?? 500;
  res.writeHead(code, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify({ error: { code, message, status } }));
}

export async function startSecretManagerStandin(
  options: SecretManagerStandinOptions = {},
): Promise<SecretManagerStandin> {
  const projectId = options.projectId ?? 'demo-secret-standin';
  const secrets = new Map<string, Version[]>();
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();
  let unavailable = false;
  let checksumMode: 'correct' | 'wrong' | 'omit' = 'correct';

  const log: Array<{ name: string; version: string; at: number }> = [];
  let latencyMs = 0;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const arrivedAt = performance.now();
    if (latencyMs > 0) {
      setTimeout(() => answer(req, res, arrivedAt), latencyMs);
      return;
    }
    answer(req, res, arrivedAt);
  };

  const answer = (req: IncomingMessage, res: ServerResponse, arrivedAt: number): void => {
    const url = new URL(req.url ?? '/', 'http://standin');
    const match = ACCESS_PATH.exec(decodeURIComponent(url.pathname));
    if (req.method !== 'GET' || !match) {
      sendError(res, 'NOT_FOUND', `Method not found: ${req.method ?? ''} ${url.pathname}`);
      return;
    }
    const [, project = '', name = '', requested = ''] = match;
    const versions = secrets.get(name);
    const resolved =
      requested === 'latest'
        ? String(versions ? versions.findLastIndex((v) => v.state === 'ENABLED') + 1 : 0)
        : requested;
    counts.set(`${name}\u0000${resolved}`, (counts.get(`${name}\u0000${resolved}`) ?? 0) + 1);
    log.push({ name, version: resolved, at: arrivedAt });
    const resource = `projects/${project}/secrets/${name}/versions/${resolved}`;
    if (unavailable) {
      sendError(res, 'UNAVAILABLE', 'The service is currently unavailable.');
      return;
    }
    if (project !== projectId) {
      sendError(
        res,
        'PERMISSION_DENIED',
        `Permission 'secretmanager.versions.access' denied for resource '${resource}' (or it may not exist).`,
      );
      return;
    }
    if (!versions) {
      sendError(res, 'NOT_FOUND', `Secret [projects/${project}/secrets/${name}] not found or has no versions.`);
      return;
    }
    const version = /^\d+$/.test(resolved) ? versions[Number(resolved) - 1] : undefined;
    if (!version) {
      sendError(res, 'NOT_FOUND', `Secret Version [${resource}] not found.`);
      return;
    }
    if (version.state !== 'ENABLED') {
      sendError(res, 'FAILED_PRECONDITION', `Secret Version [${resource}] is in ${version.state} state.`);
      return;
    }
    const crc = checksumMode === 'wrong' ? (crc32c(version.data) ^ 1) >>> 0 : crc32c(version.data);
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(
      JSON.stringify({
        name: resource,
        payload: {
          data: Buffer.from(version.data).toString('base64'),
          ...(checksumMode === 'omit' ? {} : { dataCrc32c: String(crc) }),
        },
      }),
    );
  };

  const server: Server = createServer(handle);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  const close = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      for (const s of sockets) s.destroy(); // keep-alive sockets from the SDK's agent
    });

  const port = await listen(options.port ?? 0);
  let stopped = false;

  const versionOf = (name: string, version: string): Version => {
    const v = secrets.get(name)?.[Number(version) - 1];
    if (!v || !/^\d+$/.test(version)) throw new Error(`stand-in: no version ${version} of secret ${name}`);
    return v;
  };

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    projectId,
    addVersion(name, payload) {
      const list = secrets.get(name) ?? [];
      secrets.set(name, list);
      list.push({
        data: typeof payload === 'string' ? new TextEncoder().encode(payload) : Uint8Array.from(payload),
        state: 'ENABLED',
      });
      return String(list.length);
    },
    disableVersion(name, version) {
      const v = versionOf(name, version);
      if (v.state !== 'DESTROYED') v.state = 'DISABLED';
    },
    enableVersion(name, version) {
      const v = versionOf(name, version);
      if (v.state !== 'DESTROYED') v.state = 'ENABLED';
    },
    destroyVersion(name, version) {
      versionOf(name, version).state = 'DESTROYED';
    },
    async setUnavailable(on, mode = 'http-503') {
      unavailable = on && mode === 'http-503';
      if (stopped) return;
      if (on && mode === 'refuse-connections') await close();
      if (!on && !server.listening) await listen(port);
    },
    setChecksumMode(mode) {
      checksumMode = mode;
    },
    accessLog: () => [...log],
    setLatency(ms) {
      latencyMs = ms;
    },
    accessCount(name, version) {
      let n = 0;
      for (const [key, c] of counts) {
        const [k, v] = key.split('\u0000');
        if ((name === undefined || k === name) && (version === undefined || v === version)) n += c;
      }
      return n;
    },
    async stop() {
      stopped = true;
      await close();
    },
  };
}
