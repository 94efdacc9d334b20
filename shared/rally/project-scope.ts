/**
 * A connection token's project allowlist (issue 18, O16–O22), enforced where every tool reaches
 * Rally: a RallyClient that lets only the allowed projects' objects through. The one execution
 * path (shared/mcp/execute.ts) wraps each tool call's client in it when the caller carries a list;
 * tools do nothing, so a new tool cannot forget it.
 *
 *  - Lists and searches: the query is ANDed with `((Project = /project/1) OR …)` (`TargetProject`
 *    for milestones, `ObjectID` for projects themselves); a `project` parameter outside the list is
 *    refused; every result is checked again on its fetched Project. A lookup (`lookup: true`: one
 *    FormattedID or exact name) is checked but not narrowed, so a match elsewhere is refused with
 *    a reason rather than reported as "not found".
 *  - Reads by ObjectID fetch the object's Project and refuse it when outside. An attachment, a
 *    discussion post or a test result is checked through the item it belongs to; an attachment's
 *    content and an item's revision history only after that item passed.
 *  - Writes: an update or tag change reaches only an object checked first in the same call (the
 *    check reads it before anything is written); a create needs an allowed Project (or, for a post
 *    or a test result, a checked item); every ref a write sets (iteration, release, parent, work
 *    product, test case) is checked the same way.
 *  - Objects with no project (users, tags, type and attribute definitions, the workspace) pass.
 *
 * A type this module does not classify is refused (the table below must name every RallyType),
 * and in mode `none` (a tool that declared it touches no project) every object with a project is.
 * The names of objects an allowed item links to (its parent, iteration, release) are part of that
 * item's view and are not checked.
 * @module
 */
import { CodedError } from '../kernel/errors.js';
import type { QueryOptions, RallyClient } from './client.js';
import { andRaw, compileQuery, type QueryFilter } from './query.js';
import { oidOf, refOid } from './refs.js';
import {
  OBJECT_ID,
  PORTFOLIO_TYPE,
  RALLY_TYPES,
  isRallyType,
  type QueryPage,
  type RallyCollection,
  type RallyObject,
  type RallyType,
} from './types.js';

/** How the tool being run declared it touches projects: `none` (nothing with a project) or `scoped`. */
export type ProjectScopeMode = 'none' | 'scoped';

/** What the allowlist refused; execute.ts audits it as `policy_denied` and answers with `publicMessage`. */
export class ProjectNotAllowedError extends CodedError<'project_not_allowed'> {
  /** Written by us: Rally types and ObjectIDs only, never Rally text. */
  readonly publicMessage: string;
  /** `type/ObjectID` of what was refused, for the audit line. */
  readonly rallyObject: string | undefined;
  constructor(publicMessage: string, rallyObject?: string) {
    super('project_not_allowed', 'outside the project allowlist');
    this.name = 'ProjectNotAllowedError';
    this.publicMessage = publicMessage;
    this.rallyObject = rallyObject;
  }
}

/** How an object of a type belongs to a project. */
type Kind =
  | { readonly kind: 'free' } // no project at all
  | { readonly kind: 'self' } // a project
  | { readonly kind: 'own'; readonly field: 'Project' | 'TargetProject' }
  | { readonly kind: 'parent'; readonly field: 'Artifact' | 'TestCase' } // belongs to the item it names
  | { readonly kind: 'reached' }; // found only through a checked owner (never named by itself)

const OWN: Kind = { kind: 'own', field: 'Project' };

/** Every RallyType, classified: a type added to RALLY_TYPES does not compile until it is placed here. */
const KINDS: Readonly<Record<(typeof RALLY_TYPES)[number], Kind>> = {
  hierarchicalrequirement: OWN,
  defect: OWN,
  task: OWN,
  artifact: OWN,
  iteration: OWN,
  release: OWN,
  testcase: OWN,
  testset: OWN,
  useriterationcapacity: OWN,
  milestone: { kind: 'own', field: 'TargetProject' },
  project: { kind: 'self' },
  conversationpost: { kind: 'parent', field: 'Artifact' },
  attachment: { kind: 'parent', field: 'Artifact' },
  testcaseresult: { kind: 'parent', field: 'TestCase' },
  attachmentcontent: { kind: 'reached' },
  revisionhistory: { kind: 'reached' },
  revision: { kind: 'reached' },
  user: { kind: 'free' },
  userprofile: { kind: 'free' },
  workspace: { kind: 'free' },
  tag: { kind: 'free' },
  typedefinition: { kind: 'free' },
  attributedefinition: { kind: 'free' },
  state: { kind: 'free' },
};

