/**
 * Benchmark baseline: the bare MCP SDK stateless Streamable HTTP server (a new
 * McpServer + StreamableHTTPServerTransport per request, like ours), served by
 * functions-framework through getTestServer behind a tiny node:http server,
 * exactly as dev/front-door.ts serves ours. One tool, get_rally_issue, makes
 * the same WSAPI requests our tool makes (a plan captured from the sandbox
 * request log, per Rally token), with a fixed ZSESSIONID. No auth, no
 * Firestore, no sanitising, no logging. Plain ESM JS so it needs no loader.
 *
 * Env: PORT, RALLY_BASE_URL, BASELINE_PLANS_FILE (or BASELINE_PLANS) = JSON { [token]: string[][] }
 * (phases of paths; paths within a phase run in parallel). The request header
 * `x-bench-rally-token` picks the plan/token (default: the first one).
 */
import { readFileSync } from 'node:fs';
import * as ff from '@google-cloud/functions-framework';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
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

ff.http('baseline', async (req, res) => {
  const token = req.get('x-bench-rally-token') ?? defaultToken;
  const server = new McpServer({ name: 'baseline', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.registerTool(
    'get_rally_issue',
    { description: 'Get a Rally work item', inputSchema: { id: z.string() } },
    async () => {
      const item = await runPlan(token);
      return { content: [{ type: 'text', text: JSON.stringify({ item }) }] };
    },
  );
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, req.body);
});
