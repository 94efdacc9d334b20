/**
 * Collaboration toolset: tags, attachments, history (revisions and
 * discussion) and custom fields of an item. WSAPI calls live in
 * rally/collab.api.ts and rally/schema.api.ts.
 * @module
 */
import { z } from 'zod';
import {
  editTags,
  itemTags,
  listAttachments,
  listDiscussion,
  listRevisions,
  listTags,
  readAttachment,
  resolveAnyItem,
  resolveTags,
  type AnyItem,
} from '../../rally/collab.api.js';
import { oidOf } from '../../rally/refs.js';
import { customFieldsOf, workspaceSchema, type CustomField } from '../../rally/schema.api.js';
import { isWorkItemType, type RallyObject } from '../../rally/types.js';
import { MAX_COMMENT_CHARS, cleanMultiline } from '../../sanitize/index.js';
import { CursorInput, nextCursorFor } from './cursor.js';
import { ItemId, LookupName, ObjectId, PageSize, WorkspaceId } from './inputs.js';
import {
  RallyText,
  UserOut,
  dateOrNull,
  fitItems,
  formattedIdOrNull,
  numberOrNull,
  rallyRichText,
  rallyText,
  renderText,
  userOut,
  webUrl,
} from './output.js';
import { CHANGES, READ_ONLY, defineTool } from './spec.js';
import { ToolInputError } from './tool-errors.js';

/** Our own identification of an item: validated FormattedID, ObjectID, WSAPI type and link. */
const ItemRefOut = z.object({
  objectId: z.string(),
  formattedId: z.string().nullable(),
  type: z.string(),
  name: RallyText,
  url: z.string(),
});
function itemRef(item: AnyItem, base: string): z.infer<typeof ItemRefOut> {
  return {
    objectId: item.oid,
    formattedId: formattedIdOrNull(item.object.FormattedID),
    type: item.type,
    name: rallyText(item.object.Name ?? item.object._refObjectName),
    url: isWorkItemType(item.type)
      ? webUrl(base, item.type, item.oid)
      : `${base.replace(/\/+$/, '')}/#/detail/${item.type}/${item.oid}`,
  };
}
const headline = (i: z.infer<typeof ItemRefOut>) => `${i.formattedId ?? i.objectId} (${i.type})`;

const TagLine = z.object({ objectId: z.string(), name: RallyText });
const tagLine = (t: RallyObject) => ({ objectId: oidOf(t) ?? '0', name: rallyText(t.Name, 120) });
const TagName = LookupName('Tag name (exact).');

// ---------- list_rally_tags ----------

export const listRallyTags = defineTool({
  name: 'list_rally_tags',
  projects: 'item',
  toolset: 'collaboration',
  title: 'List Rally tags',
  description: 'List the tags of one item (id), or the tags of your workspace (optionally by name).',
  readOnly: true,
  annotations: { ...READ_ONLY, title: 'List Rally tags' },
  input: z
    .object({
      id: ItemId.optional().describe('An item (US12, DE7, TA3, F4 or ObjectID): list its tags.'),
      nameContains: TagName.optional().describe('Workspace tags whose name contains this.'),
      pageSize: PageSize,
      cursor: CursorInput.optional(),
      workspace: WorkspaceId.optional(),
    })
    .strict(),
  output: z.object({
    item: ItemRefOut.nullable(),
    total: z.number(),
    tags: z.array(TagLine),
    nextCursor: z.string().nullable(),
  }),
  async run(args, ctx) {
    if (args.id !== undefined) {
      const item = await resolveAnyItem(ctx.rally, args.id, ['ObjectID', 'FormattedID', 'Name'], {
        ...(args.workspace ? { workspace: args.workspace } : {}),
      });
      const page = await itemTags(ctx.rally, item);
      const structured = {
        item: itemRef(item, ctx.rallyWebBaseUrl),
        total: page.totalResultCount,
        tags: page.results.map(tagLine),
        nextCursor: null,
      };
      return {
        structured,
        text: renderText(`${headline(structured.item)} has ${page.totalResultCount} tag(s).`, structured),
      };
    }
    const { cursor, ...rest } = args;
    const query = { tool: 'tags', ...rest };
    const pos = await ctx.cursors.open(cursor, query);
    const page = await listTags(ctx.rally, {
      start: pos.start,
      pageSize: args.pageSize,
      ...(args.nameContains !== undefined ? { nameContains: args.nameContains } : {}),
      ...(args.workspace !== undefined ? { workspace: args.workspace } : {}),
    });
    const { kept } = fitItems(page.results.map(tagLine));
    const structured = {
      item: null,
      total: page.totalResultCount,
      tags: kept,
      nextCursor: await nextCursorFor(ctx.cursors, query, pos.start, kept.length, page.totalResultCount),
    };
    return { structured, text: renderText(`${kept.length} of ${page.totalResultCount} tag(s).`, structured) };
  },
});