const kindOf = (type: RallyType): Kind | undefined =>
  PORTFOLIO_TYPE.test(type) ? OWN : (KINDS as Readonly<Record<string, Kind>>)[type];

/** Collections whose members have a project of their own: narrowed and checked like a query. */
const MEMBERS_WITH_PROJECT: ReadonlySet<RallyCollection> = new Set([
  'Tasks',
  'Defects',
  'Children',
  'TestCases',
  'UserStories',
]);
/** Collections whose members belong to their (checked) owner. */
const MEMBERS_OF_OWNER: ReadonlySet<RallyCollection> = new Set([
  'Discussion',
  'Attachments',
  'Revisions',
  'Tags',
  'Results',
]);

const LABELS: Readonly<Record<string, string>> = {
  hierarchicalrequirement: 'user story',
  testcase: 'test case',
  testset: 'test set',
  testcaseresult: 'test result',
  conversationpost: 'discussion post',
  useriterationcapacity: 'capacity record',
  attachmentcontent: 'attachment',
  revisionhistory: 'revision history',
};
const labelOf = (type: string): string =>
  type.startsWith('portfolioitem/') ? 'portfolio item' : (LABELS[type] ?? type);

/** `/portfolioitem/feature/5`, `https://…/v2.0/defect/12`: the type and ObjectID a ref names. */
export function parseRef(ref: unknown): { readonly type: RallyType; readonly oid: string } | undefined {
  const raw =
    typeof ref === 'string' ? ref : ref && typeof ref === 'object' ? (ref as { _ref?: unknown })._ref : undefined;
  if (typeof raw !== 'string') return undefined;
  const m = /\/((?:portfolioitem\/)?[a-z]+)\/(\d{1,19})(?:\.js)?$/i.exec(raw);
  const type = m?.[1]?.toLowerCase();
  const oid = m?.[2];
  return type && oid && OBJECT_ID.test(oid) && isRallyType(type) ? { type, oid } : undefined;
}

/** A relative ref as our write code builds them (`/iteration/123`): every such field value is checked. */
const REF_VALUE = /^\/(?:portfolioitem\/)?[a-z]+\/\d{1,19}$/;
/** Rally's ref attributes a write may set: their value, in any ref form, must name an object the list allows. */
const REF_FIELDS: ReadonlySet<string> = new Set([
  'Project',
  'TargetProject',
  'Parent',
  'WorkProduct',
  'Requirement',
  'Iteration',
  'Release',
  'Artifact',
  'TestCase',
  'TestSet',
  'TestFolder',
  'PortfolioItem',
  'Feature',
  'Defect',
  'Owner',
  'Tester',
  'SubmittedBy',
]);

function withFields(fetch: QueryOptions['fetch'], fields: readonly string[]): readonly string[] | true {
  if (fetch === true) return true;
  const list = fetch ?? ['ObjectID'];
  return [...list, ...fields.filter((f) => !list.includes(f))];
}

/**
 * `inner`, narrowed to the projects `allowed` (ObjectIDs; a token holds at most 20) for one tool
 * call. It remembers, for that call only, which objects it found inside the list.
 */
