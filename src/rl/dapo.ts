/** DAPO's data-side pieces (docs/verl-compat.md#dapo): dynamic sampling (group filter) and overlong reward shaping. */
import { groupRows } from './groups.js';
import { assertLength, type GroupIndex } from './types.js';

/**
 * index: `[batch]` uids, metric: `[batch]` per-trajectory value of `filter_groups.metric`
 * (acc, score, seq_reward, seq_final_reward) -> the trajectories of groups that are kept, in
 * batch order, and the kept uids. A group is dropped when all its samples have the same value
 * (all right or all wrong: zero GRPO advantage, no signal); a group of one is kept, as in DAPO.
 * The recipe tests `np.std(vals) > 0`; exact equality is used here because a float std of equal
 * values can come out as 1e-17 and keep a group the recipe means to drop.
 */
export function filterGroups(index: GroupIndex, metric: ArrayLike<number>): {
  keptIndices: number[];
  keptUids: (string | number)[];
} {
  assertLength(index.length, { metric });
  const kept = new Set<string | number>();
  for (const [uid, rows] of groupRows(index)) {
    const first = metric[rows[0]!]!;
    if (rows.length === 1 || rows.some((r) => metric[r] !== first)) kept.add(uid);
  }
  const keptIndices: number[] = [];
  for (let i = 0; i < index.length; i++) if (kept.has(index[i]!)) keptIndices.push(i);
  return { keptIndices, keptUids: [...kept] };
}

/**
 * The recipe's loop decision after accumulating filtered batches: 'generate' another batch while
 * fewer than `trainBatchSize` prompt groups are kept, 'train' once there are enough (then truncate
 * to `trainBatchSize·n` trajectories). Throws past `maxNumGenBatches` (≤ 0 means unlimited).
 */
export function dynamicSamplingDecision(args: {
  numPromptsInBatch: number;
  trainBatchSize: number;
  numGenBatches: number;
  maxNumGenBatches: number;
}): 'generate' | 'train' {
  if (args.numPromptsInBatch >= args.trainBatchSize) return 'train';
  if (args.maxNumGenBatches <= 0 || args.numGenBatches < args.maxNumGenBatches) return 'generate';
  throw new Error(
    `dynamic sampling: ${args.numGenBatches} generation batches gave ${args.numPromptsInBatch} < ` +
      `${args.trainBatchSize} prompt groups whose filter metric varies (the data is too easy or too hard for the policy); ` +
      'raise algorithm.filter_groups.max_num_gen_batches (≤ 0 = unlimited) or use easier/harder data',
  );
}

/**
 * Overlong reward shaping (`reward_model.overlong_buffer`): with expected = maxResponseLength − bufferLen,
 * penalty = min(−(validResponseLength − expected)/bufferLen · penaltyFactor, 0), added to the score.
 * Linear from 0 at `expected` tokens to −penaltyFactor at the maximum length.
 */
export function overlongPenalty(
  validResponseLength: number,
  maxResponseLength: number,
  bufferLen: number,
  penaltyFactor: number,
): number {
  if (!(bufferLen > 0)) throw new RangeError(`overlong_buffer.len must be > 0, got ${bufferLen}`);
  const exceed = validResponseLength - (maxResponseLength - bufferLen);
  return Math.min((-exceed / bufferLen) * penaltyFactor, 0) + 0; // + 0 turns −0 into 0
}
