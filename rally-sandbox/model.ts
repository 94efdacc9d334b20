/**
 * The sandbox's slice of Rally's object model: types, fields, allowed values.
 * Field names and drop-down values follow rally-api.md §3.9.
 * @module
 */

export type TypeKey =
  | 'subscription'
  | 'workspace'
  | 'project'
  | 'iteration'
  | 'release'
  | 'user'
  | 'userprofile'
  | 'tag'
  | 'hierarchicalrequirement'
  | 'defect'
  | 'task'
  | 'conversationpost';

export type FieldKind =
  | 'string'
  | 'text'
  | 'integer'
  | 'decimal'
  | 'boolean'
  | 'date'
  | 'enum'
  | 'ref'
  | 'collection'
  | 'tags'
  /** A many-to-many collection stored on the object (Milestones, TestSet.TestCases): edited with add/remove. */
  | 'refset';

export interface FieldDef {
  readonly kind: FieldKind;
  /** Allowed values of a drop-down, in display order. */
  readonly values?: readonly string[];
  /** Compare by position in `values` (ScheduleState, KB 57599). */
  readonly ordered?: boolean;
  /** Target types of a ref (first one is used to resolve dotted query paths). */
  readonly refTypes?: readonly TypeKey[];
  /** A collection lists objects of `type` whose `via` ref points at this object. */
  readonly collection?: { readonly type: TypeKey; readonly via: string };
  readonly required?: boolean;
  readonly readOnly?: boolean;
  readonly maxLength?: number;
}

export interface TypeDef {
  readonly key: TypeKey;
  /** `_type` and the wrapper key, e.g. `HierarchicalRequirement`. */
  readonly name: string;
  readonly fields: Readonly<Record<string, FieldDef>>;
  /** Field shown as `_refObjectName`. */
  readonly nameField: string;
  /** Writable through the API (create, update, delete). */
  readonly writable: boolean;
}

export const SCHEDULE_STATES = ['Defined', 'In-Progress', 'Completed', 'Accepted'] as const;
export const DEFECT_STATES = ['Submitted', 'Open', 'Fixed', 'Closed'] as const;
export const SEVERITIES = ['None', 'Crash/Data Loss', 'Major Problem', 'Minor Problem', 'Cosmetic'] as const;
export const PRIORITIES = ['None', 'Resolve Immediately', 'High Attention', 'Normal', 'Low'] as const;
export const RESOLUTIONS = [
  'None',
  'Architecture',
  'Code Change',
  'Configuration Change',
  'Duplicate',
  'Need More Information',
  'Not a Defect',
  'Software Limitation',
] as const;
export const ENVIRONMENTS = ['None', 'Development', 'Test', 'Production'] as const;
export const TASK_STATES = ['Defined', 'In-Progress', 'Completed'] as const;

const ro = (kind: FieldKind, extra: Partial<FieldDef> = {}): FieldDef => ({ kind, readOnly: true, ...extra });
const ref = (...refTypes: TypeKey[]): FieldDef => ({ kind: 'ref', refTypes });
const en = (values: readonly string[], extra: Partial<FieldDef> = {}): FieldDef => ({ kind: 'enum', values, ...extra });
const coll = (type: TypeKey, via: string): FieldDef => ({
  kind: 'collection',
  collection: { type, via },
  readOnly: true,
});
const STR: FieldDef = { kind: 'string', maxLength: 256 };
const RICH: FieldDef = { kind: 'text', maxLength: 32_768 };

/** Present on every object. */
const COMMON: Record<string, FieldDef> = {
  ObjectID: ro('integer'),
  ObjectUUID: ro('string'),
  CreationDate: ro('date'),
  VersionId: ro('string'),
  Subscription: ro('ref', { refTypes: ['subscription'] }),
  Workspace: ro('ref', { refTypes: ['workspace'] }),
};

/** Workspace-scoped work items (Artifact in Rally's model). */
const ARTIFACT: Record<string, FieldDef> = {
  ...COMMON,
  FormattedID: ro('string'),
  Name: { ...STR, required: true },
  Description: RICH,
  Notes: RICH,
  Owner: ref('user'),
  Project: ref('project'),
  Tags: { kind: 'tags' },
  Discussion: coll('conversationpost', 'Artifact'),
  Blocked: { kind: 'boolean' },
  BlockedReason: STR,
  Ready: { kind: 'boolean' },
  DragAndDropRank: ro('string'),
  LastUpdateDate: ro('date'),
};

const SCHEDULABLE: Record<string, FieldDef> = {
  ...ARTIFACT,
  ScheduleState: en(SCHEDULE_STATES, { ordered: true }),
  PlanEstimate: { kind: 'decimal' },
  Iteration: ref('iteration'),
  Release: ref('release'),
  Tasks: coll('task', 'WorkProduct'),
};

function def(
  key: TypeKey,
  name: string,
  fields: Record<string, FieldDef>,
  nameField = 'Name',
  writable = false,
): TypeDef {
  return { key, name, fields, nameField, writable };
}