export function scopeToProjects(inner: RallyClient, allowed: readonly string[], mode: ProjectScopeMode): RallyClient {
  const projects = new Set(allowed);
  const passed = new Set<string>(); // "type/oid" of objects found inside the list during this call
  const key = (type: string, oid: string) => `${type}/${oid}`;
  const listed = `Its projects (ObjectIDs): ${[...projects].join(', ')}.`;
  const LIMITED = 'This connection token may use only some Rally projects';

  const outside = (type: string, oid: string | undefined) =>
    new ProjectNotAllowedError(
      `${LIMITED}, and that ${labelOf(type)} is in another one. ${listed}`,
      oid ? key(type, oid) : type,
    );
  const projectOutside = (oid: string) =>
    new ProjectNotAllowedError(`${LIMITED}, and project ${oid} is not one of them. ${listed}`, key('project', oid));
  const undeclared = (type: string) =>
    new ProjectNotAllowedError(
      `${LIMITED}, and this tool is not meant to reach ${labelOf(type)} data, so it was stopped.`,
      type,
    );

  /** The kind of `type` when this call may touch it at all; throws otherwise. */
  function allowedKind(type: RallyType): Kind {
    const k = kindOf(type);
    if (!k) throw undeclared(type); // not classified: refused rather than guessed
    if (mode === 'none' && k.kind !== 'free') throw undeclared(type);
    return k;
  }

  /** An object just read from Rally: inside the list, or the call stops here. */
  function admit(type: RallyType, k: Kind, obj: RallyObject): void {
    const oid = oidOf(obj);
    if (k.kind === 'self') {
      if (!oid || !projects.has(oid)) throw oid ? projectOutside(oid) : outside(type, oid);
    } else if (k.kind === 'own') {
      const project = refOid(obj[k.field]);
      if (!oid || !project || !projects.has(project)) throw outside(type, oid);
    } else {
      return;
    }
    passed.add(key(type, oid));
    const history = parseRef(obj.RevisionHistory);
    if (history?.type === 'revisionhistory') passed.add(key(history.type, history.oid));
  }

  /** Whether the object `type/oid` is inside the list; reads its Project when this call has not seen it. */
  async function ensure(type: RallyType, oid: string): Promise<void> {
    const k = allowedKind(type);
    if (k.kind === 'free' || passed.has(key(type, oid))) return;
    if (k.kind === 'self') {
      if (!projects.has(oid)) throw projectOutside(oid);
      return;
    }
    if (k.kind === 'reached') throw outside(type, oid);
    await read(type, oid, ['ObjectID']);
  }

  async function ensureRef(ref: unknown): Promise<void> {
    const target = parseRef(ref);
    if (!target) throw undeclared('unknown');
    await ensure(target.type, target.oid);
  }

  /** Every ref a write sets must be inside the list too (`Project` itself included; clearing one is fine). */
  async function checkWrittenRefs(fields: Readonly<Record<string, unknown>>): Promise<void> {
    for (const [name, value] of Object.entries(fields)) {
      if (REF_FIELDS.has(name) ? value !== null : typeof value === 'string' && REF_VALUE.test(value))
        await ensureRef(value);
    }
  }

  /** The clause that keeps a query inside the list. */
  function clause(k: Kind): string {
    const field = k.kind === 'own' ? k.field : 'ObjectID';
    const terms: QueryFilter[] = [...projects].map((p) =>
      field === 'ObjectID'
        ? { attr: 'ObjectID', op: '=', value: { oid: p } }
        : { attr: field, op: '=', value: { ref: `/project/${p}` } },
    );
    return compileQuery(terms.length === 1 ? (terms[0] as QueryFilter) : { or: terms });
  }

  function checkProjectParam(options: QueryOptions): void {
    if (options.project !== undefined && !projects.has(options.project)) throw projectOutside(options.project);
  }

  const fieldOf = (k: Kind): string[] => (k.kind === 'own' ? [k.field] : k.kind === 'parent' ? [k.field] : []);

  async function read(type: RallyType, oid: string, fetch?: readonly string[] | true): Promise<RallyObject> {
    const k = allowedKind(type);
    switch (k.kind) {
      case 'free':
        return inner.read(type, oid, fetch);
      case 'self':
        if (!projects.has(oid)) throw projectOutside(oid);
        return inner.read(type, oid, fetch);
      case 'reached':
        if (!passed.has(key(type, oid))) throw outside(type, oid);
        return inner.read(type, oid, fetch);
      case 'own': {
        const obj = await inner.read(type, oid, fetch === undefined ? undefined : withFields(fetch, [k.field]));
        admit(type, k, obj);
        return obj;
      }
      case 'parent': {
        // `Project` too: WSAPI applies fetch names one level into refs, so the item comes with its project.
        const obj = await inner.read(
          type,
          oid,
          fetch === undefined ? undefined : withFields(fetch, [k.field, 'Project']),
        );
        const owner = obj[k.field];
        const ownerRef = parseRef(owner);
        const ownerProject = owner && typeof owner === 'object' ? refOid((owner as RallyObject).Project) : undefined;
        if (ownerRef && ownerProject !== undefined) {
          if (!projects.has(ownerProject)) throw outside(type, oid);
          passed.add(key(ownerRef.type, ownerRef.oid));
        } else {
          await ensureRef(owner); // no project came with it: read the item
        }
        passed.add(key(type, oid));
        const content = parseRef(obj.Content);
        if (content?.type === 'attachmentcontent') passed.add(key(content.type, content.oid));
        return obj;
      }
    }
  }

  return {
    principalKey: inner.principalKey,
    currentUser: (fetch) => inner.currentUser(fetch),
    read,

    async query(type, options = {}): Promise<QueryPage> {
      const k = allowedKind(type);
      if (k.kind === 'free') return inner.query(type, options);
      if (k.kind !== 'own' && k.kind !== 'self') throw undeclared(type); // posts, results…: only through their item
      checkProjectParam(options);
      const query = options.lookup ? options.query : andRaw(options.query, clause(k));
      const page = await inner.query(type, {
        ...options,
        ...(query !== undefined ? { query } : {}),
        fetch: withFields(options.fetch, fieldOf(k)),
      });
      for (const r of page.results) admit(type, k, r);
      return page;
    },

    async collection(type, oid, name, options = {}): Promise<QueryPage> {
      const k = allowedKind(type);
      if (k.kind === 'free') return inner.collection(type, oid, name, options);
      await ensure(type, oid);
      if (MEMBERS_WITH_PROJECT.has(name) && k.kind === 'own') {
        checkProjectParam(options);
        const member: Kind = OWN;
        const page = await inner.collection(type, oid, name, {
          ...options,
          query: andRaw(options.query, clause(member)) as string,
          fetch: withFields(options.fetch, ['Project']),
        });
        for (const r of page.results) admit(parseRef(r)?.type ?? 'artifact', member, r);
        return page;
      }
      if (!MEMBERS_OF_OWNER.has(name)) throw undeclared(type);
      const page = await inner.collection(type, oid, name, options);
      for (const r of page.results) {
        const ref = parseRef(r);
        if (ref) passed.add(key(ref.type, ref.oid));
      }
      return page;
    },

    async create(type, fields, fetch): Promise<RallyObject> {
      const k = allowedKind(type);
      if (k.kind === 'free') return inner.create(type, fields, fetch);
      if (k.kind === 'own') {
        const project = refOid(fields[k.field]);
        if (project === undefined)
          throw new ProjectNotAllowedError(`${LIMITED}: name one of them with the project argument. ${listed}`, type);
        if (!projects.has(project)) throw projectOutside(project);
      } else if (k.kind === 'parent') {
        if (parseRef(fields[k.field]) === undefined) throw undeclared(type);
      } else {
        throw undeclared(type);
      }
      await checkWrittenRefs(fields);
      const created = await inner.create(type, fields, fetch);
      const oid = oidOf(created);
      if (oid) passed.add(key(type, oid));
      return created;
    },

    async update(type, oid, fields, fetch): Promise<RallyObject> {
      const k = allowedKind(type);
      if (k.kind === 'free') return inner.update(type, oid, fields, fetch);
      if (k.kind !== 'own') throw undeclared(type);
      await ensure(type, oid); // read before anything is written
      await checkWrittenRefs(fields);
      return inner.update(type, oid, fields, fetch);
    },

    async editCollection(type, oid, name, op, items): Promise<void> {
      const k = allowedKind(type);
      if (k.kind !== 'free') {
        await ensure(type, oid);
        for (const item of items) await ensure(item.type, item.oid);
      }
      return inner.editCollection(type, oid, name, op, items);
    },
  };
}
