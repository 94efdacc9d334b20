/**
 * Benchmark baseline for the 2026-07-28 path: the bare v2 MCP SDK
 * (`@modelcontextprotocol/server`), one `createMcpHandler` per instance with
 * the default stateless legacy serving, as the SDK documents it, served by
 * functions-framework like baseline-fn.mjs (baseline-v2.mjs puts it behind a
 * tiny node:http server, as dev/front-door.ts serves ours). A fresh McpServer
 * per request (the SDK's factory), one tool, get_rally_issue, making the same
 * WSAPI requests our tool makes (the plan captured from the sandbox request
 * log, per Rally token) with a fixed ZSESSIONID. No auth, no Firestore, no
 * sanitising, no logging. The Node request is handed to the web-standard
 * handler with its headers and the body functions-framework already parsed,
 * and the answer written back: the least a Functions-Framework function must
 * do to use the SDK's fetch-shaped handler. Plain ESM JS so it needs no loader.
 *
 * Env: PORT, RALLY_BASE_URL, BASELINE_PLANS_FILE (or BASELINE_PLANS) = JSON { [token]: string[][] }.
 * The request header `x-bench-rally-token` picks the plan/token (default: the first one).
 */
import { readFileSync } from 'node:fs';
import * as ff from '@google-cloud/functions-framework';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';

const rallyBase = process.env.RALLY_BASE_URL ?? 'http://127.0.0.1:8089';
const plans = process.env.BASELINE_PLANS_FILE
  ? JSON.parse(readFileSync(process.env.BASELINE_PLANS_FILE, 'utf8'))
  : JSON.parse(process.env.BASELINE_PLANS ?? '{}');
const defaultToken = Object.keys(plans)[0];

async function runPlan(token) {
  const plan = plans[token] ?? [];
  let item;
  for (const phase of plan) {
    const bodies = await Promise.all(
      phase.map(async (path) => {
        const res = await fetch(`${rallyBase}${path}`, { headers: { ZSESSIONID: token, accept: 'application/json' } });
        if (!res.ok) throw new Error(`Rally HTTP ${res.status}`);
        return res.json();
      }),
    );
    for (const b of bodies) {
      const r = b?.QueryResult?.Results?.[0];
      if (r && r.FormattedID) item ??= r;
    }
  }
  return item;
}

const handler = createMcpHandler(
  ({ requestInfo }) => {
    const token = requestInfo?.headers.get('x-bench-rally-token') ?? defaultToken;
    const server = new McpServer({ name: 'baseline-v2', version: '1.0.0' }, { capabilities: { tools: {} } });
    server.registerTool(
      'get_rally_issue',
      { description: 'Get a Rally work item', inputSchema: { id: z.string() } },
      async () => {
        const item = await runPlan(token);
        return { content: [{ type: 'text', text: JSON.stringify({ item }) }] };
      },
    );
    return server;
  },
  { legacy: 'stateless' },
);

ff.http('baselineV2', async (req, res) => {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && name !== 'content-length' && name !== 'host' && name !== 'connection')
      headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const request = new Request(`http://${req.headers.host ?? 'localhost'}${req.originalUrl ?? req.url}`, {
    method: req.method,
    headers,
  });
  const response = await handler.fetch(request, { parsedBody: req.body });
  res.status(response.status);
  response.headers.forEach((value, name) => res.setHeader(name, value));
  res.end(Buffer.from(await response.arrayBuffer()));
});