// ---------- update_rally_tags (two-step) ----------

export const updateRallyTags = defineTool({
  name: 'update_rally_tags',
  projects: 'item',
  toolset: 'collaboration',
  title: 'Add or remove Rally tags',
  description:
    'Add existing tags to an item or remove them. Two steps: call without confirm for a preview (nothing is written), show it, then call again with confirm: true.',
  readOnly: false,
  annotations: { ...CHANGES, idempotentHint: true, title: 'Add or remove Rally tags' },
  input: z
    .object({
      id: ItemId,
      add: z.array(TagName).max(10).default([]).describe('Names of existing tags to add.'),
      remove: z.array(TagName).max(10).default([]).describe('Names of tags to remove.'),
      confirm: z
        .boolean()
        .default(false)
        .describe('false (default): only preview. true: apply. Ask the user before setting true.'),
    })
    .strict(),
  output: z.object({
    applied: z.boolean(),
    item: ItemRefOut,
    before: z.array(TagLine),
    after: z.array(TagLine),
  }),
  async run(args, ctx) {
    if (args.add.length === 0 && args.remove.length === 0) throw new ToolInputError('Give tags to add or remove.');
    const item = await resolveAnyItem(ctx.rally, args.id, ['ObjectID', 'FormattedID', 'Name']);
    const [current, toAdd, toRemove] = await Promise.all([
      itemTags(ctx.rally, item),
      resolveTags(ctx.rally, args.add),
      resolveTags(ctx.rally, args.remove),
    ]);
    const before = current.results.map(tagLine);
    const has = new Set(before.map((t) => t.objectId));
    const adding = toAdd.filter((t) => !has.has(t.oid));
    const removing = toRemove.filter((t) => has.has(t.oid));
    const removed = new Set(removing.map((t) => t.oid));
    const after = [
      ...before.filter((t) => !removed.has(t.objectId)),
      ...adding.map((t) => ({ objectId: t.oid, name: rallyText(t.name, 120) })),
    ];
    const ref = itemRef(item, ctx.rallyWebBaseUrl);
    if (!args.confirm) {
      const structured = { applied: false, item: ref, before, after };
      return {
        structured,
        text: renderText(
          `Preview only, nothing changed in ${headline(ref)}. Call again with confirm: true to apply.`,
          structured,
        ),
      };
    }
    await editTags(ctx.rally, item, adding, removing);
    const now = (await itemTags(ctx.rally, item)).results.map(tagLine);
    const structured = { applied: true, item: ref, before, after: now };
    return { structured, text: renderText(`Tags of ${headline(ref)} updated: ${ref.url}`, structured) };
  },
});

// ---------- attachments ----------

/** Text attachments larger than this are listed, never read (issue 17: a size cap). */
export const MAX_ATTACHMENT_BYTES = 64 * 1024;

const AttachmentLine = z.object({
  objectId: z.string(),
  name: RallyText,
  contentType: z.string().nullable(),
  sizeBytes: z.number().nullable(),
  readable: z.boolean().describe(`Text within ${MAX_ATTACHMENT_BYTES} bytes: read_rally_attachment can read it.`),
  author: UserOut,
});
const CONTENT_TYPE = /^[a-z0-9.+-]{1,40}\/[a-z0-9.+-]{1,80}$/i;
function attachmentLine(a: RallyObject): z.infer<typeof AttachmentLine> {
  const type = typeof a.ContentType === 'string' && CONTENT_TYPE.test(a.ContentType) ? a.ContentType : null;
  const size = numberOrNull(a.Size);
  return {
    objectId: oidOf(a) ?? '0',
    name: rallyText(a.Name, 256),
    contentType: type,
    sizeBytes: size,
    readable:
      type !== null &&
      /^(?:text\/|application\/(?:json|xml|csv|x-yaml|yaml|x-ndjson)$)/i.test(type) &&
      size !== null &&
      size <= MAX_ATTACHMENT_BYTES,
    author: userOut(a.User),
  };
}

