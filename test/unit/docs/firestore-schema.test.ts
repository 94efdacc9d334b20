/**
 * docs/firestore-schema.md must describe what the code really stores: every collection of
 * COLLECTIONS has a section and nothing else does, and each section's field table lists exactly
 * the fields (and types) of the zod schema its repository validates with. `rate_limits` has no
 * schema: its fields are read from the object literals rate-limiter.ts writes, parsed with the
 * TypeScript compiler (names only). The page is parsed with a real Markdown parser (micromark).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromMarkdown } from 'mdast-util-from-markdown';
import { gfmFromMarkdown } from 'mdast-util-gfm';
import { gfm } from 'micromark-extension-gfm';
import ts from 'typescript';
import type { z } from 'zod';
import { COLLECTIONS, type CollectionName } from '../../../shared/store/collections.js';
import { zTimestamp } from '../../../shared/store/firestore-utils.js';
import { AuthCodeDoc } from '../../../shared/store/auth-codes.repo.js';
import { AuthRequestDoc } from '../../../shared/store/auth-requests.repo.js';
import { ClientDoc } from '../../../shared/store/clients.repo.js';
import { ConnectTxDoc } from '../../../shared/store/connect-transactions.repo.js';
import { SpentRequestStateDoc } from '../../../shared/store/spent-request-states.repo.js';
import { ConnectionTokenDoc } from '../../../shared/store/connection-tokens.repo.js';
import { GrantDoc } from '../../../shared/store/grants.repo.js';
import { LinkTxDoc } from '../../../shared/store/link-transactions.repo.js';
import { RallyTokensDoc, UpstreamTokensDoc } from '../../../shared/store/upstream-tokens.repo.js';
import { RefreshDoc } from '../../../shared/store/refresh-tokens.repo.js';
import { SessionDoc } from '../../../shared/store/sessions.repo.js';
import { BrowserSessionDoc } from '../../../shared/store/browser-sessions.repo.js';
import { LinkEpochDoc } from '../../../shared/store/link-epoch.repo.js';

const ROOT = new URL('../../..', import.meta.url).pathname;
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

/** field name → documented type ('' when only names can be compared). */
type Fields = Record<string, string>;

// ---------------------------------------------------------------- what the code writes

interface Def {
  readonly type: string;
  readonly innerType?: z.ZodType;
  readonly element?: z.ZodType;
  readonly shape?: Record<string, z.ZodType>;
}
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The schema under `.optional()`, `.nullable()` and `.nullish()`. */
function unwrap(s: z.ZodType): z.ZodType {
  let inner = s;
  for (let d = defOf(inner); (d.type === 'optional' || d.type === 'nullable') && d.innerType; d = defOf(inner))
    inner = d.innerType;
  return inner;
}

/** The type column's spelling of a field's schema. */
function typeName(s: z.ZodType): string {
  const inner = unwrap(s);
  if (inner === zTimestamp) return 'timestamp';
  const d = defOf(inner);
  switch (d.type) {
    case 'string':
    case 'enum':
      return 'string';
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'object':
      return 'map';
    case 'array':
      return `${typeName(d.element!)}[]`;
    default:
      throw new Error(`no documented type for a zod ${d.type}: extend typeName()`);
  }
}

/** Every field of a document schema; a nested object's fields follow as `parent.field`. */
function fieldsOfSchema(schema: z.ZodType, prefix = ''): Fields {
  const out: Fields = {};
  for (const [name, field] of Object.entries(defOf(schema).shape ?? {})) {
    out[prefix + name] = typeName(field);
    const inner = unwrap(field);
    if (defOf(inner).type === 'object') Object.assign(out, fieldsOfSchema(inner, `${prefix}${name}.`));
  }
  return out;
}

