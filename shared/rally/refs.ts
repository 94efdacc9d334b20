/**
 * Helpers for Rally refs and per-request profile defaults.
 * @module
 */
import type { RallyClient } from './client.js';
import { OBJECT_ID, type RallyObject } from './types.js';
import { evictOldest } from '../kernel/lru.js';

/** ObjectID from a ref string or `{ _ref }` object (absolute or relative), or undefined. */
export function refOid(ref: unknown): string | undefined {
  const raw =
    typeof ref === 'string' ? ref : ref && typeof ref === 'object' ? (ref as { _ref?: unknown })._ref : undefined;
  if (typeof raw !== 'string') return undefined;
  const last = /\/(\d{1,19})(?:[/?#]|$)/.exec(raw.replace(/\/(?:Tasks|Defects|Children|Discussion|Tags)$/i, ''));
  return last?.[1] && OBJECT_ID.test(last[1]) ? last[1] : undefined;
}

/** Object ID of a Rally object (number or string), as a digit string. */
export function oidOf(obj: RallyObject): string | undefined {
  const v = obj.ObjectID;
  const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v : undefined;
  return s && OBJECT_ID.test(s) ? s : refOid(obj._ref);
}

/** `_refObjectName` (or Name) of a nested ref object. */
export function refName(ref: unknown): string | undefined {
  if (!ref || typeof ref !== 'object') return undefined;
  const r = ref as { _refObjectName?: unknown; Name?: unknown };
  return typeof r._refObjectName === 'string' ? r._refObjectName : typeof r.Name === 'string' ? r.Name : undefined;
}

export interface UserDefaults {
  readonly userOid: string;
  readonly userName: string;
  readonly displayName: string;
  readonly email: string;
  readonly workspace?: { readonly oid: string; readonly name: string };
  readonly project?: { readonly oid: string; readonly name: string };
}

/**
 * Per instance, per Rally user: a warm tool call then needs no GET /user or
 * /userprofile. A changed default project shows up within DEFAULTS_TTL_MS.
 */
const cache = new Map<string, { readonly at: number; readonly value: Promise<UserDefaults> }>();
const DEFAULTS_TTL_MS = 5 * 60_000;
const CACHE_LIMIT = 5000;

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * The caller's Rally identity and default workspace/project (GET /user, then its
 * UserProfile), cached for the client's Rally principal (`rally.principalKey`).
 */
export function userDefaults(rally: RallyClient, options: { fresh?: boolean } = {}): Promise<UserDefaults> {
  const key = rally.principalKey;
  const now = Date.now();
  const hit = cache.get(key);
  if (hit && !options.fresh && now - hit.at < DEFAULTS_TTL_MS) return hit.value;
  const value = loadDefaults(rally);
  value.catch(() => {
    if (cache.get(key)?.value === value) cache.delete(key);
  });
  evictOldest(cache, CACHE_LIMIT);
  cache.set(key, { at: now, value });
  return value;
}

async function loadDefaults(rally: RallyClient): Promise<UserDefaults> {
  const user = await rally.currentUser();
  const userOid = oidOf(user);
  if (!userOid) throw new Error('Rally user without ObjectID');
  let ws: unknown = user.DefaultWorkspace;
  let pr: unknown = user.DefaultProject;
  const profileOid = refOid(user.UserProfile);
  if ((!refOid(ws) || !refOid(pr)) && profileOid) {
    const profile = await rally.read('userprofile', profileOid, ['DefaultWorkspace', 'DefaultProject']);
    ws = profile.DefaultWorkspace;
    pr = profile.DefaultProject;
  }
  const named = (ref: unknown) => {
    const oid = refOid(ref);
    return oid ? { oid, name: refName(ref) ?? '' } : undefined;
  };
  const workspace = named(ws);
  const project = named(pr);
  return {
    userOid,
    userName: str(user.UserName),
    displayName: str(user.DisplayName) || str(user._refObjectName),
    email: str(user.EmailAddress),
    ...(workspace ? { workspace } : {}),
    ...(project ? { project } : {}),
  };
}
