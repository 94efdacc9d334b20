/**
 * A tool as data: name, schemas, annotations and a run function. register.ts
 * turns these into MCP registrations.
 * @module
 */
import type { ToolAnnotations } from '@modelcontextprotocol/server';
import type { z } from 'zod';
import type { ToolContext } from './context.js';
import type { UpstreamProviderId } from '../../upstream/provider.js';

export interface ToolOutput<T> {
  readonly structured: T;
  readonly text: string;
}

/**
 * Groups that keep tools/list short (issue 17): `core` is always listed; the others are listed when
 * the operator's policy or the client's `X-Rally-Toolsets` header selects them (docs/tools.md).
 */
export const TOOLSETS = ['core', 'planning', 'portfolio', 'quality', 'collaboration'] as const;
export type Toolset = (typeof TOOLSETS)[number];

/**
 * How a tool touches Rally projects, declared by every tool (issue 18, O20): a connection token's
 * project allowlist is enforced from it by the one execution path (shared/mcp/execute.ts), which
 * hands the tool a Rally client narrowed to the token's projects (shared/rally/project-scope.ts).
 *  - `none`: no object that belongs to a project (the caller's own user, our stored tokens, a link):
 *    under an allowlist, any such object it reached for would be refused;
 *  - `list`: lists or searches: every query is narrowed to the allowed projects, and a `project`
 *    argument outside them is refused;
 *  - `item`: reads or changes items named by id: each item's project is checked before its data is
 *    returned or anything is written;
 *  - `create`: creates in a project: the target project (or the item it hangs on) must be allowed.
 * The kind says what the tool does; enforcement is the same for every kind but `none`, so a tool
 * that lists and reads (e.g. an item with its children) is narrowed either way.
 */
export const PROJECT_ACCESS = ['none', 'list', 'item', 'create'] as const;
export type ProjectAccess = (typeof PROJECT_ACCESS)[number];

export interface ToolSpec<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  readonly name: string;
  /** How it touches Rally projects (above); required, so a new tool states it. */
  readonly projects: ProjectAccess;
  /** Absent: `core`. */
  readonly toolset?: Toolset;
  readonly title: string;
  readonly description: string;
  /** false for tools that write to Rally or change our stored state. */
  readonly readOnly: boolean;
  /**
   * The upstream providers the tool calls (issue 19); absent: Rally only. The tool is listed and
   * callable only where every one of them is enabled (UPSTREAM_PROVIDERS).
   */
  readonly providers?: readonly UpstreamProviderId[];
  readonly annotations: ToolAnnotations;
  readonly input: I;
  readonly output: O;
  run(args: z.output<I>, ctx: ToolContext): Promise<ToolOutput<z.input<O>>>;
}

/** Erases the argument types so specs can share one list; the input schema is parsed before `run`. */
export interface AnyToolSpec extends Omit<ToolSpec, 'run'> {
  run(args: unknown, ctx: ToolContext): Promise<ToolOutput<unknown>>;
}

export function defineTool<I extends z.ZodObject, O extends z.ZodObject>(spec: ToolSpec<I, O>): AnyToolSpec {
  return spec as unknown as AnyToolSpec;
}

export const READ_ONLY: ToolAnnotations = { readOnlyHint: true, openWorldHint: true };
export const CREATES: ToolAnnotations = {
  readOnlyHint: false,
  destructiveHint: false,
  idempotentHint: false,
  openWorldHint: true,
};
export const CHANGES: ToolAnnotations = {
  readOnlyHint: false,
  destructiveHint: true,
  idempotentHint: false,
  openWorldHint: true,
};
