/**
 * The actor's work (veRL dp_actor): old/ref log-prob recomputation without gradients, and the PPO
 * policy update over mini- and micro-batches with gradient accumulation, clipping and AdamW.
 * The loss and its gradient with respect to the per-token log-probs and entropies come from src/rl;
 * they enter the autograd graph through the surrogate Σ logp·dLogp + Σ H·dH.
 */
import type { CausalLM } from '../models/llama.js';
import { AdamW, clipGradNormAsync } from '../nn/index.js';
import { Prng } from '../nn/index.js';
import { computeActorLoss, type ActorLossConfig } from '../rl/index.js';
import { add, mul, noGrad, sum, tensor, tidyAsync } from '../tensor/index.js';
import { takeRows, type RolloutBatch } from './batch.js';
import { actorForward } from './forward.js';
import { MetricsAccumulator, NonFiniteError } from './metrics-accumulator.js';
import { chunks, tokenBudgetBatches } from './micro-batches.js';

export interface BatchingOptions {
  /** Rows per mini-batch (prompts × n). */
  miniBatchRows: number;
  /** Rows per micro-batch; ignored with dynamic batching. */
  microBatchRows: number;
  useDynamicBsz: boolean;
  /** Token budget per micro-batch with dynamic batching. */
  maxTokenLen: number;
  epochs: number;
  shuffle: boolean;
  gradClip: number;
}

/** Micro-batches of `rows`, fixed-size or by token budget. */
export function splitMicro(batch: RolloutBatch, rows: number[], options: Pick<BatchingOptions, 'microBatchRows' | 'useDynamicBsz' | 'maxTokenLen'>): number[][] {
  if (!options.useDynamicBsz) return chunks(rows, options.microBatchRows);
  const S = batch.promptLength + batch.responseLength;
  const tokens = rows.map((r) => {
    let n = 0;
    for (let j = 0; j < S; j++) n += batch.attentionMask[r * S + j]!;
    return n;
  });
  return tokenBudgetBatches(rows, tokens, options.maxTokenLen, S);
}

/** Row orders for each PPO epoch: identity, or a fresh shuffle per epoch from `seed`. */
export function epochOrders(rows: number, epochs: number, shuffle: boolean, seed: number): number[][] {
  return Array.from({ length: epochs }, (_, e) => {
    const order = Array.from({ length: rows }, (_, i) => i);
    if (shuffle) {
      const rng = new Prng(seed * 7919 + e);
      for (let i = rows - 1; i > 0; i--) {
        const j = Math.floor(rng.uniform() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
    }
    return order;
  });
}

/** log-probs (and optionally entropies) of the responses, no gradient: [rows, R] each. */
export async function computeLogProbs(model: CausalLM, batch: RolloutBatch, microRows: number, temperature: number): Promise<{ logp: Float32Array; entropy: Float32Array }> {
  const R = batch.responseLength;
  const logp = new Float32Array(batch.rows * R);
  const entropy = new Float32Array(batch.rows * R);
  const all = Array.from({ length: batch.rows }, (_, i) => i);
  for (const rows of chunks(all, microRows)) {
    await tidyAsync(async () => {
      const out = noGrad(() => actorForward(model, batch, rows, temperature));
      const [lp, ent] = [(await out.logp.data()) as Float32Array, (await out.entropy.data()) as Float32Array];
      logp.set(lp, rows[0]! * R);
      entropy.set(ent, rows[0]! * R);
    });
  }
  return { logp, entropy };
}

export interface ActorUpdateOptions extends BatchingOptions {
  temperature: number;
  loss: ActorLossConfig;
  seed: number;
  step: number;
}

const additive = new Set(['actor/pg_loss', 'actor/entropy_loss', 'actor/kl_loss']);

/** One training step's policy update. Returns the averaged actor/* metrics. */
export async function updatePolicy(model: CausalLM, optimizer: AdamW, batch: RolloutBatch, options: ActorUpdateOptions): Promise<Record<string, number>> {
  const R = batch.responseLength;
  const { oldLogProb, advantages } = batch;
  if (!oldLogProb || !advantages) throw new Error('updatePolicy: the batch needs old_log_probs and advantages');
  if (options.loss.useKlLoss && !batch.refLogProb) throw new Error('updatePolicy: use_kl_loss needs reference log-probs');
  const acc = new MetricsAccumulator(additive);
  for (const order of epochOrders(batch.rows, options.epochs, options.shuffle, options.seed)) {
    for (const mini of chunks(order, options.miniBatchRows)) {
      const miniMask = takeRows(batch.responseMask, R, mini);
      const agg = {
        batchNumTokens: miniMask.reduce((s, v) => s + v, 0),
        globalBatchSize: mini.filter((_, i) => miniMask.subarray(i * R, (i + 1) * R).some((v) => v > 0)).length,
      };
      model.zeroGrad();
      for (const micro of splitMicro(batch, mini, options)) {
        const metrics = await tidyAsync(async () => {
          const { logp, entropy } = actorForward(model, batch, micro, options.temperature);
          const logProb = (await logp.data()) as Float32Array;
          const ent = (await entropy.data()) as Float32Array;
          const result = computeActorLoss({
            oldLogProb: takeRows(oldLogProb, R, micro),
            logProb,
            advantages: takeRows(advantages, R, micro),
            responseMask: takeRows(batch.responseMask, R, micro),
            responseLength: R,
            entropy: ent,
            refLogProb: batch.refLogProb ? takeRows(batch.refLogProb, R, micro) : undefined,
          }, { ...options.loss, agg: { ...options.loss.agg, ...agg } });
          if (!Number.isFinite(result.loss)) throw new NonFiniteError('the actor loss', result.loss, options.step);
          const shape = [micro.length, R];
          let surrogate = sum(mul(logp, tensor(result.dLogProb, shape)));
          if (result.dEntropy) surrogate = add(surrogate, sum(mul(entropy, tensor(result.dEntropy, shape))));
          surrogate.backward();
          return result.metrics;
        });
        acc.addMicro(metrics);
      }
      const gradNorm = await clipGradNormAsync(model.parameters(), options.gradClip);
      if (!Number.isFinite(gradNorm)) throw new NonFiniteError('the actor gradient norm', gradNorm, options.step);
      optimizer.step();
      model.zeroGrad();
      acc.endMini({ 'actor/grad_norm': gradNorm });
    }
  }
  return { ...acc.result(), 'actor/lr': optimizer.lr };
}
