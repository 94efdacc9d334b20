/**
 * Opaque paging cursors (L19): the next start index (and type index for
 * multi-type searches), MACed with HMAC-SHA-256 over the tool, the query and
 * the caller, so a cursor cannot be edited, forged, or replayed against
 * another query or by another principal. Cursors live for one search: after a
 * key rotation an old cursor is refused and the caller repeats the search.
 * @module
 */
import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ToolInputError } from './tool-errors.js';

const CursorBody = z
  .object({ v: z.literal(2), s: z.number().int().min(1).max(1_000_000), t: z.number().int().min(0).max(8) })
  .strict();

/** 128-bit tag: forging needs 2^128 guesses, and every guess is a tool call. */
const MAC_BYTES = 16;
const HKDF_INFO = 'rally-mcp/cursor-mac/v1';

export interface CursorPosition {
  readonly start: number;
  readonly typeIndex: number;
}

/** A cursor that was not minted by us for this query and caller: answered as JSON-RPC -32602 (invalid params). */
export class InvalidCursorError extends ToolInputError {
  constructor() {
    super(
      'The cursor is not valid for this search (it was changed, belongs to another search or user, or has expired). Repeat the search without a cursor.',
    );
    this.name = 'InvalidCursorError';
  }
}

/** Seals and opens cursors for one caller; `query` is any JSON value naming the search (tool + filters). */
export interface CursorCodec {
  seal(pos: CursorPosition, query: unknown): Promise<string>;
  /** Absent cursor → the first page; anything not sealed by `seal` for this query and caller → InvalidCursorError. */
  open(cursor: string | undefined, query: unknown): Promise<CursorPosition>;
}

/**
 * The cursor MAC key, derived with HKDF-SHA-256 from existing key material
 * (the current sealing key), so no new secret has to be provisioned. The
 * distinct `info` keeps it independent of every other use of that key.
 */
export function deriveCursorKey(keyMaterial: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', keyMaterial, 'rally-mcp', HKDF_INFO, 32));
}

/** `principal` is the caller's stable id (grant or session): another caller's cursor does not open. */
export function createCursorCodec(key: () => Promise<Uint8Array>, principal: string): CursorCodec {
  const mac = async (body: Buffer, query: unknown): Promise<Buffer> => {
    const bound = createHash('sha256')
      .update(JSON.stringify([principal, query]))
      .digest();
    return createHmac('sha256', await key())
      .update(bound)
      .update(body)
      .digest()
      .subarray(0, MAC_BYTES);
  };
  return {
    async seal(pos, query) {
      const body = Buffer.from(JSON.stringify({ v: 2, s: pos.start, t: pos.typeIndex }));
      return Buffer.concat([body, await mac(body, query)]).toString('base64url');
    },
    async open(cursor, query) {
      if (cursor === undefined) return { start: 1, typeIndex: 0 };
      const raw = Buffer.from(cursor, 'base64url');
      if (raw.length <= MAC_BYTES || raw.toString('base64url') !== cursor) throw new InvalidCursorError();
      const body = raw.subarray(0, raw.length - MAC_BYTES);
      // The tag is checked before the body is parsed: nothing the caller wrote is interpreted unless we sealed it.
      if (!timingSafeEqual(raw.subarray(raw.length - MAC_BYTES), await mac(body, query)))
        throw new InvalidCursorError();
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        throw new InvalidCursorError();
      }
      const checked = CursorBody.safeParse(parsed);
      if (!checked.success) throw new InvalidCursorError();
      return { start: checked.data.s, typeIndex: checked.data.t };
    },
  };
}

/** Cursor schema for tool inputs. */
export const CursorInput = z
  .string()
  .max(200)
  .regex(/^[A-Za-z0-9_-]+$/)
  .describe('Opaque cursor from a previous page (nextCursor). Only valid with the same filters.');

/** The position after a page of `kept` items from `start`, of `total` in its list (kind `typeIndex` of `kinds`). */
export function nextPosition(pos: CursorPosition, kept: number, total: number, kinds = 1): CursorPosition | undefined {
  const nextStart = pos.start + kept;
  if (kept > 0 && nextStart <= total) return { start: nextStart, typeIndex: pos.typeIndex };
  return pos.typeIndex + 1 < kinds ? { start: 1, typeIndex: pos.typeIndex + 1 } : undefined;
}

/** The next cursor of a single-list tool, or null after the last page. */
export async function nextCursorFor(
  cursors: CursorCodec,
  query: unknown,
  start: number,
  kept: number,
  total: number,
): Promise<string | null> {
  const next = nextPosition({ start, typeIndex: 0 }, kept, total);
  return next ? cursors.seal(next, query) : null;
}
