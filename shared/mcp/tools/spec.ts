/**
 * A tool as data: name, schemas, annotations and a run function. register.ts
 * turns these into MCP registrations.
 * @module
 */
import type { ToolAnnotations } from '@modelcontextprotocol/server';
import type { z } from 'zod';
import type { ToolContext } from './context.js';

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

export interface ToolSpec<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  readonly name: string;
  /** Absent: `core`. */
  readonly toolset?: Toolset;
  readonly title: string;
  readonly description: string;
  /** false for tools that write to Rally or change our stored state. */
  readonly readOnly: boolean;
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
