/**
 * DAPO dynamic sampling in the trainer (docs/verl-compat.md#dapo; verl-recipe dapo/dapo_ray_trainer.py): generate
 * batches of `data.gen_batch_size` prompts × n, drop the groups whose `filter_groups.metric` is the
 * same for all n samples, keep the rest across generation batches until `train_batch_size` groups
 * are kept, then truncate to `train_batch_size·n` trajectories. The generation batches are numbered
 * over the whole run (the data loader's position), so a resumed run draws the same prompts.
 */
import type { FilterGroupsMetric } from '../config/types.js';
import { dynamicSamplingDecision, filterGroups } from '../rl/index.js';
import type { BatchShape } from './batch.js';
import { concatBatches, selectRows } from './batch-rows.js';
import { rowSums } from './reward.js';

/** A scored generation batch and the filter metric of each of its rows. */
export interface GeneratedBatch<B extends BatchShape = BatchShape> {
  batch: B;
  metric: ArrayLike<number>;
}

export interface DynamicSamplingResult<B extends BatchShape = BatchShape> {
  /** train_batch_size·n rows, every per-row field selected with them; uids renumbered 0..train_batch_size−1 in group order. */
  batch: B;
  /** Generation batches drawn for this step (the recipe's `train/num_gen_batches`). */
  numGenBatches: number;
  /** Prompts generated for this step, kept or not. */
  numGenPrompts: number;
  /** Groups kept before the truncation to train_batch_size. */
  numKeptPrompts: number;
}

/**
 * Draws generation batches `firstGenBatch`, `firstGenBatch + 1`, … through `generate` until enough
 * groups are kept. Throws past `maxNumGenBatches` (≤ 0 = unlimited), naming the key to change.
 */
export async function collectFilteredBatch<B extends BatchShape>(args: {
  firstGenBatch: number;
  trainBatchSize: number;
  n: number;
  maxNumGenBatches: number;
  generate: (genBatch: number) => Promise<GeneratedBatch<B>>;
}): Promise<DynamicSamplingResult<B>> {
  const kept: B[] = [];
  let numKeptPrompts = 0;
  let numGenPrompts = 0;
  let uidBase = 0;
  for (let numGenBatches = 1; ; numGenBatches++) {
    const { batch, metric } = await args.generate(args.firstGenBatch + numGenBatches - 1);
    numGenPrompts += new Set(batch.uid).size;
    const { keptIndices, keptUids } = filterGroups(batch.uid, metric);
    const part = selectRows(batch, keptIndices);
    // Each generation batch numbers its groups from 0; shift them so groups stay apart once joined.
    part.uid = part.uid.map((u) => u + uidBase);
    uidBase += batch.uid.reduce((m, u) => Math.max(m, u), -1) + 1;
    kept.push(part);
    numKeptPrompts += keptUids.length;
    const decision = dynamicSamplingDecision({
      numPromptsInBatch: numKeptPrompts, trainBatchSize: args.trainBatchSize, numGenBatches, maxNumGenBatches: args.maxNumGenBatches,
    });
    if (decision === 'generate') continue;
    const rows = Array.from({ length: args.trainBatchSize * args.n }, (_, i) => i);
    const out = selectRows(concatBatches(kept), rows);
    // Renumber: the groups are contiguous runs of n rows, in the order they were kept.
    out.uid = out.uid.map((_, i) => Math.floor(i / args.n));
    return { batch: out, numGenBatches, numGenPrompts, numKeptPrompts };
  }
}

/**
 * The per-trajectory value a group must vary in. As the recipe and DAPO's reward manager define
 * them: `acc` and `score` are the reward function's result before overlong shaping (a reward
 * function that returns a plain number, as all of ours do, has its result recorded as acc too);
 * `seq_reward` is Σ token_level_scores (after overlong shaping); `seq_final_reward` is
 * Σ token_level_rewards (after the KL penalty in the reward, when there is one).
 */
export function filterMetricValues(metric: FilterGroupsMetric, b: {
  rows: number;
  responseLength: number;
  taskScores: ArrayLike<number>;
  tokenLevelScores: Float32Array;
  tokenLevelRewards: Float32Array | null;
}): number[] {
  switch (metric) {
    case 'acc':
    case 'score':
      return Array.from(b.taskScores);
    case 'seq_reward':
      return rowSums(b.tokenLevelScores, b.rows, b.responseLength);
    case 'seq_final_reward':
      return rowSums(b.tokenLevelRewards ?? b.tokenLevelScores, b.rows, b.responseLength);
  }
}
