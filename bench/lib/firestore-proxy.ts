/**
 * A counting HTTP proxy in front of the Firestore emulator: point the
 * server's FIRESTORE_EMULATOR_HOST at it and it forwards every REST call,
 * counting them by kind (runQuery, batchGet, document GET, commit, …).
 */
import { createServer, request, type Server } from 'node:http';

export interface FirestoreProxy {
  readonly host: string;
  counts(): Record<string, number>;
  reset(): void;
  /** Reads (documents returned by GET/batchGet/runQuery calls are not counted; calls are). */
  reads(): number;
  writes(): number;
  stop(): Promise<void>;
}

export function classify(method: string, path: string): string {
  const p = path.split('?')[0] ?? '';
  const verb = /:(\w+)$/.exec(p)?.[1];
  if (verb) return `:${verb}`;
  if (p.includes('/documents')) return `${method} documents`;
  return `${method} other`;
}

const READ_KINDS = new Set([':runQuery', ':batchGet', 'GET documents', ':runAggregationQuery', ':listDocuments']);
const WRITE_KINDS = new Set([':commit', 'PATCH documents', 'DELETE documents', 'POST documents', ':batchWrite']);

export async function startFirestoreProxy(target: string): Promise<FirestoreProxy> {
  const [targetHost, targetPort] = target.split(':');
  let counts: Record<string, number> = {};
  const server: Server = createServer((req, res) => {
    const kind = classify(req.method ?? 'GET', req.url ?? '/');
    counts[kind] = (counts[kind] ?? 0) + 1;
    const up = request(
      { host: targetHost, port: Number(targetPort), method: req.method, path: req.url, headers: req.headers },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      },
    );
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const sum = (set: Set<string>) => Object.entries(counts).reduce((a, [k, v]) => a + (set.has(k) ? v : 0), 0);
  return {
    host: `127.0.0.1:${port}`,
    counts: () => ({ ...counts }),
    reset: () => {
      counts = {};
    },
    reads: () => sum(READ_KINDS),
    writes: () => sum(WRITE_KINDS),
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
