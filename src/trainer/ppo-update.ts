/**
 * The update loop shared by actor and critic (veRL dp_actor.update_policy / dp_critic.update_critic):
 * for each PPO epoch (rows reshuffled when asked), for each mini-batch: clear gradients, run every
 * micro-batch's forward/backward, clip the gradient norm (stopping on NaN/Inf), step the optimizer.
 * Micro-batch losses are weighted by the mini-batch's totals, so they add up to the mini-batch loss.
 */
import { AdamW, clipGradNormAsync, type Module } from '../nn/index.js';
import { permutation, Prng } from '../util/prng.js';
import type { AggOptions } from '../rl/index.js';
import type { RolloutBatch } from './batch.js';
import { MetricsAccumulator, NonFiniteError } from './metrics-accumulator.js';
import { chunks, tokenBudgetBatches } from './micro-batches.js';

/** How rows are split into micro-batches and laid out for the forward pass. */
export interface MicroBatching {
  /** Rows per micro-batch; ignored with dynamic batching. */
  microBatchRows: number;
  useDynamicBsz: boolean;
  /** Token budget per micro-batch with dynamic batching. */
  maxTokenLen: number;
  /** The config key of that budget, named when it cannot hold a row (default: the actor's ppo_max_token_len_per_gpu). */
  budgetKey?: string;
  /** `use_remove_padding`: each micro-batch's valid tokens packed into one sequence (packing.ts). */
  removePadding: boolean;
  /** `use_fused_kernels`: the actor's output layer and log-probs run a chunk of rows at a time (forward.ts fusedChunkRows). */
  fusedKernels?: boolean;
}

export interface BatchingOptions extends MicroBatching {
  /** Rows per mini-batch (prompts × n). */
  miniBatchRows: number;
  epochs: number;
  shuffle: boolean;
  gradClip: number;
}

/**
 * Micro-batches of `rows`, fixed-size or balanced by valid tokens under a token budget. Padded, a
 * row costs the whole padded length, so the budget must hold one; packed, a row costs its valid
 * tokens, so the budget must hold the longest row.
 */
export function splitMicro(batch: RolloutBatch, rows: readonly number[], options: MicroBatching): number[][] {
  if (!options.useDynamicBsz) return chunks(rows, options.microBatchRows);
  const S = batch.promptLength + batch.responseLength;
  const tokens = rows.map((r) => {
    let n = 0;
    for (let j = 0; j < S; j++) n += batch.attentionMask[r * S + j]!;
    return n;
  });
  const longest = options.removePadding ? Math.max(0, ...tokens) : S;
  return tokenBudgetBatches(rows, tokens, options.maxTokenLen, longest, options.budgetKey);
}

/** Row orders for each PPO epoch: identity, or a fresh shuffle per epoch from `seed`. */
export function epochOrders(rows: number, epochs: number, shuffle: boolean, seed: number): number[][] {
  return Array.from({ length: epochs }, (_, e) =>
    shuffle ? permutation(rows, new Prng(seed * 7919 + e)) : Array.from({ length: rows }, (_, i) => i));
}

/** The mini-batch totals the loss aggregation divides by: valid tokens and rows with any valid token. */
function miniBatchAgg(batch: RolloutBatch, mini: number[]): Required<Pick<AggOptions, 'batchNumTokens' | 'globalBatchSize'>> {
  let tokens = 0;
  let rows = 0;
  for (const r of mini) {
    const n = batch.responseLengths[r]!;
    tokens += n;
    if (n > 0) rows++;
  }
  return { batchNumTokens: tokens, globalBatchSize: rows };
}

export async function runPpoUpdate(args: {
  role: 'actor' | 'critic';
  model: Module;
  optimizer: AdamW;
  batch: RolloutBatch;
  options: BatchingOptions & { seed: number; step: number };
  /** Metrics that are shares of the mini-batch loss (summed over micro-batches). */
  additive: ReadonlySet<string>;
  /** Forward, loss and backward of one micro-batch; returns its metrics. */
  micro: (rows: number[], agg: Required<Pick<AggOptions, 'batchNumTokens' | 'globalBatchSize'>>) => Promise<Record<string, number>>;
}): Promise<Record<string, number>> {
  const { role, model, optimizer, batch, options } = args;
  const acc = new MetricsAccumulator(args.additive);
  for (const order of epochOrders(batch.rows, options.epochs, options.shuffle, options.seed)) {
    for (const mini of chunks(order, options.miniBatchRows)) {
      const agg = miniBatchAgg(batch, mini);
      // The optimizer's parameters are the model's, or only its LoRA adapters (which are no module's children).
      model.zeroGrad();
      optimizer.zeroGrad();
      for (const micro of splitMicro(batch, mini, options)) acc.addMicro(await args.micro(micro, agg));
      const gradNorm = await clipGradNormAsync(optimizer.parameters, options.gradClip);
      if (!Number.isFinite(gradNorm)) throw new NonFiniteError(`the ${role} gradient norm`, gradNorm, options.step);
      optimizer.step();
      model.zeroGrad();
      optimizer.zeroGrad();
      acc.endMini({ [`${role}/grad_norm`]: gradNorm });
    }
  }
  return { ...acc.result(), [`${role}/lr`]: optimizer.lr };
}
