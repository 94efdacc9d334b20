/**
 * A V8 .cpuprofile (from --cpu-prof) read for the profile tools: its nodes by id and each node's
 * parent, so a sample can be walked up its stack. Diagnosis only.
 * @module
 */
import { readFileSync } from 'node:fs';

export interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface ReadProfile {
  readonly prof: CpuProfile;
  /** The node `id`; throws for an id the profile does not have. */
  nodeOf(id: number): ProfileNode;
  /** The caller of `id` on its stack, if any. */
  parentOf(id: number): number | undefined;
}

export function readProfile(file: string): ReadProfile {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  return {
    prof,
    nodeOf: (id) => {
      const n = byId.get(id);
      if (n === undefined) throw new Error(`profile ${file}: no node ${id}`);
      return n;
    },
    parentOf: (id) => parent.get(id),
  };
}
