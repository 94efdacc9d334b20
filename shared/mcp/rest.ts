/**
 * The designed plain-HTTP shape: `POST /tools/<tool_name>` with the JSON
 * arguments as the body. It runs the very same MCP server (same tools,
 * validation, policy and audit) through the SDK's in-memory client, and
 * maps the outcome to HTTP: 401 + authUrl when Rally is not linked.
 * @module
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Deps } from '../app/deps.js';
import type { RequestContext } from '../app/request-context.js';
import { authenticate, challenge } from './auth.js';
import { buildMcpServer } from './server.js';
import { createCallContext } from './call-context.js';
import { TOOL_DEFINITIONS } from './tools/register.js';
import { CONFIRM_TOOL } from '../session/session.tools.js';

const TOOL_NAME = /^[a-z_]{1,64}$/;

export async function serveToolRest(deps: Deps, ctx: RequestContext, req: Request, res: Response): Promise<void> {
  const name = req.path.slice('/tools/'.length);
  if (req.method !== 'POST') {
    res.status(405).set('Allow', 'POST').json({ error: 'method_not_allowed' });
    return;
  }
  if (!TOOL_NAME.test(name) || (!TOOL_DEFINITIONS.some((t) => t.name === name) && name !== CONFIRM_TOOL)) {
    res.status(404).json({ error: 'unknown_tool', message: 'No such tool.' });
    return;
  }
  if (!req.is('application/json') || typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) {
    res.status(400).json({ error: 'invalid_request', message: 'The body must be a JSON object with the tool arguments.', requestId: ctx.requestId });
    return;
  }
  const principal = await authenticate(deps, req);
  const call = await createCallContext(deps, ctx, principal, { needsRally: true, surface: 'rest' });
  const server = buildMcpServer((s) => call.register(s));
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'rest-twin', version: '1.0.0' });
  try {
    await server.connect(serverSide);
    await client.connect(clientSide);
    const result = await client.callTool({ name, arguments: req.body as Record<string, unknown> });
    const link = call.linkRequired;
    if (link?.url) {
      res.status(401).set({ 'WWW-Authenticate': challenge(deps, { error: 'invalid_token', error_description: 'Rally is not connected' }), 'Cache-Control': 'no-store' }).json({
        error: 'authorization_required',
        authUrl: link.url,
        message: (result.content as Array<{ text?: string }>)[0]?.text,
        requestId: ctx.requestId,
      });
      return;
    }
    if (call.rateLimited) {
      res.status(429).set({ 'Retry-After': String(call.rateLimited.retryAfterSeconds), 'Cache-Control': 'no-store' })
        .json({ error: 'rate_limited', message: (result.content as Array<{ text?: string }>)[0]?.text, requestId: ctx.requestId });
      return;
    }
    if (link?.pendingConfirmation) {
      res.status(401).set('Cache-Control', 'no-store').json({ error: 'confirmation_required', message: (result.content as Array<{ text?: string }>)[0]?.text, requestId: ctx.requestId });
      return;
    }
    res.status(200).set('Cache-Control', 'no-store').json(result);
  } catch (err) {
    if (err instanceof McpError && err.code === ErrorCode.InvalidParams) {
      res.status(400).json({ error: 'invalid_arguments', message: err.message.replace(/^MCP error -?\d+: /, ''), requestId: ctx.requestId });
      return;
    }
    throw err;
  } finally {
    await client.close();
    await server.close();
  }
}
