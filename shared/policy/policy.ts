/**
 * Tool policy: which tools a caller may see and call, and its rate limits.
 * A versioned JSON document, validated once at start-up, from POLICY_JSON
 * (inline), POLICY_FILE (path) or POLICY_SECRET (Secret Manager, pinned
 * version). No policy means the documented defaults: every tool allowed,
 * DEFAULT_RATE_LIMITS.
 *
 * Merging, per field:
 * - `defaults` apply unless the matching **client** rule sets the field; client
 *   rules are keyed by our own OAuth client_id (enforced by our tokens), so they
 *   may loosen or tighten the defaults.
 * - A matching **agent** rule (keyed by the client-asserted
 *   x-ms-copilot-agent-id header) can only tighten: it is combined with the
 *   result above and the most restrictive value wins. A client that forges or
 *   omits the header therefore gains nothing over the client rule/defaults.
 * "Most restrictive": readOnly = any true; allowedTools = intersection
 * (absent = every tool); each rate limit = the minimum.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigError, type Config } from '../config/config.js';
import { sha256Id } from '../kernel/hash.js';
import type { SecretSource } from '../secrets/secret-source.js';

const perMinute = z.number().int().min(1).max(1_000_000);

const RateLimitsSchema = z
  .object({
    perAgentPerMinute: perMinute.optional(),
    perUserPerMinute: perMinute.optional(),
    perSessionPerMinute: perMinute.optional(),
  })
  .strict();

const RuleSchema = z
  .object({
    readOnly: z.boolean().optional(),
    allowedTools: z.array(z.string().min(1).max(128)).max(500).optional(),
    /** Toolsets listed besides `core` ("all" = every toolset). Listing only: calls are decided by the fields above. */
    toolsets: z
      .array(z.string().regex(/^[a-z]{1,30}$/))
      .max(20)
      .optional(),
    rateLimits: RateLimitsSchema.optional(),
  })
  .strict();

const IdKey = z.string().min(1).max(512);

export const PolicyDocumentSchema = z
  .object({
    version: z.literal(1),
    defaults: RuleSchema.default({}),
    clients: z.record(IdKey, RuleSchema).default({}),
    agents: z.record(IdKey, RuleSchema).default({}),
  })
  .strict();

export type PolicyDocument = z.infer<typeof PolicyDocumentSchema>;
export type PolicyRule = z.infer<typeof RuleSchema>;

export interface RateLimits {
  readonly perAgentPerMinute: number;
  readonly perUserPerMinute: number;
  readonly perSessionPerMinute: number;
}

/**
 * Used for any limit that no rule sets: none. Every enforced limit costs a
 * batched Firestore read and a write per tool call, so cross-instance limits
 * are opt-in through the policy (the per-instance concurrency cap always applies).
 */
export const DEFAULT_RATE_LIMITS: RateLimits = {
  perAgentPerMinute: Number.POSITIVE_INFINITY,
  perUserPerMinute: Number.POSITIVE_INFINITY,
  perSessionPerMinute: Number.POSITIVE_INFINITY,
};

export interface Caller {
  readonly clientId?: string | undefined;
  readonly agentId?: string | undefined;
  /** Toolsets the client asked to list (X-Rally-Toolsets): adds to the listed tools, never to what may be called. */
  readonly requestedToolsets?: readonly string[] | undefined;
}

export interface ToolRequest extends Caller {
  readonly tool: string;
  readonly toolIsWrite: boolean;
  /** The tool's toolset; absent or `core` is always listed. */
  readonly toolset?: string | undefined;
}

/** The toolset every tool without one belongs to: always listed. */
export const CORE_TOOLSET = 'core';

export type PolicyDenyReason = 'read_only' | 'tool_not_allowed';
export type PolicyDecision =
  { readonly allowed: true } | { readonly allowed: false; readonly reason: PolicyDenyReason };

export interface EffectiveRules {
  /** Toolsets listed besides core; `all` lists every toolset. */
  readonly toolsets: ReadonlySet<string>;
  readonly readOnly: boolean;
  /** undefined = every tool. */
  readonly allowedTools: ReadonlySet<string> | undefined;
  readonly rateLimits: RateLimits;
}

export type PolicySource = 'default' | 'inline' | 'file' | 'secret';

