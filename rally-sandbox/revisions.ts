/**
 * Revision history (rally-api.md §3.12): every artifact has a RevisionHistory
 * whose Revisions describe each change in Rally's words, e.g.
 * `SCHEDULE STATE changed from [Defined] to [In-Progress]`.
 * @module
 */
import { TYPES } from './model.js';
import type { Store, StoredObject } from './store.js';

/** `ScheduleState` → `SCHEDULE STATE`, `c_RiskLevel` → `RISK LEVEL`. */
export function revisionLabel(field: string): string {
  return field
    .replace(/^c_/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toUpperCase();
}

function shown(store: Store, field: string, type: StoredObject['type'], value: unknown): string {
  const def = TYPES[type].fields[field];
  if (value === null || value === undefined || value === '' || (def?.kind === 'enum' && value === 'None')) return '';
  if (def?.kind === 'ref' && typeof value === 'number') {
    const target = store.get(value);
    return target ? String(target.values[TYPES[target.type].nameField] ?? target.oid) : String(value);
  }
  if (Array.isArray(value)) return value.map((id) => String(store.get(Number(id))?.values.Name ?? id)).join(', ');
  return String(value);
}

/** Creates the history with revision 0 (`Original revision`) for a new artifact. */
export function startHistory(store: Store, obj: StoredObject, user: number | null, now: Date): void {
  if (!('RevisionHistory' in TYPES[obj.type].fields)) return;
  const history = store.insert(
    'revisionhistory',
    { Workspace: obj.values.Workspace, Subscription: obj.values.Subscription },
    now,
  );
  store.link(obj, 'RevisionHistory', history.oid);
  addRevision(store, history.oid, 'Original revision', user, now);
}

export function addRevision(store: Store, history: number, description: string, user: number | null, now: Date): void {
  const number = store.referrers('RevisionHistory', history).filter((r) => r.type === 'revision').length;
  const h = store.get(history);
  store.insert(
    'revision',
    {
      Workspace: h?.values.Workspace ?? null,
      Subscription: h?.values.Subscription ?? null,
      RevisionHistory: history,
      RevisionNumber: number,
      Description: description,
      User: user,
    },
    now,
  );
}

/** Records one revision listing every changed field (rich text as `DESCRIPTION changed`). */
export function recordChange(
  store: Store,
  obj: StoredObject,
  before: Readonly<Record<string, unknown>>,
  user: number | null,
  now: Date,
): void {
  const history = obj.values.RevisionHistory;
  if (typeof history !== 'number') return;
  const parts: string[] = [];
  for (const [field, def] of Object.entries(TYPES[obj.type].fields)) {
    if (def.readOnly || def.kind === 'collection') continue;
    const was = before[field];
    const now_ = obj.values[field];
    if (JSON.stringify(was ?? null) === JSON.stringify(now_ ?? null)) continue;
    const label = revisionLabel(field);
    if (def.kind === 'text') parts.push(`${label} changed`);
    else {
      const a = shown(store, field, obj.type, was);
      const b = shown(store, field, obj.type, now_);
      if (a === '') parts.push(`${label} added [${b}]`);
      else if (b === '') parts.push(`${label} removed [${a}]`);
      else parts.push(`${label} changed from [${a}] to [${b}]`);
    }
  }
  if (parts.length > 0) addRevision(store, history, parts.join(', '), user, now);
}
