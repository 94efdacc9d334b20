/**
 * The WSAPI requests a warm tool call makes, as phases: what `npm run bench` and
 * bench/tools/mem-compare.ts both report and compare.
 * @module
 */
import type { RecordedRequest } from '../../rally-sandbox/types.js';

/** Phases of a warm get_rally_issue, from the sandbox log: FormattedID queries that ran together form one parallel phase. */
export function toPlan(reqs: readonly RecordedRequest[]): string[][] {
  const plan: string[][] = [];
  let parallel: string[] | undefined;
  for (const r of reqs) {
    if (!r.url.startsWith('/slm/webservice/')) continue;
    if (/[?&]query=%28FormattedID/.test(r.url)) {
      if (!parallel) plan.push((parallel = []));
      parallel.push(r.url);
    } else {
      parallel = undefined;
      plan.push([r.url]);
    }
  }
  return plan;
}