export interface Policy {
  readonly source: PolicySource;
  /** Short hash of the normalised document: log it at start-up to know which policy an instance runs. */
  readonly fingerprint: string;
  readonly document: PolicyDocument;
  rulesFor(caller: Caller): EffectiveRules;
  decide(request: ToolRequest): PolicyDecision;
  /**
   * For tools/list: a tool is listed only if it could be called, and (outside `core`) only when its
   * toolset is selected by the policy or the caller's requested toolsets (issue 17). The one visibility path.
   */
  isToolVisible(request: ToolRequest): boolean;
  limitsFor(caller: Caller): RateLimits;
}

/** A policy that is missing its pieces or malformed; `problems` name the paths, never the values. */
export class PolicyError extends ConfigError {
  constructor(problems: readonly string[], options?: { cause?: unknown }) {
    super(problems);
    this.name = 'PolicyError';
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

const restrictTools = (
  a: ReadonlySet<string> | undefined,
  b: readonly string[] | undefined,
): ReadonlySet<string> | undefined => {
  if (b === undefined) return a;
  if (a === undefined) return new Set(b);
  return new Set(b.filter((t) => a.has(t)));
};

function resolveRules(doc: PolicyDocument, caller: Caller): EffectiveRules {
  const client = caller.clientId !== undefined ? doc.clients[caller.clientId] : undefined;
  const agent = caller.agentId !== undefined ? doc.agents[caller.agentId] : undefined;
  const base = doc.defaults;
  // Layer 1: client rule overrides defaults field by field (it is backed by our own tokens).
  const readOnly1 = client?.readOnly ?? base.readOnly ?? false;
  const tools1 = client?.allowedTools ?? base.allowedTools;
  const limit1 = (k: keyof RateLimits) => client?.rateLimits?.[k] ?? base.rateLimits?.[k] ?? DEFAULT_RATE_LIMITS[k];
  // Layer 2: an agent rule only ever tightens (its key is client-asserted).
  const limit = (k: keyof RateLimits) => Math.min(limit1(k), agent?.rateLimits?.[k] ?? Number.POSITIVE_INFINITY);
  // Toolsets only shape tools/list: the client rule replaces the default list, an agent rule and the header add to it.
  const toolsets = new Set([
    ...(client?.toolsets ?? base.toolsets ?? []),
    ...(agent?.toolsets ?? []),
    ...(caller.requestedToolsets ?? []),
  ]);
  return {
    toolsets,
    readOnly: readOnly1 || agent?.readOnly === true,
    allowedTools: restrictTools(tools1 === undefined ? undefined : new Set(tools1), agent?.allowedTools),
    rateLimits: {
      perAgentPerMinute: limit('perAgentPerMinute'),
      perUserPerMinute: limit('perUserPerMinute'),
      perSessionPerMinute: limit('perSessionPerMinute'),
    },
  };
}

/** Builds a Policy from an already validated document. */
export function createPolicy(document: PolicyDocument, source: PolicySource = 'inline'): Policy {
  const fingerprint = sha256Id(JSON.stringify(document)).slice(0, 12);
  const rulesFor = (caller: Caller) => resolveRules(document, caller);
  const decide = (r: ToolRequest): PolicyDecision => {
    const rules = rulesFor(r);
    if (r.toolIsWrite && rules.readOnly) return { allowed: false, reason: 'read_only' };
    if (rules.allowedTools !== undefined && !rules.allowedTools.has(r.tool))
      return { allowed: false, reason: 'tool_not_allowed' };
    return { allowed: true };
  };
  return {
    source,
    fingerprint,
    document,
    rulesFor,
    decide,
    isToolVisible: (r) => {
      if (!decide(r).allowed) return false;
      if (r.toolset === undefined || r.toolset === CORE_TOOLSET) return true;
      const listed = rulesFor(r).toolsets;
      return listed.has('all') || listed.has(r.toolset);
    },
    limitsFor: (caller) => rulesFor(caller).rateLimits,
  };
}

export interface ParseOptions {
  /** Every tool name the server has: an allowedTools entry outside this list is a typo and fails start-up. */
  readonly knownTools?: readonly string[];
  /** Every toolset the server has (plus "all"): a toolsets entry outside this list fails start-up. */
  readonly knownToolsets?: readonly string[];
}

/** Validates a policy document (a JSON string or parsed value). `origin` prefixes every problem, e.g. "POLICY_FILE". */
export function parsePolicy(input: string | unknown, origin: string, options: ParseOptions = {}): PolicyDocument {
  let value: unknown = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch {
      throw new PolicyError([`${origin} is not valid JSON`]); // the content is not echoed
    }
  }
  const result = PolicyDocumentSchema.safeParse(value);
  if (!result.success) {
    throw new PolicyError(
      result.error.issues.map((i) => `${origin} ${i.path.map(String).join('.') || '(root)'}: ${i.message}`),
    );
  }
  const doc = result.data;
  if (options.knownTools) {
    const known = new Set(options.knownTools);
    const problems: string[] = [];
    const check = (path: string, rule: PolicyRule) =>
      rule.allowedTools?.forEach((t, i) => {
        if (!known.has(t)) problems.push(`${origin} ${path}.allowedTools.${i}: unknown tool "${t.slice(0, 128)}"`);
      });
    check('defaults', doc.defaults);
    for (const [id, rule] of Object.entries(doc.clients)) check(`clients.${id}`, rule);
    for (const [id, rule] of Object.entries(doc.agents)) check(`agents.${id}`, rule);
    if (problems.length) throw new PolicyError(problems);
  }
  if (options.knownToolsets) {
    const known = new Set([...options.knownToolsets, 'all']);
    const problems: string[] = [];
    const check = (path: string, rule: PolicyRule) =>
      rule.toolsets?.forEach((t, i) => {
        if (!known.has(t)) problems.push(`${origin} ${path}.toolsets.${i}: unknown toolset "${t}"`);
      });
    check('defaults', doc.defaults);
    for (const [id, rule] of Object.entries(doc.clients)) check(`clients.${id}`, rule);
    for (const [id, rule] of Object.entries(doc.agents)) check(`agents.${id}`, rule);
    if (problems.length) throw new PolicyError(problems);
  }
  return doc;
}

export const DEFAULT_POLICY_DOCUMENT: PolicyDocument = { version: 1, defaults: {}, clients: {}, agents: {} };

export type PolicyConfig = Pick<Config, 'POLICY_JSON' | 'POLICY_FILE' | 'POLICY_SECRET' | 'POLICY_SECRET_VERSION'>;

export interface LoadPolicyOptions extends ParseOptions {
  /** Test seam for POLICY_FILE. */
  readonly readFile?: (path: string) => Promise<string>;
}

/**
 * Loads and validates the policy once (call at start-up; a bad policy must fail
 * the instance, not a request). `secrets` is required only with POLICY_SECRET.
 */
export async function loadPolicy(
  config: PolicyConfig,
  secrets?: SecretSource,
  options: LoadPolicyOptions = {},
): Promise<Policy> {
  const set = (['POLICY_JSON', 'POLICY_FILE', 'POLICY_SECRET'] as const).filter(
    (k) => config[k] !== undefined && config[k] !== '',
  );
  if (set.length > 1) throw new PolicyError([`set only one of ${set.join(', ')}`]);
  if (config.POLICY_JSON) return createPolicy(parsePolicy(config.POLICY_JSON, 'POLICY_JSON', options), 'inline');
  if (config.POLICY_FILE) {
    let text: string;
    try {
      text = await (options.readFile ?? ((p) => readFile(p, 'utf8')))(config.POLICY_FILE);
    } catch (err) {
      throw new PolicyError(['POLICY_FILE could not be read'], { cause: err });
    }
    return createPolicy(parsePolicy(text, 'POLICY_FILE', options), 'file');
  }
  if (config.POLICY_SECRET) {
    if (!secrets) throw new PolicyError(['POLICY_SECRET needs a secret source']);
    // A SecretUnavailableError propagates as is: the instance fails closed (503), as for keys (E8).
    const bytes = await secrets.access(config.POLICY_SECRET, config.POLICY_SECRET_VERSION);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new PolicyError([
        `POLICY_SECRET ${config.POLICY_SECRET} version ${config.POLICY_SECRET_VERSION} is not UTF-8`,
      ]);
    }
    return createPolicy(
      parsePolicy(text, `POLICY_SECRET(${config.POLICY_SECRET}@${config.POLICY_SECRET_VERSION})`, options),
      'secret',
    );
  }
  return createPolicy(DEFAULT_POLICY_DOCUMENT, 'default');
}
