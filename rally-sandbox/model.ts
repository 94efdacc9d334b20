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
  | 'conversationpost'
  | 'portfolioitem/feature'
  | 'portfolioitem/initiative'
  | 'state'
  | 'milestone'
  | 'useriterationcapacity'
  | 'testcase'
  | 'testset'
  | 'testcaseresult'
  | 'attachment'
  | 'attachmentcontent'
  | 'revisionhistory'
  | 'revision'
  | 'typedefinition'
  | 'attributedefinition'
  | 'allowedattributevalue';

/** Values derived on read (rollups), by name; serialize.ts computes them. */
export type Computed =
  | 'percentDoneByStoryCount'
  | 'percentDoneByStoryPlanEstimate'
  | 'leafStoryCount'
  | 'acceptedLeafStoryCount'
  | 'leafStoryPlanEstimateTotal'
  | 'acceptedLeafStoryPlanEstimateTotal'
  | 'lastVerdict'
  | 'lastRun'
  | 'taskEstimates';

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
  /** A workspace-defined custom field (`c_…`): reported with `Custom: true` by AttributeDefinition. */
  readonly custom?: boolean;
  /** Read-only value derived from other objects on every read (not queryable in the sandbox). */
  readonly computed?: Computed;
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

/** Portfolio item levels, lowest first (Ordinal 0, 1, …); workspaces configure them (rally-api.md §3.9). */
export const PORTFOLIO_LEVELS = ['portfolioitem/feature', 'portfolioitem/initiative'] as const;
export const PORTFOLIO_STATES = ['Discovering', 'Developing', 'Measuring', 'Done'] as const;
export const RISK_LEVELS = ['None', 'Low', 'Medium', 'High'] as const;
export const VERDICTS = ['Pass', 'Fail', 'Blocked', 'Error', 'Inconclusive'] as const;

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
const comp = (kind: FieldKind, computed: Computed): FieldDef => ({ kind, readOnly: true, computed });
const refset = (...refTypes: TypeKey[]): FieldDef => ({ kind: 'refset', refTypes });
/** The seeded workspace's custom fields (`c_…`, rally-api.md §3.11). */
const CUSTOM: Record<string, FieldDef> = {
  c_RiskLevel: en(RISK_LEVELS, { custom: true }),
  c_CustomerImpact: { ...STR, custom: true },
};

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
  Milestones: refset('milestone'),
  Attachments: coll('attachment', 'Artifact'),
  RevisionHistory: ro('ref', { refTypes: ['revisionhistory'] }),
};

