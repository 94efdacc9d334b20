/**
 * The workspace's own schema, discovered from TypeDefinition and
 * AttributeDefinition (rally-api.md §3.11): portfolio levels (lowest first)
 * and custom fields (`c_…`) with their allowed values. Cached per Rally
 * principal and workspace: definitions change rarely, and a warm tool call
 * must not pay for them again.
 * @module
 */
import { evictOldest } from '../kernel/lru.js';
import type { RallyClient } from './client.js';
import { compileQuery } from './query.js';
import { oidOf, userDefaults } from './refs.js';
import { FIELD_NAME, PORTFOLIO_TYPE, type PortfolioType, type RallyObject, type RallyType } from './types.js';

export interface PortfolioLevel {
  /** `portfolioitem/feature`: the WSAPI type. */
  readonly type: PortfolioType;
  /** Rally-authored display name, e.g. "Feature" (untrusted text). */
  readonly name: string;
  readonly ordinal: number;
}

export interface CustomField {
  /** `c_RiskLevel`: validated against FIELD_NAME and the `c_` prefix. */
  readonly element: string;
  /** Rally-authored display name (untrusted text). */
  readonly label: string;
  readonly attributeType: string;
  readonly readOnly: boolean;
  /** Allowed values of a drop-down ("" stands for None); null when the field is free text or a number. */
  readonly allowed: readonly string[] | null;
}

/** Types whose custom fields the tools read and write. */
export type CustomFieldType = 'hierarchicalrequirement' | 'defect' | 'task' | PortfolioType;

export interface WorkspaceSchema {
  readonly portfolioLevels: readonly PortfolioLevel[];
  readonly customFields: ReadonlyMap<CustomFieldType, readonly CustomField[]>;
}

const TTL_MS = 10 * 60_000;
const CACHE_LIMIT = 2000;
const cache = new Map<string, { readonly at: number; readonly value: Promise<WorkspaceSchema> }>();
const CUSTOM = /^c_[A-Za-z0-9_]{1,78}$/;
const MAX_ALLOWED = 200;

const TYPE_OF: Readonly<Record<string, CustomFieldType>> = {
  HierarchicalRequirement: 'hierarchicalrequirement',
  Defect: 'defect',
  Task: 'task',
};

function typeOf(typePath: unknown): CustomFieldType | undefined {
  if (typeof typePath !== 'string') return undefined;
  const known = TYPE_OF[typePath];
  if (known) return known;
  const lower = typePath.toLowerCase();
  return PORTFOLIO_TYPE.test(lower) ? (lower as PortfolioType) : undefined;
}

/** The schema of `workspace` (default: the caller's default workspace), from cache when fresh. */
export async function workspaceSchema(rally: RallyClient, workspace?: string): Promise<WorkspaceSchema> {
  const ws = workspace ?? (await userDefaults(rally)).workspace?.oid ?? '';
  const key = `${rally.principalKey}\u0000${ws}`;
  const now = Date.now();
  const hit = cache.get(key);
  if (hit && now - hit.at < TTL_MS) return hit.value;
  const value = loadSchema(rally, ws || undefined);
  value.catch(() => {
    if (cache.get(key)?.value === value) cache.delete(key);
  });
  evictOldest(cache, CACHE_LIMIT);
  cache.set(key, { at: now, value });
  return value;
}

async function loadSchema(rally: RallyClient, workspace: string | undefined): Promise<WorkspaceSchema> {
  const scope = workspace ? { workspace } : {};
  const defs = await rally.query('typedefinition', {
    query: compileQuery({
      or: [
        { attr: 'TypePath', op: 'in', value: ['HierarchicalRequirement', 'Defect', 'Task'] },
        { attr: 'TypePath', op: 'contains', value: 'PortfolioItem/' },
      ],
    }),
    fetch: ['ObjectID', 'TypePath', 'ElementName', 'Name', 'Ordinal', 'Abstract'],
    order: 'ObjectID',
    pageSize: 50,
    ...scope,
  });
  const levels: PortfolioLevel[] = [];
  const typed: Array<{ type: CustomFieldType; oid: string }> = [];
  for (const d of defs.results) {
    const type = typeOf(d.TypePath);
    const oid = oidOf(d);
    if (!type || !oid || d.Abstract === true) continue;
    typed.push({ type, oid });
    if (type.startsWith('portfolioitem/') && typeof d.Ordinal === 'number' && d.Ordinal >= 0)
      levels.push({ type: type as PortfolioType, name: typeof d.Name === 'string' ? d.Name : '', ordinal: d.Ordinal });
  }
  levels.sort((a, b) => a.ordinal - b.ordinal);
  const customFields = new Map<CustomFieldType, readonly CustomField[]>();
  await Promise.all(
    typed.map(async ({ type, oid }) => {
      const attrs = await rally.collection('typedefinition', oid, 'Attributes', {
        query: compileQuery({ attr: 'Custom', op: '=', value: true }),
        fetch: ['ObjectID', 'ElementName', 'Name', 'AttributeType', 'ReadOnly', 'Constrained', 'Hidden'],
        pageSize: 200,
      });
      const fields = await Promise.all(
        attrs.results
          .filter(
            (a) => typeof a.ElementName === 'string' && CUSTOM.test(a.ElementName) && FIELD_NAME.test(a.ElementName),
          )
          .filter((a) => a.Hidden !== true)
          .map((a) => customField(rally, a)),
      );
      customFields.set(type, fields);
    }),
  );
  return { portfolioLevels: levels, customFields };
}

async function customField(rally: RallyClient, a: RallyObject): Promise<CustomField> {
  let allowed: string[] | null = null;
  const oid = oidOf(a);
  if (a.Constrained === true && oid) {
    const values = await rally.collection('attributedefinition', oid, 'AllowedValues', {
      fetch: ['StringValue'],
      pageSize: MAX_ALLOWED,
    });
    allowed = values.results.map((v) => (typeof v.StringValue === 'string' ? v.StringValue : '')).slice(0, MAX_ALLOWED);
  }
  return {
    element: String(a.ElementName),
    label: typeof a.Name === 'string' ? a.Name : '',
    attributeType: typeof a.AttributeType === 'string' ? a.AttributeType.slice(0, 20) : 'STRING',
    readOnly: a.ReadOnly === true,
    allowed,
  };
}

/** The custom fields of `type`, or an empty list. */
export function customFieldsOf(schema: WorkspaceSchema, type: RallyType): readonly CustomField[] {
  return schema.customFields.get(type as CustomFieldType) ?? [];
}
