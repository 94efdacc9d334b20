/**
 * Our functions run outside functions-framework's per-request `node:domain`
 * (its bookkeeping on every promise was a quarter of the warm call's CPU), and
 * a failed start-up still answers a clean 503.
 */
import { createServer, type Server } from 'node:http';
import * as ff from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { defineFunction } from '../../../shared/app/entry.js';
import type { Deps } from '../../../shared/services/deps.js';
import { answerOAuthJsonEdgeError } from '../../../shared/oauth-as/edge-answer.js';
import { silentLogger } from '../../../shared/logging/logger.js';

/** Just what the wrapper itself reads from Deps. */
const stubDeps = { config: { MAX_BODY_BYTES: 1_000_000 }, log: silentLogger } as unknown as Deps;

const domainNow = () => (process as { domain?: unknown }).domain ?? null;

async function serve(name: string): Promise<{ url: string; close(): Promise<void> }> {
  const fn = getTestServer(name);
  const server: Server = createServer((req, res) => fn.emit('request', req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('defineFunction', () => {
  it('a plain framework function runs inside a domain; ours does not, also after an await', async () => {
    ff.http('entry-test-plain', (_req, res) => {
      res.json({ domain: domainNow() !== null });
    });
    defineFunction(
      'entry-test-ours',
      () => async (_req, res) => {
        const before = domainNow() !== null;
        await new Promise((r) => setTimeout(r, 1));
        res.json({ domain: before || domainNow() !== null });
      },
      { answerEdgeError: answerOAuthJsonEdgeError, loadDeps: async () => stubDeps },
    );

    const plain = await serve('entry-test-plain');
    const ours = await serve('entry-test-ours');
    try {
      expect(await (await fetch(plain.url)).json()).toEqual({ domain: true });
      expect(await (await fetch(ours.url)).json()).toEqual({ domain: false });
    } finally {
      await plain.close();
      await ours.close();
    }
  });

  it('dependencies that fail to load → 503 temporarily_unavailable, and the next request tries again', async () => {
    let attempts = 0;
    defineFunction('entry-test-broken', () => (_req, res) => void res.json({ ok: true }), {
      answerEdgeError: answerOAuthJsonEdgeError,
      loadDeps: async () => {
        attempts++;
        if (attempts === 1) throw new Error('Secret Manager unreachable');
        return stubDeps;
      },
    });
    const s = await serve('entry-test-broken');
    try {
      const first = await fetch(s.url);
      expect(first.status).toBe(503);
      expect(first.headers.get('cache-control')).toBe('no-store');
      expect(await first.json()).toEqual({
        error: 'temporarily_unavailable',
        error_description: 'The service is starting or misconfigured. Try again shortly.',
      });
      const second = await fetch(s.url);
      expect(second.status).toBe(200);
      expect(attempts).toBe(2);
    } finally {
      await s.close();
    }
  });
});
