/**
 * Clipped value loss (`compute_value_loss`, docs/verl-compat.md#value-loss) with ∂loss/∂vpreds for the critic's
 * backward pass. docs/verl-compat.md#critic-mask is fixed by the caller passing the response mask (not the mask shifted
 * by one); nothing here depends on which mask it is.
 */
import { aggWeights, weightedSum, type AggOptions } from './agg.js';
import { maskedMean } from './masked.js';
import { assertLength, rowsOf, type FloatArray, type LossAggMode } from './types.js';

export interface ValueLossConfig {
  /** `critic.cliprange_value` (0.5 in TinyZero) */
  cliprangeValue: number;
  lossAggMode?: LossAggMode;
  agg?: AggOptions;
}

export interface ValueLossResult {
  vfLoss: number;
  /** ∂vfLoss/∂vpreds: `[batch, responseLength]`, 0 off the mask */
  dVpreds: Float32Array;
  /** logged as `critic/vf_clipfrac`, `critic/vpred_mean` */
  metrics: { vf_clipfrac: number; vpred_mean: number };
}

/**
 * vpreds, returns, values (old values), responseMask: `[batch, responseLength]` -> loss, metrics, gradient.
 * v_clip = clamp(vpred, v_old − c, v_old + c); ℓ = max((vpred − R)², (v_clip − R)²);
 * vfLoss = 0.5·agg(ℓ); vf_clipfrac = token mean of [(v_clip − R)² > (vpred − R)²].
 * Gradient: (vpred − R)·w where the unclipped term wins (on a tie inside the range both terms
 * have that slope), 0 where the clipped term wins (vpred is then outside the range, so v_clip
 * is constant).
 */
export function computeValueLoss(
  args: { vpreds: FloatArray; returns: FloatArray; values: FloatArray; responseMask: FloatArray; responseLength: number },
  config: ValueLossConfig,
): ValueLossResult {
  const { vpreds, returns, values, responseMask: m, responseLength: T } = args;
  rowsOf('vpreds', vpreds, T);
  assertLength(vpreds.length, { returns, values, responseMask: m });
  const c = config.cliprangeValue;
  const n = vpreds.length;
  const loss = new Float64Array(n);
  const slope = new Float64Array(n);
  const clipped = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    if (m[k] === 0) continue;
    const v = vpreds[k]!;
    const r = returns[k]!;
    const vClip = Math.min(values[k]! + c, Math.max(values[k]! - c, v));
    const l1 = (v - r) ** 2;
    const l2 = (vClip - r) ** 2;
    loss[k] = Math.max(l1, l2);
    clipped[k] = l2 > l1 ? 1 : 0;
    slope[k] = l2 > l1 ? 0 : v - r; // d/dv of 0.5·(v − R)²
  }
  const w = aggWeights(m, T, config.lossAggMode ?? 'token-mean', config.agg);
  const dVpreds = new Float32Array(n);
  for (let k = 0; k < n; k++) dVpreds[k] = w[k]! * slope[k]!;
  return {
    vfLoss: 0.5 * weightedSum(loss, w),
    dVpreds,
    metrics: { vf_clipfrac: maskedMean(clipped, m), vpred_mean: maskedMean(vpreds, m) },
  };
}
