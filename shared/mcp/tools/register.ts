/**
 * The tool catalogue and the plain tool runner: argument validation against
 * each tool's strict zod schema *before* any Rally call (J8), running a tool
 * and mapping its errors, and listing tools on an McpServer. No gate lives
 * here: scope, policy, rate limits and audit are decided by the one execution
 * path in shared/mcp/execute.ts.
 * @module
 */
import {
  isInputRequiredResult,
  type CallToolResult,
  type InputRequiredResult,
  type McpServer,
  type ServerContext,
  type StandardSchemaWithJSON,
} from '@modelcontextprotocol/server';
import type { z } from 'zod';
import { LinkRequiredError } from '../../upstream/link-required.js';
import { ProjectNotAllowedError } from '../../rally/project-scope.js';
import { PRIMARY_PROVIDER, type UpstreamProviderId } from '../../upstream/provider.js';
import { GITHUB_TOOLS } from './github.tools.js';
import { COLLABORATION_TOOLS } from './collaboration.tools.js';
import { ITEM_TOOLS } from './items.tools.js';
import { PLANNING_TOOLS } from './planning.tools.js';
import { PORTFOLIO_TOOLS } from './portfolio.tools.js';
import { QUALITY_TOOLS } from './quality.tools.js';
import { PROJECT_TOOLS } from './projects.tools.js';
import { SEARCH_TOOLS } from './search.tools.js';
import type { ToolContext } from './context.js';
import type { AnyToolSpec, Toolset } from './spec.js';
import { toToolResult } from './tool-errors.js';
import { InvalidCursorError } from './cursor.js';
import { USER_TOOLS } from './user.tools.js';

export const ALL_TOOLS: readonly AnyToolSpec[] = [
  ...ITEM_TOOLS,
  ...SEARCH_TOOLS,
  ...PROJECT_TOOLS,
  ...USER_TOOLS,
  ...PLANNING_TOOLS,
  ...PORTFOLIO_TOOLS,
  ...QUALITY_TOOLS,
  ...COLLABORATION_TOOLS,
  ...GITHUB_TOOLS,
];

const DEFAULT_PROVIDERS: readonly UpstreamProviderId[] = [PRIMARY_PROVIDER];
const enabledCatalogues = new WeakMap<readonly UpstreamProviderId[], readonly AnyToolSpec[]>();

/**
 * The tools a deployment offers: those whose every provider is enabled (`providers`, from
 * UPSTREAM_PROVIDERS). Computed once per configuration; a Rally-only deployment gets ALL_TOOLS
 * itself while every tool is Rally's.
 */
export function enabledTools(
  providers: readonly UpstreamProviderId[],
  catalogue: readonly AnyToolSpec[] = ALL_TOOLS,
): readonly AnyToolSpec[] {
  const cached = catalogue === ALL_TOOLS ? enabledCatalogues.get(providers) : undefined;
  if (cached) return cached;
  const usable = (t: AnyToolSpec) => (t.providers ?? DEFAULT_PROVIDERS).every((p) => providers.includes(p));
  const tools = catalogue.every(usable) ? catalogue : catalogue.filter(usable);
  if (catalogue === ALL_TOOLS) enabledCatalogues.set(providers, tools);
  return tools;
}

export interface ToolDefinition {
  readonly name: string;
  readonly title: string;
  /** false for tools that write (policy hides these from read-only agents). */
  readonly readOnly: boolean;
  readonly toolset: Toolset;
}

export const TOOL_DEFINITIONS: readonly ToolDefinition[] = ALL_TOOLS.map(({ name, title, readOnly, toolset }) => ({
  name,
  title,
  readOnly,
  toolset: toolset ?? 'core',
}));

/** Short, input-free description of what was wrong (paths and zod messages only). */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(arguments)'}: ${i.message}`.slice(0, 200))
    .join('; ');
}

export type ParsedArgs =
  { readonly ok: true; readonly args: unknown } | { readonly ok: false; readonly message: string };

/** Validates arguments against the tool's strict schema (J8); nothing reaches Rally before this passes. */
export function parseToolArgs(spec: AnyToolSpec, rawArgs: unknown): ParsedArgs {
  const parsed = spec.input.safeParse(rawArgs ?? {});
  return parsed.success
    ? { ok: true, args: parsed.data }
    : { ok: false, message: `Invalid arguments for tool ${spec.name}: ${describeIssues(parsed.error)}` };
}

/** What running one tool produced; gates (scope, policy, limits, audit) are applied by the caller (shared/mcp/execute.ts). */
export type ToolRun =
  | {
      readonly kind: 'done';
      readonly result: CallToolResult;
      readonly outcome: 'success' | 'error';
      readonly rallyObject?: string;
      readonly errCode?: string;
    }
  | { readonly kind: 'invalid_arguments'; readonly message: string }
  | { readonly kind: 'link_required'; readonly error: LinkRequiredError; readonly rallyObject?: string }
  /** A connection token's project allowlist stopped the tool (a policy refusal: execute.ts audits it). */
  | { readonly kind: 'project_denied'; readonly error: ProjectNotAllowedError };

