/** Prompt-group bookkeeping shared by the outcome estimators and DAPO's group filter. */
import type { GroupIndex } from './types.js';

/** index: `[batch]` -> rows of each group, in first-seen order (veRL's `defaultdict(list)`). */
export function groupRows(index: GroupIndex): Map<string | number, number[]> {
  const groups = new Map<string | number, number[]>();
  for (let i = 0; i < index.length; i++) {
    const key = index[i]!;
    const rows = groups.get(key);
    if (rows) rows.push(i);
    else groups.set(key, [i]);
  }
  return groups;
}

/** scores: `[batch]`, rows of one group -> arithmetic mean over those rows. */
export function groupMean(scores: ArrayLike<number>, rows: readonly number[]): number {
  let s = 0;
  for (const r of rows) s += scores[r]!;
  return s / rows.length;
}

/** Unbiased (n − 1) standard deviation, as `torch.std`; callers handle n = 1. */
export function groupStdUnbiased(scores: ArrayLike<number>, rows: readonly number[], mean: number): number {
  let ss = 0;
  for (const r of rows) ss += (scores[r]! - mean) ** 2;
  return Math.sqrt(ss / (rows.length - 1));
}
