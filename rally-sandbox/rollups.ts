/**
 * Values Rally derives on its side (rally-api.md §3.12): portfolio rollups over
 * leaf stories, a test case's last verdict, a user's task estimates in an
 * iteration. Computed on every read, so they are always current.
 * @module
 */
import type { Computed } from './model.js';
import type { Store, StoredObject } from './store.js';

/** Leaf stories under a portfolio item: stories of a feature (and their leaf children), features of higher levels. */
function leafStories(store: Store, item: StoredObject, depth = 0): StoredObject[] {
  if (depth > 8) return [];
  if (item.type === 'portfolioitem/feature') {
    const out: StoredObject[] = [];
    const walk = (s: StoredObject, d: number): void => {
      const children = store.referrers('Parent', s.oid).filter((c) => c.type === 'hierarchicalrequirement');
      if (children.length === 0 || d > 8) out.push(s);
      else for (const c of children) walk(c, d + 1);
    };
    for (const s of store.referrers('PortfolioItem', item.oid)) if (s.type === 'hierarchicalrequirement') walk(s, 0);
    return out;
  }
  return store
    .referrers('Parent', item.oid)
    .filter((c) => c.type.startsWith('portfolioitem/'))
    .flatMap((c) => leafStories(store, c, depth + 1));
}

const estimate = (s: StoredObject): number => (typeof s.values.PlanEstimate === 'number' ? s.values.PlanEstimate : 0);
const accepted = (s: StoredObject): boolean => s.values.ScheduleState === 'Accepted';
const round = (n: number): number => Math.round(n * 10_000) / 10_000;

function lastResult(store: Store, testCase: StoredObject): StoredObject | undefined {
  let best: StoredObject | undefined;
  for (const r of store.referrers('TestCase', testCase.oid)) {
    if (r.type !== 'testcaseresult') continue;
    if (!best || String(r.values.Date) >= String(best.values.Date)) best = r;
  }
  return best;
}

export function computeRollup(store: Store, obj: StoredObject, what: Computed): unknown {
  switch (what) {
    case 'leafStoryCount':
      return leafStories(store, obj).length;
    case 'acceptedLeafStoryCount':
      return leafStories(store, obj).filter(accepted).length;
    case 'leafStoryPlanEstimateTotal':
      return leafStories(store, obj).reduce((t, s) => t + estimate(s), 0);
    case 'acceptedLeafStoryPlanEstimateTotal':
      return leafStories(store, obj)
        .filter(accepted)
        .reduce((t, s) => t + estimate(s), 0);
    case 'percentDoneByStoryCount': {
      const leaves = leafStories(store, obj);
      return leaves.length === 0 ? 0 : round(leaves.filter(accepted).length / leaves.length);
    }
    case 'percentDoneByStoryPlanEstimate': {
      const leaves = leafStories(store, obj);
      const total = leaves.reduce((t, s) => t + estimate(s), 0);
      return total === 0 ? 0 : round(leaves.filter(accepted).reduce((t, s) => t + estimate(s), 0) / total);
    }
    case 'lastVerdict':
      return lastResult(store, obj)?.values.Verdict ?? null;
    case 'lastRun':
      return lastResult(store, obj)?.values.Date ?? null;
    case 'taskEstimates': {
      const { User: user, Iteration: iteration } = obj.values;
      if (typeof user !== 'number' || typeof iteration !== 'number') return 0;
      return store
        .referrers('Iteration', iteration)
        .filter((t) => t.type === 'task' && t.values.Owner === user)
        .reduce((sum, t) => sum + (typeof t.values.Estimate === 'number' ? t.values.Estimate : 0), 0);
    }
  }
}
