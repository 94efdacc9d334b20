/**
 * Registers the Rally tools on an McpServer. Arguments are validated here
 * against each tool's strict zod schema *before* any Rally call, and a
 * violation is answered as JSON-RPC -32602 Invalid params (security case J8):
 * SDK 1.32's own tools/call handler would turn it into an `isError` result.
 * @module
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CallToolRequestSchema, ErrorCode, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import { LinkRequiredError } from '../../auth/link-required.js';
import { ITEM_TOOLS } from './items.tools.js';
import { PROJECT_TOOLS } from './projects.tools.js';
import { SEARCH_TOOLS } from './search.tools.js';
import type { ToolContext } from './context.js';
import type { AnyToolSpec } from './spec.js';
import { toToolResult } from './tool-errors.js';
import { USER_TOOLS } from './user.tools.js';

export const ALL_TOOLS: readonly AnyToolSpec[] = [...ITEM_TOOLS, ...SEARCH_TOOLS, ...PROJECT_TOOLS, ...USER_TOOLS];

export interface ToolDefinition {
  readonly name: string;
  readonly title: string;
  /** false for tools that write (policy hides these from read-only agents). */
  readonly readOnly: boolean;
}

export const TOOL_DEFINITIONS: readonly ToolDefinition[] = ALL_TOOLS.map(({ name, title, readOnly }) => ({ name, title, readOnly }));

export interface RegisterOptions {
  /**
   * Turns "Rally is not connected" into the sign-in prompt: a tool result with a link, or a thrown
   * URL elicitation (-32042), which leaves the handler as a JSON-RPC error. Default: rethrow.
   */
  readonly onLinkRequired?: (err: LinkRequiredError) => Promise<CallToolResult>;
  /** Tools that exist only in some modes (e.g. session-link confirmation), served like the others. */
  readonly extraTools?: readonly AnyToolSpec[];
}

/** Short, input-free description of what was wrong (paths and zod messages only). */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(arguments)'}: ${i.message}`.slice(0, 200))
    .join('; ');
}

async function execute(spec: AnyToolSpec, rawArgs: unknown, ctx: ToolContext, options: RegisterOptions): Promise<CallToolResult> {
  const parsed = spec.input.safeParse(rawArgs ?? {});
  if (!parsed.success) {
    throw new McpError(ErrorCode.InvalidParams, `Invalid arguments for tool ${spec.name}: ${describeIssues(parsed.error)}`);
  }
  const log = ctx.log.child({ tool: spec.name });
  const refusal = await ctx.guard?.(spec);
  if (refusal) return refusal;
  if (ctx.isToolAllowed && !ctx.isToolAllowed(spec.name)) {
    return { isError: true, content: [{ type: 'text', text: `The tool ${spec.name} is not available to this client or agent. (Request ID ${ctx.requestId})` }] };
  }
  const started = performance.now();
  const idArg = (parsed.data as { id?: unknown }).id;
  const done = (outcome: 'success' | 'error', rallyObject: unknown, errCode?: string) =>
    ctx.onExecuted?.({
      tool: spec.name, outcome, durationMs: performance.now() - started,
      ...(typeof rallyObject === 'string' ? { rallyObject } : {}), ...(errCode ? { errCode } : {}),
    });
  try {
    const out = await spec.run(parsed.data, { ...ctx, log, disconnect: () => ctx.disconnect() });
    const checked = spec.output.safeParse(out.structured);
    if (!checked.success) throw new Error(`output of ${spec.name} does not match its schema`); // a bug: generic error below
    done('success', formattedIdIn(checked.data) ?? idArg);
    return { content: [{ type: 'text', text: out.text }], structuredContent: checked.data as Record<string, unknown> };
  } catch (err) {
    if (err instanceof LinkRequiredError && options.onLinkRequired) {
      done('error', idArg, err.code);
      return options.onLinkRequired(err);
    }
    done('error', idArg, String((err as { code?: unknown }).code ?? (err instanceof Error ? err.name : 'error')));
    return toToolResult(err, { requestId: ctx.requestId, log });
  }
}

/** The FormattedID a result is about (top level or one level down), for the audit trail. */
function formattedIdIn(structured: unknown): string | undefined {
  if (typeof structured !== 'object' || structured === null) return undefined;
  for (const v of Object.values(structured)) {
    const id = (v as { formattedId?: unknown } | null)?.formattedId;
    if (typeof id === 'string') return id;
  }
  return undefined;
}

/**
 * Registers every tool `ctx.isToolAllowed` permits. Tools that are not allowed
 * are not listed, and calling one is refused with a clear error.
 */
export function registerRallyTools(server: McpServer, ctx: ToolContext, options: RegisterOptions = {}): void {
  // Every tool stays callable here so a hidden one gets the guard's clear refusal, not "unknown tool".
  const allowed = new Map<string, AnyToolSpec>();
  for (const spec of [...ALL_TOOLS, ...(options.extraTools ?? [])]) {
    allowed.set(spec.name, spec);
    if (ctx.isToolAllowed && !ctx.isToolAllowed(spec.name)) continue;
    server.registerTool(
      spec.name,
      { title: spec.title, description: spec.description, inputSchema: spec.input, outputSchema: spec.output, annotations: spec.annotations },
      // Not reached: the tools/call handler below replaces the SDK's. Kept correct in case it is ever removed.
      (args: unknown) => execute(spec, args, ctx, options),
    );
  }
  // Replace the SDK's tools/call handler (registered by the first registerTool above or by the
  // capability in buildMcpServer) so invalid arguments become -32602 instead of an isError result.
  server.server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const spec = allowed.get(request.params.name);
    if (!spec) throw new McpError(ErrorCode.InvalidParams, 'Unknown tool.');
    return execute(spec, request.params.arguments, ctx, options);
  });
}
