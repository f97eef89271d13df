/**
 * The critic's work (veRL dp_critic): values for the batch without gradients, and the clipped
 * value-loss update over mini- and micro-batches. docs/verl-compat.md#critic-mask: the loss uses the response mask.
 */
import type { ValueModel } from '../models/llama.js';
import type { AdamW } from '../nn/index.js';
import { computeValueLoss, type LossAggMode } from '../rl/index.js';
import { mul, noGrad, sum, tensor, tidyAsync } from '../tensor/index.js';
import { runPpoUpdate, splitMicro, type BatchingOptions, type MicroBatching } from './ppo-update.js';
import { takeRows, type RolloutBatch, type StepBatch } from './batch.js';
import { criticForward } from './forward.js';
import { NonFiniteError } from './metrics-accumulator.js';

/** V [rows, R] for the whole batch, zero off the response mask (as veRL multiplies by the mask). */
export async function computeValues(model: ValueModel, batch: RolloutBatch, micro: MicroBatching): Promise<Float32Array> {
  const R = batch.responseLength;
  const values = new Float32Array(batch.rows * R);
  const all = Array.from({ length: batch.rows }, (_, i) => i);
  for (const rows of splitMicro(batch, all, micro)) {
    await tidyAsync(async () => {
      const out = noGrad(() => criticForward(model, batch, rows, micro.removePadding));
      const v = out.layout.toGrid((await out.values.data()) as Float32Array);
      rows.forEach((r, i) => values.set(v.subarray(i * R, (i + 1) * R), r * R));
    });
  }
  for (let k = 0; k < values.length; k++) values[k] = values[k]! * batch.responseMask[k]!;
  return values;
}

export interface CriticUpdateOptions extends BatchingOptions {
  cliprangeValue: number;
  lossAggMode: LossAggMode;
  seed: number;
  step: number;
}

const additive = new Set(['critic/vf_loss']);

export async function updateCritic(model: ValueModel, optimizer: AdamW, batch: StepBatch, options: CriticUpdateOptions): Promise<Record<string, number>> {
  const R = batch.responseLength;
  const { values, returns } = batch;
  if (!values) throw new Error('updateCritic: the batch has no values (the step computes them only when there is a critic)');
  return runPpoUpdate({
    role: 'critic', model, optimizer, batch, options: { ...options, seed: options.seed + 1 }, additive,
    micro: (micro, agg) => tidyAsync(async () => {
      const { values: vpredT, layout } = criticForward(model, batch, micro, options.removePadding);
      const result = computeValueLoss({
        vpreds: layout.toGrid((await vpredT.data()) as Float32Array),
        returns: takeRows(returns, R, micro),
        values: takeRows(values, R, micro),
        responseMask: takeRows(batch.responseMask, R, micro),
        responseLength: R,
      }, { cliprangeValue: options.cliprangeValue, lossAggMode: options.lossAggMode, agg });
      if (!Number.isFinite(result.vfLoss)) throw new NonFiniteError('the critic loss', result.vfLoss, options.step);
      // A micro-batch without a valid response token (packed: no outputs) contributes no gradient.
      if (vpredT.size > 0) sum(mul(vpredT, tensor(layout.fromGrid(result.dVpreds), vpredT.shape))).backward();
      return { 'critic/vf_loss': result.vfLoss, 'critic/vf_clipfrac': result.metrics.vf_clipfrac, 'critic/vpred_mean': result.metrics.vpred_mean };
    }),
  });
}
