/**
 * Collaboration reads and writes on an item: tags (add/remove through the
 * collection endpoints), attachments (metadata, and text content within a
 * size cap), revision history and discussion, custom fields (rally-api.md
 * §3.2, §3.11, §3.12).
 * @module
 */
import type { RallyClient } from './client.js';
import { RallyLookupError } from './errors.js';
import { resolveWorkItem, type Scope } from './lookup.api.js';
import { compileQuery } from './query.js';
import { oidOf, refOid, userDefaults } from './refs.js';
import { workspaceSchema } from './schema.api.js';
import { resolvePortfolioItem } from './portfolio.api.js';
import { OBJECT_ID, type QueryPage, type RallyObject, type RallyType } from './types.js';

/** A work item or a portfolio item: both carry Tags, Attachments, RevisionHistory and custom fields. */
export interface AnyItem {
  readonly type: RallyType;
  readonly oid: string;
  readonly object: RallyObject;
}

/** Finds `id` among stories, defects and tasks, then among the workspace's portfolio levels. */
export async function resolveAnyItem(
  rally: RallyClient,
  id: string,
  fetch: readonly string[],
  scope: Scope = {},
): Promise<AnyItem> {
  try {
    return await resolveWorkItem(rally, id, fetch, scope);
  } catch (err) {
    if (!(err instanceof RallyLookupError)) throw err;
    const { portfolioLevels } = await workspaceSchema(rally, scope.workspace);
    const found = await resolvePortfolioItem(rally, id, portfolioLevels, scope.workspace);
    return found.object && fetch.every((f) => f in found.object)
      ? found
      : { ...found, object: await rally.read(found.type, found.oid, fetch) };
  }
}

// ---------- tags ----------

export async function listTags(
  rally: RallyClient,
  opts: { start: number; pageSize: number; nameContains?: string; workspace?: string },
): Promise<QueryPage> {
  const workspace = opts.workspace ?? (await userDefaults(rally)).workspace?.oid;
  return rally.query('tag', {
    query: compileQuery(
      opts.nameContains !== undefined
        ? {
            and: [
              { attr: 'Archived', op: '=', value: false },
              { attr: 'Name', op: 'contains', value: opts.nameContains },
            ],
          }
        : { attr: 'Archived', op: '=', value: false },
    ),
    fetch: ['ObjectID', 'Name'],
    order: 'Name,ObjectID',
    start: opts.start,
    pageSize: opts.pageSize,
    ...(workspace ? { workspace } : {}),
  });
}

export async function itemTags(rally: RallyClient, item: AnyItem): Promise<QueryPage> {
  return rally.collection(item.type, item.oid, 'Tags', { fetch: ['ObjectID', 'Name'], pageSize: 200, order: 'Name' });
}

/** Tag ObjectIDs by exact name; an unknown name is a lookup error (this server never creates tags). */
export async function resolveTags(
  rally: RallyClient,
  names: readonly string[],
  workspace?: string,
): Promise<Array<{ name: string; oid: string }>> {
  if (names.length === 0) return [];
  const page = await rally.query('tag', {
    query: compileQuery({ attr: 'Name', op: 'in', value: [...names] }),
    fetch: ['ObjectID', 'Name'],
    pageSize: 200,
    ...(workspace ? { workspace } : {}),
  });
  return names.map((name) => {
    const hit = page.results.find((t) => t.Name === name);
    const oid = hit ? oidOf(hit) : undefined;
    if (!oid) throw new RallyLookupError('not_found', 'tag');
    return { name, oid };
  });
}

export async function editTags(
  rally: RallyClient,
  item: AnyItem,
  add: readonly { oid: string }[],
  remove: readonly { oid: string }[],
): Promise<void> {
  if (add.length > 0)
    await rally.editCollection(
      item.type,
      item.oid,
      'Tags',
      'add',
      add.map((t) => ({ type: 'tag', oid: t.oid })),
    );
  if (remove.length > 0)
    await rally.editCollection(
      item.type,
      item.oid,
      'Tags',
      'remove',
      remove.map((t) => ({ type: 'tag', oid: t.oid })),
    );
}

// ---------- attachments ----------

export const ATTACHMENT_FETCH = [
  'ObjectID',
  'Name',
  'ContentType',
  'Size',
  'Content',
  'User',
  'DisplayName',
  'Artifact',
];

export async function listAttachments(
  rally: RallyClient,
  item: AnyItem,
  page: { start: number; pageSize: number },
): Promise<QueryPage> {
  return rally.collection(item.type, item.oid, 'Attachments', {
    fetch: ATTACHMENT_FETCH,
    order: 'ObjectID',
    start: page.start,
    pageSize: page.pageSize,
  });
}

/** Content types read as text; everything else is listed, never read. */
export const TEXT_CONTENT_TYPES =
  /^(?:text\/[a-z0-9.+-]+|application\/(?:json|xml|csv|x-yaml|yaml|x-ndjson))(?:\s*;.*)?$/i;

export type AttachmentRead =
  | { readonly kind: 'text'; readonly attachment: RallyObject; readonly text: string }
  | { readonly kind: 'too_large' | 'not_text'; readonly attachment: RallyObject };

/** Reads an attachment's content only when it is text and `Size` is within `maxBytes`; decodes strictly as UTF-8. */
export async function readAttachment(rally: RallyClient, oid: string, maxBytes: number): Promise<AttachmentRead> {
  if (!OBJECT_ID.test(oid)) throw new RallyLookupError('not_found', 'attachment');
  const attachment = await rally.read('attachment', oid, ATTACHMENT_FETCH);
  const size = typeof attachment.Size === 'number' ? attachment.Size : Number.POSITIVE_INFINITY;
  const type = typeof attachment.ContentType === 'string' ? attachment.ContentType : '';
  if (!TEXT_CONTENT_TYPES.test(type)) return { kind: 'not_text', attachment };
  if (size > maxBytes) return { kind: 'too_large', attachment };
  const contentOid = refOid(attachment.Content);
  if (!contentOid) throw new RallyLookupError('not_found', 'attachment content');
  const content = await rally.read('attachmentcontent', contentOid, ['Content']);
  const b64 = typeof content.Content === 'string' ? content.Content : '';
  // Rally's Size could be wrong: the decoded bytes are capped again.
  if (b64.length > Math.ceil((maxBytes * 4) / 3) + 4) return { kind: 'too_large', attachment };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(b64, 'base64'));
  } catch {
    return { kind: 'not_text', attachment };
  }
  return { kind: 'text', attachment, text };
}

// ---------- history ----------

export async function listRevisions(
  rally: RallyClient,
  item: AnyItem,
  page: { start: number; pageSize: number },
): Promise<QueryPage> {
  const history = refOid(item.object.RevisionHistory);
  if (!history) return { totalResultCount: 0, startIndex: 1, pageSize: page.pageSize, results: [], warnings: [] };
  return rally.collection('revisionhistory', history, 'Revisions', {
    fetch: ['ObjectID', 'RevisionNumber', 'Description', 'User', 'DisplayName', 'UserName', 'CreationDate'],
    order: 'RevisionNumber DESC',
    start: page.start,
    pageSize: page.pageSize,
  });
}

export async function listDiscussion(
  rally: RallyClient,
  item: AnyItem,
  page: { start: number; pageSize: number },
): Promise<QueryPage> {
  return rally.collection(item.type, item.oid, 'Discussion', {
    fetch: ['ObjectID', 'PostNumber', 'Text', 'User', 'DisplayName', 'UserName', 'CreationDate'],
    order: 'PostNumber DESC',
    start: page.start,
    pageSize: page.pageSize,
  });
}
