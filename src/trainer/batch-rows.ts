/**
 * Row selection and concatenation of rollout batches, for DAPO dynamic sampling: the kept groups of
 * several generation batches are cut out and joined into the one batch a step trains on. Every
 * per-sequence array moves with its row, so a field set before filtering (scores, old log-probs,
 * ReMax baselines) stays aligned.
 */
import type { RolloutBatch } from './batch.js';

type RowArray = Float32Array | Int32Array;

/** The per-row arrays of a batch and their width (values per row). */
function rowArrays(b: RolloutBatch): [keyof RolloutBatch, number][] {
  const P = b.promptLength;
  const R = b.responseLength;
  const fields: [keyof RolloutBatch, number][] = [
    ['inputIds', P + R], ['attentionMask', P + R], ['positionIds', P + R], ['responses', R], ['responseMask', R], ['promptMask', P],
    ['oldLogProb', R], ['refLogProb', R], ['values', R], ['tokenLevelScores', R], ['tokenLevelRewards', R], ['advantages', R],
    ['returns', R], ['rewardBaselines', 1],
  ];
  return fields.filter(([key]) => b[key] !== undefined);
}

/** Rows `index` of `batch` (in that order), every per-row field included. */
export function selectRows(batch: RolloutBatch, index: readonly number[]): RolloutBatch {
  const out: RolloutBatch = {
    ...batch,
    rows: index.length,
    prompts: index.map((r) => batch.prompts[r]!),
    uid: index.map((r) => batch.uid[r]!),
  };
  for (const [key, width] of rowArrays(batch)) {
    const a = batch[key] as RowArray;
    const taken = new (a.constructor as new (n: number) => RowArray)(index.length * width);
    index.forEach((row, i) => taken.set(a.subarray(row * width, (row + 1) * width), i * width));
    (out as unknown as Record<string, RowArray>)[key] = taken;
  }
  return out;
}

/** The batches' rows one after another. They must share P, R and the set of fields that are set. */
export function concatBatches(batches: readonly RolloutBatch[]): RolloutBatch {
  const first = batches[0];
  if (!first) throw new Error('concatBatches: no batches');
  const fields = rowArrays(first);
  for (const b of batches) {
    if (b.promptLength !== first.promptLength || b.responseLength !== first.responseLength) {
      throw new Error(`concatBatches: batch shapes differ (P ${b.promptLength} vs ${first.promptLength}, R ${b.responseLength} vs ${first.responseLength})`);
    }
    const keys = rowArrays(b).map(([k]) => k).join(',');
    if (keys !== fields.map(([k]) => k).join(',')) throw new Error(`concatBatches: batches set different fields (${keys})`);
  }
  const rows = batches.reduce((s, b) => s + b.rows, 0);
  const out: RolloutBatch = {
    ...first,
    rows,
    prompts: batches.flatMap((b) => b.prompts),
    uid: batches.flatMap((b) => b.uid),
  };
  for (const [key, width] of fields) {
    const a0 = first[key] as RowArray;
    const joined = new (a0.constructor as new (n: number) => RowArray)(rows * width);
    let at = 0;
    for (const b of batches) {
      joined.set(b[key] as RowArray, at);
      at += b.rows * width;
    }
    (out as unknown as Record<string, RowArray>)[key] = joined;
  }
  return out;
}
