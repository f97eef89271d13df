/**
 * PPO clipped policy loss (`compute_policy_loss`, docs/verl-compat.md#policy-loss; clip-higher and dual clip: #newer-algorithms).
 * Returns the loss, veRL's metrics, and ∂loss/∂logProb so the trainer can seed the engine's
 * backward pass from the log-prob tensor (src/rl stays engine-independent).
 */
import { aggWeights, weightedSum, type AggOptions } from './agg.js';
import { maskedMean } from './masked.js';
import { assertLength, rowsOf, type FloatArray, type LossAggMode } from './types.js';

/** `actor.*` keys of the policy loss. */
export interface PolicyLossConfig {
  /** ε (`clip_ratio`, default 0.2 in TinyZero) */
  clipRatio: number;
  /** DAPO clip-higher: lower bound 1 − clipRatioLow (default clipRatio) */
  clipRatioLow?: number;
  /** DAPO clip-higher: upper bound 1 + clipRatioHigh (default clipRatio) */
  clipRatioHigh?: number;
  /**
   * Dual clip c > 1 (`clip_ratio_c`, upstream default 3.0). Undefined = TinyZero's loss, which has
   * no dual clip and no log-ratio clamp. When set, the log-ratio is also clamped to [−20, 20] as
   * upstream's vanilla loss does.
   */
  clipRatioC?: number;
  lossAggMode?: LossAggMode;
  agg?: AggOptions;
}

/** Per-call metrics, named as veRL logs them under `actor/`. */
export interface PolicyLossMetrics {
  pg_clipfrac: number;
  ppo_kl: number;
  pg_clipfrac_lower: number;
}

export interface PolicyLossResult {
  pgLoss: number;
  /** ∂pgLoss/∂logProb: `[batch, responseLength]`, 0 off the mask */
  dLogProb: Float32Array;
  metrics: PolicyLossMetrics;
}

/**
 * oldLogProb, logProb, advantages, responseMask: `[batch, responseLength]` -> loss, metrics, gradient.
 * Per token: ρ = exp(logp − old), L1 = −A·ρ, L2 = −A·clip(ρ, 1−ε_low, 1+ε_high), ℓ = max(L1, L2);
 * with dual clip and A < 0, ℓ = min(ℓ, −A·c). Metrics are token means over the mask:
 * pg_clipfrac = [L2 > L1], ppo_kl = old − logp, pg_clipfrac_lower = [A < 0 and ℓ_max > −A·c].
 * Gradient: ∂ℓ/∂logp = −A·ρ where ℓ follows L1 (ties included: inside the clip range L1 = L2 have
 * the same slope), 0 where the clipped branch or the dual-clip constant wins, times the
 * aggregation weight.
 */
export function computePolicyLoss(
  args: {
    oldLogProb: FloatArray;
    logProb: FloatArray;
    advantages: FloatArray;
    responseMask: FloatArray;
    responseLength: number;
  },
  config: PolicyLossConfig,
): PolicyLossResult {
  const { oldLogProb, logProb, advantages, responseMask: m, responseLength: T } = args;
  rowsOf('logProb', logProb, T);
  assertLength(logProb.length, { oldLogProb, advantages, responseMask: m });
  const lo = 1 - (config.clipRatioLow ?? config.clipRatio);
  const hi = 1 + (config.clipRatioHigh ?? config.clipRatio);
  const c = config.clipRatioC;
  if (c !== undefined && !(c > 1)) throw new RangeError(`clip_ratio_c must be > 1, got ${c}`);

  const n = logProb.length;
  const loss = new Float64Array(n);
  const slope = new Float64Array(n);
  const clipped = new Float64Array(n);
  const clippedLower = new Float64Array(n);
  const negKl = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    if (m[k] === 0) continue;
    let logRatio = logProb[k]! - oldLogProb[k]!;
    let clampActive = false;
    if (c !== undefined && (logRatio < -20 || logRatio > 20)) {
      logRatio = Math.min(20, Math.max(-20, logRatio));
      clampActive = true;
    }
    negKl[k] = -logRatio;
    const ratio = Math.exp(logRatio);
    const a = advantages[k]!;
    const l1 = -a * ratio;
    const l2 = -a * Math.min(hi, Math.max(lo, ratio));
    let l = Math.max(l1, l2);
    let g = l2 > l1 ? 0 : -a * ratio;
    clipped[k] = l2 > l1 ? 1 : 0;
    if (c !== undefined && a < 0) {
      const l3 = -a * c;
      if (l > l3) {
        clippedLower[k] = 1;
        l = l3;
        g = 0;
      }
    }
    loss[k] = l;
    slope[k] = clampActive ? 0 : g;
  }
  const w = aggWeights(m, T, config.lossAggMode ?? 'token-mean', config.agg);
  const dLogProb = new Float32Array(n);
  for (let k = 0; k < n; k++) dLogProb[k] = w[k]! * slope[k]!;
  return {
    pgLoss: weightedSum(loss, w),
    dLogProb,
    metrics: {
      pg_clipfrac: maskedMean(clipped, m),
      ppo_kl: maskedMean(negKl, m),
      pg_clipfrac_lower: maskedMean(clippedLower, m),
    },
  };
}

export type PolicyLossMode = 'vanilla';

/** Registry keyed by `actor.policy_loss.loss_mode`. */
export const policyLossFns: Readonly<Record<PolicyLossMode, typeof computePolicyLoss>> = {
  vanilla: computePolicyLoss,
};