/** Property names of every object literal passed to `.create()`, `.set()` or `.update()` in a source file. */
function fieldsWrittenBy(file: string): Fields {
  const source = ts.createSourceFile(file, read(file), ts.ScriptTarget.Latest, true);
  const out: Fields = {};
  const visit = (node: ts.Node): void => {
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      ['create', 'set', 'update'].includes(node.expression.name.text)
    ) {
      const arg = node.arguments[0];
      if (arg && ts.isObjectLiteralExpression(arg)) {
        for (const p of arg.properties) {
          if ((ts.isPropertyAssignment(p) || ts.isShorthandPropertyAssignment(p)) && ts.isIdentifier(p.name))
            out[p.name.text] = '';
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** What each collection's writer stores. Typed by CollectionName: a new collection fails tsc until it is mapped here. */
const WRITTEN: Record<CollectionName, () => Fields> = {
  oauth_clients: () => fieldsOfSchema(ClientDoc),
  auth_requests: () => fieldsOfSchema(AuthRequestDoc),
  link_transactions: () => fieldsOfSchema(LinkTxDoc),
  auth_codes: () => fieldsOfSchema(AuthCodeDoc),
  grants: () => fieldsOfSchema(GrantDoc),
  refresh_tokens: () => fieldsOfSchema(RefreshDoc),
  rally_tokens: () => fieldsOfSchema(RallyTokensDoc),
  upstream_tokens: () => fieldsOfSchema(UpstreamTokensDoc),
  sessions: () => fieldsOfSchema(SessionDoc),
  connect_transactions: () => fieldsOfSchema(ConnectTxDoc),
  spent_request_states: () => fieldsOfSchema(SpentRequestStateDoc),
  browser_sessions: () => fieldsOfSchema(BrowserSessionDoc),
  connection_tokens: () => fieldsOfSchema(ConnectionTokenDoc),
  link_epoch: () => fieldsOfSchema(LinkEpochDoc),
  // No zod schema: the rate limiter writes counters and reads them back without one (fail closed).
  rate_limits: () => fieldsWrittenBy('shared/ratelimit/rate-limiter.ts'),
};

// ---------------------------------------------------------------- what the page says

interface MdNode {
  readonly type: string;
  readonly depth?: number;
  readonly value?: string;
  readonly children?: readonly MdNode[];
}

const textOf = (node: MdNode): string => node.value ?? (node.children ?? []).map(textOf).join('');

/** A cell that is exactly one code span, e.g. `` `oauth_clients` ``: its text; otherwise undefined. */
function codeOf(cell: MdNode | undefined): string | undefined {
  const parts = (cell?.children ?? []).filter((c) => !(c.type === 'text' && c.value?.trim() === ''));
  return parts.length === 1 && parts[0]!.type === 'inlineCode' ? parts[0]!.value : undefined;
}

/** Body rows of a table (the header row dropped), as cells. */
const rowsOf = (table: MdNode): MdNode[][] => (table.children ?? []).slice(1).map((row) => [...(row.children ?? [])]);

interface SchemaPage {
  /** `### \`name\`` sections and the field table that follows each. */
  readonly sections: Map<string, Fields>;
  /** First column of the overview table (the table under `## Overview`). */
  readonly overview: string[];
}

function parsePage(markdown: string): SchemaPage {
  const tree = fromMarkdown(markdown, { extensions: [gfm()], mdastExtensions: [gfmFromMarkdown()] }) as MdNode;
  const sections = new Map<string, Fields>();
  let overview: string[] = [];
  let heading: { depth: number; text: string; code: string | undefined } | undefined;
  for (const node of tree.children ?? []) {
    if (node.type === 'heading') {
      heading = { depth: node.depth ?? 0, text: textOf(node), code: codeOf(node) };
      if (heading.depth === 3 && heading.code !== undefined) {
        if (sections.has(heading.code)) throw new Error(`two sections for ${heading.code}`);
        sections.set(heading.code, {});
      }
      continue;
    }
    if (node.type !== 'table' || !heading) continue;
    if (heading.depth === 2 && heading.text === 'Overview') {
      overview = rowsOf(node).map((cells) => codeOf(cells[0]) ?? `(not a code span: ${textOf(cells[0]!)})`);
    } else if (heading.depth === 3 && heading.code !== undefined) {
      const fields = sections.get(heading.code)!;
      for (const cells of rowsOf(node)) {
        const name = codeOf(cells[0]) ?? `(not a code span: ${textOf(cells[0]!)})`;
        if (name in fields) throw new Error(`${heading.code}: ${name} is listed twice`);
        fields[name] = textOf(cells[1] ?? { type: 'text', value: '' }).trim();
      }
    }
  }
  return { sections, overview };
}

// ---------------------------------------------------------------- the checks

describe('docs/firestore-schema.md and the code that writes Firestore', () => {
  const page = parsePage(read('docs/firestore-schema.md'));
  const collections = Object.values(COLLECTIONS);

  it('has a section for every collection of COLLECTIONS, and no other', () => {
    expect([...page.sections.keys()].sort()).toEqual([...collections].sort());
  });

  it('lists every collection once in the overview table, and no other', () => {
    expect([...page.overview].sort()).toEqual([...collections].sort());
  });

  it.each(collections.filter((c) => c !== COLLECTIONS.rateLimits))(
    '%s: the documented fields and types are those of its zod schema',
    (collection) => {
      expect(page.sections.get(collection)).toEqual(WRITTEN[collection]());
    },
  );

  it('rate_limits: the documented fields are those rate-limiter.ts writes', () => {
    const written = Object.keys(WRITTEN.rate_limits()).sort();
    expect(written).toEqual(expect.arrayContaining(['count', 'expiresAt'])); // the parse found the writes
    expect(Object.keys(page.sections.get(COLLECTIONS.rateLimits) ?? {}).sort()).toEqual(written);
  });
});
