/**
 * Opaque paging cursors: base64url of the next start index (and type index
 * for multi-type searches) plus a hash of the query, so a cursor cannot be
 * replayed against a different query.
 * @module
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ToolInputError } from './tool-errors.js';

const CursorBody = z.object({ v: z.literal(1), s: z.number().int().min(1).max(1_000_000), t: z.number().int().min(0).max(8), h: z.string().regex(/^[A-Za-z0-9_-]{16}$/) }).strict();

export interface CursorPosition {
  readonly start: number;
  readonly typeIndex: number;
}

/** Stable hash of the query a cursor belongs to. */
export function queryHash(query: unknown): string {
  return createHash('sha256').update(JSON.stringify(query)).digest('base64url').slice(0, 16);
}

export function encodeCursor(pos: CursorPosition, hash: string): string {
  return Buffer.from(JSON.stringify({ v: 1, s: pos.start, t: pos.typeIndex, h: hash })).toString('base64url');
}

/** Decodes a cursor and checks it belongs to `hash`; absent cursor → the first page. */
export function decodeCursor(cursor: string | undefined, hash: string): CursorPosition {
  if (cursor === undefined) return { start: 1, typeIndex: 0 };
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new ToolInputError('The cursor is not valid. Repeat the search without a cursor.');
  }
  const parsed = CursorBody.safeParse(body);
  if (!parsed.success) throw new ToolInputError('The cursor is not valid. Repeat the search without a cursor.');
  if (parsed.data.h !== hash) throw new ToolInputError('The cursor belongs to a different search. Repeat the search without a cursor.');
  return { start: parsed.data.s, typeIndex: parsed.data.t };
}

/** Cursor schema for tool inputs. */
export const CursorInput = z
  .string()
  .max(200)
  .regex(/^[A-Za-z0-9_-]+$/)
  .describe('Opaque cursor from a previous page (nextCursor). Only valid with the same filters.');
