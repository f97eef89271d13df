/**
 * Loss aggregation (`agg_loss`, docs/verl-compat.md#loss-aggregation). Every mode is a weighted sum `loss = Σ_{i,t} w_{i,t}·ℓ_{i,t}`,
 * so `aggWeights` is at once the reduction and the gradient ∂loss/∂ℓ that losses chain through.
 */
import { lossAggModes, rowsOf, type LossAggMode } from './types.js';

/**
 * Overrides for micro-batching: the trainer passes the mini-batch's totals so that micro-batch
 * losses add up to the mini-batch loss (docs/verl-compat.md#dynamic-bsz-scaling: scale by the real share, not mini/micro).
 */
export interface AggOptions {
  /** token-mean denominator; default Σ m of this call */
  batchNumTokens?: number;
  /** seq-mean-* denominator; default the number of rows here with at least one valid token */
  globalBatchSize?: number;
  /** seq-mean-token-sum-norm constant C (`loss_scale_factor`); default responseLength */
  lossScaleFactor?: number;
}

export { lossAggModes };

/**
 * mask: `[batch, responseLength]` -> weights w, same shape, with w = 0 wherever m = 0.
 * - token-mean: m / Σm
 * - seq-mean-token-sum: m / nSeq
 * - seq-mean-token-mean: m / (Σ_t m_i · nSeq)
 * - seq-mean-token-sum-norm: m / C (Dr. GRPO)
 * nSeq counts rows with a valid token: a fully masked row neither contributes nor dilutes the
 * mean (upstream veRL's seq_mask; TinyZero's `torch.mean` counted it, or made NaN). An empty batch
 * gives all-zero weights, so its loss is 0 rather than NaN.
 */
export function aggWeights(
  mask: ArrayLike<number>,
  responseLength: number,
  mode: LossAggMode,
  opts: AggOptions = {},
): Float64Array {
  if (!(lossAggModes as readonly string[]).includes(mode)) throw new RangeError(`unknown loss_agg_mode '${mode as string}'`);
  const rows = rowsOf('mask', mask, responseLength);
  const w = new Float64Array(mask.length);
  const rowCount = new Float64Array(rows);
  let total = 0;
  let nSeq = 0;
  for (let i = 0; i < rows; i++) {
    let n = 0;
    for (let t = i * responseLength; t < (i + 1) * responseLength; t++) n += mask[t]!;
    rowCount[i] = n;
    total += n;
    if (n > 0) nSeq++;
  }
  const seqDen = opts.globalBatchSize ?? nSeq;
  for (let i = 0; i < rows; i++) {
    if (rowCount[i] === 0) continue;
    let scale: number;
    switch (mode) {
      case 'token-mean':
        scale = 1 / (opts.batchNumTokens ?? total);
        break;
      case 'seq-mean-token-sum':
        scale = 1 / seqDen;
        break;
      case 'seq-mean-token-mean':
        scale = 1 / (rowCount[i]! * seqDen);
        break;
      case 'seq-mean-token-sum-norm':
        scale = 1 / (opts.lossScaleFactor ?? responseLength);
        break;
    }
    for (let t = i * responseLength; t < (i + 1) * responseLength; t++) w[t] = mask[t]! * scale;
  }
  return w;
}

/** lossMat, mask: `[batch, responseLength]` -> scalar aggregated loss. */
export function aggLoss(
  lossMat: ArrayLike<number>,
  mask: ArrayLike<number>,
  responseLength: number,
  mode: LossAggMode,
  opts: AggOptions = {},
): number {
  return weightedSum(lossMat, aggWeights(mask, responseLength, mode, opts));
}

/** Σ w·x over w ≠ 0, so padding garbage never reaches the loss. */
export function weightedSum(x: ArrayLike<number>, w: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < w.length; k++) if (w[k] !== 0) s += w[k]! * x[k]!;
  return s;
}
