/**
 * Requests refused at the edge, before a function's handler runs: a body we
 * will not read (encoding, media type, charset, size), one that does not
 * parse, or a URL the framework's router cannot decode. Each function answers
 * them in its surface's shape (shared/app/entry.ts); none is ever a 500.
 * @module
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import { CodedError, type EdgeErrorCode } from '../kernel/errors.js';

export type { EdgeErrorCode };

const STATUS: Record<EdgeErrorCode, 400 | 413 | 415> = {
  content_encoding_unsupported: 415,
  media_type_unsupported: 415,
  charset_unsupported: 415,
  body_too_large: 413,
  malformed_json: 400,
  json_too_deep: 400,
  malformed_form: 400,
  malformed_text: 400,
  malformed_url: 400,
};

/** Safe to show the client: fixed text (plus our own limit), never any part of the request. */
export class EdgeError extends CodedError<EdgeErrorCode> {
  readonly status: 400 | 413 | 415;
  readonly publicMessage: string;
  constructor(code: EdgeErrorCode, publicMessage: string) {
    super(code, code);
    this.name = 'EdgeError';
    this.status = STATUS[code];
    this.publicMessage = publicMessage;
  }
}

/** Answers an edge error in one surface's error shape. Needs no dependencies: it also runs when none could load. */
export type EdgeAnswer = (err: EdgeError, req: Pick<Request, 'path'>, res: Response) => void;