export const listRallyAttachments = defineTool({
  name: 'list_rally_attachments',
  projects: 'item',
  toolset: 'collaboration',
  title: 'List Rally attachments',
  description:
    'List the attachments of a story, defect, task or portfolio item: name, type, size, and whether it can be read as text.',
  readOnly: true,
  annotations: { ...READ_ONLY, title: 'List Rally attachments' },
  input: z.object({ id: ItemId, pageSize: PageSize, cursor: CursorInput.optional() }).strict(),
  output: z.object({
    item: ItemRefOut,
    total: z.number(),
    attachments: z.array(AttachmentLine),
    nextCursor: z.string().nullable(),
  }),
  async run(args, ctx) {
    const { cursor, ...rest } = args;
    const query = { tool: 'attachments', ...rest };
    const pos = await ctx.cursors.open(cursor, query);
    const item = await resolveAnyItem(ctx.rally, args.id, ['ObjectID', 'FormattedID', 'Name']);
    const page = await listAttachments(ctx.rally, item, { start: pos.start, pageSize: args.pageSize });
    const { kept } = fitItems(page.results.map(attachmentLine));
    const structured = {
      item: itemRef(item, ctx.rallyWebBaseUrl),
      total: page.totalResultCount,
      attachments: kept,
      nextCursor: await nextCursorFor(ctx.cursors, query, pos.start, kept.length, page.totalResultCount),
    };
    return {
      structured,
      text: renderText(
        `${kept.length} of ${page.totalResultCount} attachment(s) on ${headline(structured.item)}.`,
        structured,
      ),
    };
  },
});

export const readRallyAttachment = defineTool({
  name: 'read_rally_attachment',
  projects: 'item',
  toolset: 'collaboration',
  title: 'Read Rally text attachment',
  description: `Read a text attachment (plain text, CSV, JSON, XML, YAML) of at most ${MAX_ATTACHMENT_BYTES / 1024} KB, by the attachment ObjectID from list_rally_attachments. Other files are described, not read.`,
  readOnly: true,
  annotations: { ...READ_ONLY, title: 'Read Rally text attachment' },
  input: z.object({ attachmentId: ObjectId.describe('Attachment ObjectID (from list_rally_attachments).') }).strict(),
  output: z.object({
    attachment: AttachmentLine,
    content: RallyText.nullable(),
    notRead: z.enum(['too_large', 'not_text']).nullable(),
  }),
  async run(args, ctx) {
    const read = await readAttachment(ctx.rally, args.attachmentId, MAX_ATTACHMENT_BYTES);
    const line = attachmentLine(read.attachment);
    const structured =
      read.kind === 'text'
        ? {
            attachment: line,
            content: { source: 'rally' as const, untrusted: true as const, text: cleanMultiline(read.text, 16_000) },
            notRead: null,
          }
        : { attachment: line, content: null, notRead: read.kind };
    const summary =
      read.kind === 'text'
        ? `Attachment ${line.objectId}: ${line.sizeBytes ?? '?'} bytes of text.`
        : `Attachment ${line.objectId} was not read (${read.kind === 'too_large' ? `over ${MAX_ATTACHMENT_BYTES} bytes` : 'not text'}).`;
    return { structured, text: renderText(summary, structured) };
  },
});

// ---------- get_rally_item_history ----------

const RevisionLine = z.object({
  revisionNumber: z.number().nullable(),
  at: z.string().nullable(),
  user: UserOut,
  description: RallyText,
});
const PostLine = z.object({
  postNumber: z.number().nullable(),
  at: z.string().nullable(),
  user: UserOut,
  text: RallyText,
});