const PORTFOLIO: Record<string, FieldDef> = {
  ...ARTIFACT,
  State: ref('state'),
  PlannedStartDate: { kind: 'date' },
  PlannedEndDate: { kind: 'date' },
  ActualStartDate: { kind: 'date' },
  ActualEndDate: { kind: 'date' },
  Release: ref('release'),
  InvestmentCategory: en(['None', 'Cost Savings', 'Exploration', 'New Business', 'Strategic']),
  PercentDoneByStoryCount: comp('decimal', 'percentDoneByStoryCount'),
  PercentDoneByStoryPlanEstimate: comp('decimal', 'percentDoneByStoryPlanEstimate'),
  LeafStoryCount: comp('integer', 'leafStoryCount'),
  AcceptedLeafStoryCount: comp('integer', 'acceptedLeafStoryCount'),
  LeafStoryPlanEstimateTotal: comp('decimal', 'leafStoryPlanEstimateTotal'),
  AcceptedLeafStoryPlanEstimateTotal: comp('decimal', 'acceptedLeafStoryPlanEstimateTotal'),
  c_RiskLevel: en(RISK_LEVELS, { custom: true }),
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
      ...CUSTOM,
      Parent: ref('hierarchicalrequirement'),
      Children: coll('hierarchicalrequirement', 'Parent'),
      Defects: coll('defect', 'Requirement'),
      PortfolioItem: ref('portfolioitem/feature'),
      TestCases: coll('testcase', 'WorkProduct'),
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
      ...CUSTOM,
      Requirement: ref('hierarchicalrequirement'),
      SubmittedBy: ref('user'),
      TestCases: coll('testcase', 'WorkProduct'),
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
  'portfolioitem/feature': def(
    'portfolioitem/feature',
    'PortfolioItem/Feature',
    {
      ...PORTFOLIO,
      Parent: ref('portfolioitem/initiative'),
      UserStories: coll('hierarchicalrequirement', 'PortfolioItem'),
    },
    'Name',
    true,
  ),
  'portfolioitem/initiative': def(
    'portfolioitem/initiative',
    'PortfolioItem/Initiative',
    { ...PORTFOLIO, Children: coll('portfolioitem/feature', 'Parent') },
    'Name',
    true,
  ),
  state: def('state', 'State', {
    ...COMMON,
    Name: STR,
    OrderIndex: { kind: 'integer' },
    TypeDef: ref('typedefinition'),
    Enabled: { kind: 'boolean' },
  }),
  milestone: def(
    'milestone',
    'Milestone',
    {
      ...COMMON,
      FormattedID: ro('string'),
      Name: { ...STR, required: true },
      TargetDate: { kind: 'date' },
      TargetProject: ref('project'),
      Notes: RICH,
      DisplayColor: STR,
    },
    'Name',
    true,
  ),
  useriterationcapacity: def('useriterationcapacity', 'UserIterationCapacity', {
    ...COMMON,
    User: ref('user'),
    Iteration: ref('iteration'),
    Project: ref('project'),
    Capacity: { kind: 'decimal' },
    TaskEstimates: comp('decimal', 'taskEstimates'),
  }),
  testcase: def(
    'testcase',
    'TestCase',
    {
      ...ARTIFACT,
      WorkProduct: ref('hierarchicalrequirement', 'defect'),
      Type: en(['Acceptance', 'Functional', 'Performance', 'Regression', 'Usability', 'User Interface']),
      Method: en(['Manual', 'Automated']),
      Priority: en(['None', 'Useful', 'Important', 'Critical']),
      PreConditions: RICH,
      ValidationInput: RICH,
      ValidationExpectedResult: RICH,
      LastVerdict: comp('string', 'lastVerdict'),
      LastRun: comp('date', 'lastRun'),
      Results: coll('testcaseresult', 'TestCase'),
    },
    'Name',
    true,
  ),
  testset: def(
    'testset',
    'TestSet',
    {
      ...ARTIFACT,
      ScheduleState: en(SCHEDULE_STATES, { ordered: true }),
      PlanEstimate: { kind: 'decimal' },
      Iteration: ref('iteration'),
      Release: ref('release'),
      TestCases: refset('testcase'),
    },
    'Name',
    true,
  ),
  testcaseresult: def(
    'testcaseresult',
    'TestCaseResult',
    {
      ...COMMON,
      TestCase: { kind: 'ref', refTypes: ['testcase'], required: true },
      Verdict: { ...en(VERDICTS), required: true },
      Date: { kind: 'date', required: true },
      Build: { ...STR, required: true },
      Notes: RICH,
      Tester: ref('user'),
      Duration: { kind: 'decimal' },
      TestSet: ref('testset'),
      Attachments: coll('attachment', 'Artifact'),
    },
    'Build',
    true,
  ),
  attachment: def(
    'attachment',
    'Attachment',
    {
      ...COMMON,
      Artifact: { kind: 'ref', refTypes: ['hierarchicalrequirement', 'defect', 'task', 'testcase', 'testcaseresult'] },
      Name: { ...STR, required: true },
      Description: STR,
      ContentType: STR,
      Size: { kind: 'integer' },
      Content: { kind: 'ref', refTypes: ['attachmentcontent'], required: true },
      User: ro('ref', { refTypes: ['user'] }),
    },
    'Name',
    true,
  ),
  attachmentcontent: def(
    'attachmentcontent',
    'AttachmentContent',
    { ...COMMON, Content: { kind: 'text' } },
    'ObjectID',
    true,
  ),
  revisionhistory: def(
    'revisionhistory',
    'RevisionHistory',
    {
      ...COMMON,
      Revisions: coll('revision', 'RevisionHistory'),
    },
    'ObjectID',
  ),
  revision: def(
    'revision',
    'Revision',
    {
      ...COMMON,
      RevisionHistory: ref('revisionhistory'),
      RevisionNumber: ro('integer'),
      Description: ro('string'),
      User: ro('ref', { refTypes: ['user'] }),
    },
    'RevisionNumber',
  ),
  typedefinition: def('typedefinition', 'TypeDefinition', {
    ...COMMON,
    Name: STR,
    ElementName: STR,
    DisplayName: STR,
    TypePath: STR,
    IDPrefix: STR,
    Ordinal: { kind: 'integer' },
    Parent: ref('typedefinition'),
    Abstract: { kind: 'boolean' },
    Creatable: { kind: 'boolean' },
    Queryable: { kind: 'boolean' },
    ReadOnly: { kind: 'boolean' },
    Attributes: coll('attributedefinition', 'TypeDefinition'),
  }),
  attributedefinition: def('attributedefinition', 'AttributeDefinition', {
    ...COMMON,
    Name: STR,
    ElementName: STR,
    AttributeType: STR,
    Custom: { kind: 'boolean' },
    Required: { kind: 'boolean' },
    ReadOnly: { kind: 'boolean' },
    Constrained: { kind: 'boolean' },
    Hidden: { kind: 'boolean' },
    MaxLength: { kind: 'integer' },
    TypeDefinition: ref('typedefinition'),
    AllowedValues: coll('allowedattributevalue', 'AttributeDefinition'),
  }),
  allowedattributevalue: def(
    'allowedattributevalue',
    'AllowedAttributeValue',
    { ...COMMON, StringValue: STR, ValueIndex: { kind: 'integer' }, AttributeDefinition: ref('attributedefinition') },
    'StringValue',
  ),
};

const BY_LOWER = new Map<string, TypeDef>(Object.values(TYPES).map((t) => [t.key, t]));

/**
 * Objects whose visibility follows another object (no Project of their own): the ref to follow.
 * AttachmentContent and Revision are reached through the object that refers to them.
 */
export const PARENT_LINK: Partial<Record<TypeKey, string>> = {
  conversationpost: 'Artifact',
  testcaseresult: 'TestCase',
  attachment: 'Artifact',
};

/** Type path segments are case-insensitive (§3.1); portfolio levels are `portfolioitem/<level>`. */
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
    else if (field.kind === 'tags' || field.kind === 'refset') out[name] = [];
    else if (field.computed) continue;
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