export const TYPES: Readonly<Record<TypeKey, TypeDef>> = {
  subscription: def('subscription', 'Subscription', { ...COMMON, Name: STR, SubscriptionID: ro('integer') }),
  workspace: def('workspace', 'Workspace', { ...COMMON, Name: STR, State: en(['Open', 'Closed']), Description: RICH }),
  project: def('project', 'Project', {
    ...COMMON,
    Name: STR,
    Description: RICH,
    State: en(['Open', 'Closed']),
    Parent: ref('project'),
    Children: coll('project', 'Parent'),
    Owner: ref('user'),
  }),
  iteration: def('iteration', 'Iteration', {
    ...COMMON,
    Name: STR,
    StartDate: { kind: 'date' },
    EndDate: { kind: 'date' },
    State: en(['Planning', 'Committed', 'Accepted']),
    Project: ref('project'),
    PlannedVelocity: { kind: 'decimal' },
    Theme: RICH,
  }),
  release: def('release', 'Release', {
    ...COMMON,
    Name: STR,
    ReleaseStartDate: { kind: 'date' },
    ReleaseDate: { kind: 'date' },
    State: en(['Planning', 'Active', 'Accepted']),
    Project: ref('project'),
    Version: STR,
    Theme: RICH,
  }),
  user: def(
    'user',
    'User',
    {
      ...COMMON,
      UserName: STR,
      DisplayName: STR,
      EmailAddress: STR,
      FirstName: STR,
      LastName: STR,
      Disabled: { kind: 'boolean' },
      SubscriptionAdmin: { kind: 'boolean' },
      UserProfile: ref('userprofile'),
    },
    'DisplayName',
  ),
  userprofile: def(
    'userprofile',
    'UserProfile',
    {
      ...COMMON,
      DefaultWorkspace: ref('workspace'),
      DefaultProject: ref('project'),
      TimeZone: STR,
      EmailNotificationEnabled: { kind: 'boolean' },
    },
    'ObjectID',
  ),
  tag: def('tag', 'Tag', { ...COMMON, Name: STR, Archived: { kind: 'boolean' } }),
  hierarchicalrequirement: def(
    'hierarchicalrequirement',
    'HierarchicalRequirement',
    {
      ...SCHEDULABLE,
      Parent: ref('hierarchicalrequirement'),
      Children: coll('hierarchicalrequirement', 'Parent'),
      Defects: coll('defect', 'Requirement'),
    },
    'Name',
    true,
  ),
  defect: def(
    'defect',
    'Defect',
    {
      ...SCHEDULABLE,
      State: en(DEFECT_STATES),
      Severity: en(SEVERITIES),
      Priority: en(PRIORITIES),
      Resolution: en(RESOLUTIONS),
      Environment: en(ENVIRONMENTS),
      FoundInBuild: STR,
      Requirement: ref('hierarchicalrequirement'),
      SubmittedBy: ref('user'),
    },
    'Name',
    true,
  ),
  task: def(
    'task',
    'Task',
    {
      ...ARTIFACT,
      State: en(TASK_STATES),
      WorkProduct: { kind: 'ref', refTypes: ['hierarchicalrequirement', 'defect'], required: true },
      Estimate: { kind: 'decimal' },
      ToDo: { kind: 'decimal' },
      Actuals: { kind: 'decimal' },
      Iteration: ref('iteration'),
      Release: ref('release'),
    },
    'Name',
    true,
  ),
  conversationpost: def(
    'conversationpost',
    'ConversationPost',
    {
      ...COMMON,
      Artifact: { kind: 'ref', refTypes: ['hierarchicalrequirement', 'defect', 'task'], required: true },
      Text: { ...RICH, required: true },
      User: ro('ref', { refTypes: ['user'] }),
      PostNumber: ro('integer'),
    },
    'PostNumber',
    true,
  ),
};

const BY_LOWER = new Map<string, TypeDef>(Object.values(TYPES).map((t) => [t.key, t]));

/** Type path segments are case-insensitive (§3.1). */
export function typeByPath(segment: string): TypeDef | undefined {
  return BY_LOWER.get(segment.toLowerCase());
}

/** Default values for a new object (drop-downs start at their first value, so unset reads as "None"). */
export function defaultValues(type: TypeDef): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(type.fields)) {
    if (field.kind === 'collection' || name in COMMON) continue;
    if (field.kind === 'enum') out[name] = field.values?.[0] ?? 'None';
    else if (field.kind === 'ref' || field.kind === 'date' || field.kind === 'decimal' || field.kind === 'integer')
      out[name] = null;
    else if (field.kind === 'boolean') out[name] = false;
    else if (field.kind === 'tags') out[name] = [];
    else if (field.kind === 'text') out[name] = '';
    else out[name] = field.readOnly ? null : '';
  }
  return out;
}

/** Finds a field by exact name, falling back to a case-insensitive match. */
export function findField(type: TypeDef, name: string): [string, FieldDef] | undefined {
  const exact = type.fields[name];
  if (exact) return [name, exact];
  const lower = name.toLowerCase();
  for (const [n, f] of Object.entries(type.fields)) if (n.toLowerCase() === lower) return [n, f];
  return undefined;
}