export const getRallyItemHistory = defineTool({
  name: 'get_rally_item_history',
  projects: 'item',
  toolset: 'collaboration',
  title: 'Get Rally item history',
  description:
    'What changed on an item and who said what: its revision history (newest first) or its discussion posts. Pages with a cursor.',
  readOnly: true,
  annotations: { ...READ_ONLY, title: 'Get Rally item history' },
  input: z
    .object({
      id: ItemId,
      source: z.enum(['revisions', 'discussion']).default('revisions').describe('revisions (default) or discussion.'),
      pageSize: PageSize,
      cursor: CursorInput.optional(),
    })
    .strict(),
  output: z.object({
    item: ItemRefOut,
    source: z.enum(['revisions', 'discussion']),
    total: z.number(),
    revisions: z.array(RevisionLine),
    posts: z.array(PostLine),
    nextCursor: z.string().nullable(),
  }),
  async run(args, ctx) {
    const { cursor, ...rest } = args;
    const query = { tool: 'history', ...rest };
    const pos = await ctx.cursors.open(cursor, query);
    const item = await resolveAnyItem(ctx.rally, args.id, ['ObjectID', 'FormattedID', 'Name', 'RevisionHistory']);
    const page =
      args.source === 'revisions'
        ? await listRevisions(ctx.rally, item, { start: pos.start, pageSize: args.pageSize })
        : await listDiscussion(ctx.rally, item, { start: pos.start, pageSize: args.pageSize });
    const lines =
      args.source === 'revisions'
        ? page.results.map((r) => ({
            revisionNumber: numberOrNull(r.RevisionNumber),
            at: dateOrNull(r.CreationDate),
            user: userOut(r.User),
            description: rallyText(r.Description, MAX_COMMENT_CHARS),
          }))
        : page.results.map((p) => ({
            postNumber: numberOrNull(p.PostNumber),
            at: dateOrNull(p.CreationDate),
            user: userOut(p.User),
            text: rallyRichText(p.Text ?? '', MAX_COMMENT_CHARS),
          }));
    const { kept } = fitItems<unknown>(lines);
    const structured = {
      item: itemRef(item, ctx.rallyWebBaseUrl),
      source: args.source,
      total: page.totalResultCount,
      revisions: args.source === 'revisions' ? (kept as z.infer<typeof RevisionLine>[]) : [],
      posts: args.source === 'discussion' ? (kept as z.infer<typeof PostLine>[]) : [],
      nextCursor: await nextCursorFor(ctx.cursors, query, pos.start, kept.length, page.totalResultCount),
    };
    return {
      structured,
      text: renderText(
        `${kept.length} of ${page.totalResultCount} ${args.source} entr(ies) for ${headline(structured.item)}.`,
        structured,
      ),
    };
  },
});

// ---------- custom fields ----------

const CustomFieldValue = z.union([z.string(), z.number(), z.boolean()]).nullable();
const CustomFieldLine = z.object({
  field: z.string().describe('API name, c_…'),
  label: RallyText,
  attributeType: z.string(),
  readOnly: z.boolean(),
  allowedValues: z.array(RallyText).nullable().describe('Drop-down values ("" means None); null for free fields.'),
  value: z
    .union([z.number(), z.boolean(), RallyText])
    .nullable()
    .describe('The item’s value (text values are Rally text); absent without an item.'),
});
const ATTRIBUTE_TYPE = /^[A-Z_]{1,20}$/;

function fieldLine(f: CustomField, item?: RallyObject): z.infer<typeof CustomFieldLine> {
  const raw = item?.[f.element];
  return {
    field: f.element,
    label: rallyText(f.label, 120),
    attributeType: ATTRIBUTE_TYPE.test(f.attributeType) ? f.attributeType : 'STRING',
    readOnly: f.readOnly,
    allowedValues: f.allowed ? f.allowed.map((v) => rallyText(v, 120)) : null,
    value:
      typeof raw === 'number' || typeof raw === 'boolean'
        ? raw
        : typeof raw === 'string'
          ? rallyRichText(raw, MAX_COMMENT_CHARS)
          : null,
  };
}

export const getRallyCustomFields = defineTool({
  name: 'get_rally_custom_fields',
  projects: 'item',
  toolset: 'collaboration',
  title: 'Get Rally custom fields',
  description:
    'The custom fields (c_…) your workspace defines for an item type, with allowed values, and their values on one item when id is given.',
  readOnly: true,
  annotations: { ...READ_ONLY, title: 'Get Rally custom fields' },
  input: z
    .object({
      id: ItemId.optional().describe('Item whose values to show (US12, DE7, TA3, F4 or ObjectID).'),
      kind: z
        .enum(['story', 'defect', 'task'])
        .optional()
        .describe('Without id: which work-item kind to describe (default story).'),
      workspace: WorkspaceId.optional(),
    })
    .strict(),
  output: z.object({ item: ItemRefOut.nullable(), type: z.string(), fields: z.array(CustomFieldLine) }),
  async run(args, ctx) {
    const schema = await workspaceSchema(ctx.rally, args.workspace);
    if (args.id === undefined) {
      const type = { story: 'hierarchicalrequirement', defect: 'defect', task: 'task' }[args.kind ?? 'story'];
      const fields = (schema.customFields.get(type as 'defect') ?? []).map((f) => fieldLine(f));
      const structured = { item: null, type, fields };
      return { structured, text: renderText(`${fields.length} custom field(s) on ${type}.`, structured) };
    }
    const probe = await resolveAnyItem(ctx.rally, args.id, ['ObjectID', 'FormattedID', 'Name'], {
      ...(args.workspace ? { workspace: args.workspace } : {}),
    });
    const defs = customFieldsOf(schema, probe.type);
    const object =
      defs.length > 0
        ? await ctx.rally.read(probe.type, probe.oid, [
            'ObjectID',
            'FormattedID',
            'Name',
            ...defs.map((f) => f.element),
          ])
        : probe.object;
    const item = { ...probe, object };
    const structured = {
      item: itemRef(item, ctx.rallyWebBaseUrl),
      type: item.type,
      fields: defs.map((f) => fieldLine(f, object)),
    };
    return {
      structured,
      text: renderText(`${defs.length} custom field(s) on ${headline(structured.item)}.`, structured),
    };
  },
});