/** Runs a tool on already validated arguments and maps its errors (style §3.2). Never throws for Rally or input problems. */
export async function runTool(spec: AnyToolSpec, args: unknown, ctx: ToolContext): Promise<ToolRun> {
  const log = ctx.log.child({ tool: spec.name });
  const idArg = (args as { id?: unknown }).id;
  const object = (v: unknown) => (typeof v === 'string' ? { rallyObject: v } : {});
  try {
    const out = await spec.run(args, { ...ctx, log, disconnect: (provider) => ctx.disconnect(provider) });
    const checked = spec.output.safeParse(out.structured);
    if (!checked.success) throw new Error(`output of ${spec.name} does not match its schema`); // a bug: generic error below
    return {
      kind: 'done',
      outcome: 'success',
      ...object(formattedIdIn(checked.data) ?? idArg),
      result: {
        content: [{ type: 'text', text: out.text }],
        structuredContent: checked.data as Record<string, unknown>,
      },
    };
  } catch (err) {
    if (err instanceof LinkRequiredError) return { kind: 'link_required', error: err, ...object(idArg) };
    if (err instanceof ProjectNotAllowedError) return { kind: 'project_denied', error: err };
    if (err instanceof InvalidCursorError)
      return {
        kind: 'invalid_arguments',
        message: `Invalid arguments for tool ${spec.name}: cursor: ${err.publicMessage}`,
      };
    const errCode = String((err as { code?: unknown }).code ?? (err instanceof Error ? err.name : 'error'));
    return {
      kind: 'done',
      outcome: 'error',
      errCode,
      ...object(idArg),
      result: toToolResult(err, { requestId: ctx.requestId, log }),
    };
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

/** Shared by every request's server: frozen, so no request can change what another one lists. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

type JsonSchemaOptions = Parameters<StandardSchemaWithJSON['~standard']['jsonSchema']['input']>[0];

/**
 * The tool's zod schema with its JSON Schema computed once per instance
 * rather than on every tools/list (and every 2026-07-28 tools/call, which
 * reads the input schema first): converting the catalogue costs milliseconds,
 * and a server is built per request.
 */
function withCachedJsonSchema(schema: StandardSchemaWithJSON): StandardSchemaWithJSON {
  const std = schema['~standard'];
  const cache = new Map<string, Record<string, unknown>>();
  const cached = (io: 'input' | 'output') => (options: JsonSchemaOptions) => {
    const key = `${io}:${options.target}`;
    let json = cache.get(key);
    if (!json) cache.set(key, (json = deepFreeze(std.jsonSchema[io](options))));
    return json;
  };
  return {
    '~standard': { ...std, jsonSchema: { input: cached('input'), output: cached('output') } },
  } as StandardSchemaWithJSON;
}

const registrations = new WeakMap<AnyToolSpec, { input: StandardSchemaWithJSON; output: StandardSchemaWithJSON }>();
function schemasOf(spec: AnyToolSpec) {
  let found = registrations.get(spec);
  if (!found)
    registrations.set(
      spec,
      (found = { input: withCachedJsonSchema(spec.input), output: withCachedJsonSchema(spec.output) }),
    );
  return found;
}

/**
 * Lists `visible` on an McpServer and routes every tools/call to `call`
 * (the surface's adapter over the one execution path). The SDK's own
 * tools/call handler is replaced so invalid arguments become -32602 (J8)
 * instead of an isError result, and a hidden tool still gets the gate's
 * clear refusal rather than "unknown tool". The result goes through the
 * SDK's per-era projection (`projectCallToolResult`), as its own handler does.
 */
/** Runs one tools/call; `ctx` carries a 2026-07-28 retry's answers and verified state. */
export type ToolCaller = (
  name: string,
  args: unknown,
  ctx?: ServerContext,
) => Promise<CallToolResult | InputRequiredResult>;

export function registerToolCatalogue(server: McpServer, visible: readonly AnyToolSpec[], call: ToolCaller): void {
  for (const spec of visible) {
    const { input, output } = schemasOf(spec);
    server.registerTool(
      spec.name,
      {
        title: spec.title,
        description: spec.description,
        inputSchema: input,
        outputSchema: output,
        annotations: spec.annotations,
      },
      // Not reached: the tools/call handler below replaces the SDK's. Kept correct in case it is ever removed.
      async (args: unknown) => {
        const result = await call(spec.name, args);
        if (isInputRequiredResult(result)) throw new Error('input_required needs the tools/call handler');
        return result;
      },
    );
  }
  server.server.setRequestHandler('tools/call', async (request, ctx) => {
    const result = await call(request.params.name, request.params.arguments, ctx);
    // A sign-in prompt for a 2026-07-28 client goes out as it is; a tool result is checked against its schema.
    return isInputRequiredResult(result) ? result : server.server.projectCallToolResult(result, undefined);
  });
}
