/**
 * The SFT loss: next-token cross-entropy summed over target tokens and divided by a normaliser the
 * caller chooses (the target count of the whole optimizer step, so that accumulating micro-batches
 * gives exactly the step's token mean). Rows are right-padded: a causal model never attends from a
 * real token to a later pad, so no attention mask is needed, and pads carry weight 0.
 */
import type { CausalLM } from '../models/llama.js';
import { logprobEntropy, mul, neg, sum, tensor, type Tensor } from '../tensor/index.js';
import type { SftExample } from './data.js';

export interface MicroBatch {
  /** inputs [B, L-1], targets [B, L-1], weights [B, L-1], positions [B, L-1] */
  inputs: Int32Array;
  targets: Int32Array;
  weights: Float32Array;
  positions: Int32Array;
  rows: number;
  width: number;
  /** Σ weights */
  targetTokens: number;
}

/** Right-pads the examples to the longest and shifts by one: position t predicts token t + 1. */
export function makeMicroBatch(examples: readonly SftExample[], padId: number): MicroBatch {
  const L = Math.max(...examples.map((e) => e.ids.length));
  const W = L - 1;
  const B = examples.length;
  const inputs = new Int32Array(B * W).fill(padId);
  const targets = new Int32Array(B * W).fill(padId);
  const weights = new Float32Array(B * W);
  const positions = new Int32Array(B * W);
  let targetTokens = 0;
  examples.forEach((e, b) => {
    for (let t = 0; t < W; t++) {
      positions[b * W + t] = t;
      if (t + 1 >= e.ids.length) continue;
      inputs[b * W + t] = e.ids[t]!;
      targets[b * W + t] = e.ids[t + 1]!;
      weights[b * W + t] = e.targetMask[t + 1]!;
      targetTokens += e.targetMask[t + 1]!;
    }
  });
  return { inputs, targets, weights, positions, rows: B, width: W, targetTokens };
}

/** −Σ weight · log p(target) / normaliser, a scalar with gradients into the model. */
export function microBatchLoss(model: CausalLM, mb: MicroBatch, normaliser: number): Tensor {
  const shape = [mb.rows, mb.width];
  const logits = model.forward(tensor(mb.inputs, shape, 'i32'), { positions: tensor(mb.positions, shape, 'i32') });
  const { logp } = logprobEntropy(logits, tensor(mb.targets, shape, 'i32'));
  return neg(sum(mul(logp, tensor(mb.weights.map((w) => w / normaliser), shape))));
}