const CUSTOM_NAME = /^c_[A-Za-z0-9_]{1,78}$/;

export const setRallyCustomField = defineTool({
  name: 'set_rally_custom_field',
  projects: 'item',
  toolset: 'collaboration',
  title: 'Set a Rally custom field',
  description:
    'Set one custom field (c_…) on a story, defect, task or portfolio item; drop-down values are checked against the allowed values. Two steps: preview without confirm, then confirm: true.',
  readOnly: false,
  annotations: { ...CHANGES, idempotentHint: true, title: 'Set a Rally custom field' },
  input: z
    .object({
      id: ItemId,
      field: z.string().regex(CUSTOM_NAME, 'must be a custom field API name such as c_RiskLevel').describe('c_… name.'),
      value: CustomFieldValue.describe(
        'New value: text (up to 256 characters), number, boolean, or null to clear.',
      ).refine(
        // eslint-disable-next-line no-control-regex -- control characters are refused on purpose
        (v) => typeof v !== 'string' || (v.length <= 256 && !/[\u0000-\u001f]/.test(v)),
        'text must be 256 characters or fewer, without control characters',
      ),
      confirm: z
        .boolean()
        .default(false)
        .describe('false (default): only preview. true: apply. Ask the user before setting true.'),
    })
    .strict(),
  output: z.object({
    applied: z.boolean(),
    item: ItemRefOut,
    field: z.string(),
    from: z.union([z.number(), z.boolean(), RallyText]).nullable(),
    to: z.union([z.number(), z.boolean(), RallyText]).nullable(),
  }),
  async run(args, ctx) {
    const schema = await workspaceSchema(ctx.rally);
    const probe = await resolveAnyItem(ctx.rally, args.id, ['ObjectID', 'FormattedID', 'Name']);
    const def = customFieldsOf(schema, probe.type).find((f) => f.element === args.field);
    if (!def) throw new ToolInputError(`This workspace defines no custom field ${args.field} on ${probe.type}.`);
    if (def.readOnly) throw new ToolInputError(`${args.field} is read-only.`);
    if (def.allowed && args.value !== null && !def.allowed.includes(String(args.value)))
      throw new ToolInputError(
        `${args.field} does not allow that value; get_rally_custom_fields lists the allowed values.`,
      );
    const object = await ctx.rally.read(probe.type, probe.oid, ['ObjectID', 'FormattedID', 'Name', args.field]);
    const item = { ...probe, object };
    const ref = itemRef(item, ctx.rallyWebBaseUrl);
    const from = fieldLine(def, object).value;
    const to = fieldLine(def, { [args.field]: args.value }).value;
    if (!args.confirm) {
      const structured = { applied: false, item: ref, field: args.field, from, to };
      return {
        structured,
        text: renderText(
          `Preview only, nothing changed in ${headline(ref)}. Call again with confirm: true to apply.`,
          structured,
        ),
      };
    }
    const updated = await ctx.rally.update(probe.type, probe.oid, { [args.field]: args.value }, [
      'ObjectID',
      args.field,
    ]);
    const structured = { applied: true, item: ref, field: args.field, from, to: fieldLine(def, updated).value };
    return { structured, text: renderText(`Updated ${args.field} of ${headline(ref)}: ${ref.url}`, structured) };
  },
});

export const COLLABORATION_TOOLS = [
  listRallyTags,
  updateRallyTags,
  listRallyAttachments,
  readRallyAttachment,
  getRallyItemHistory,
  getRallyCustomFields,
  setRallyCustomField,
];
