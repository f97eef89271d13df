/**
 * Per-token KL estimators between the policy and the reference (`kl_penalty`, docs/verl-compat.md#kl-estimators),
 * their derivatives with respect to logp, and the KL loss (`actor.use_kl_loss`).
 */
import { aggWeights, weightedSum, type AggOptions } from './agg.js';
import { assertLength, rowsOf, type FloatArray, type LossAggMode } from './types.js';

/**
 * `algorithm.kl_penalty` / `actor.kl_loss_type`. TinyZero's names and upstream's aliases
 * (k1 = kl, k2 = mse, k3 = low_var_kl); `k1+`/`k3+` are upstream's straight-through variants:
 * the value of k1/k3 with the gradient of k2. `full` is rejected, as in veRL.
 */
export const klPenaltyTypes = ['kl', 'k1', 'abs', 'mse', 'k2', 'low_var_kl', 'k3', 'k1+', 'k3+'] as const;
export type KlPenaltyType = (typeof klPenaltyTypes)[number];

function assertKlType(type: string): asserts type is KlPenaltyType {
  if (type === 'full') throw new RangeError("kl penalty 'full' is not implemented (as in veRL)");
  if (!(klPenaltyTypes as readonly string[]).includes(type)) throw new RangeError(`unknown kl penalty '${type}'`);
}

/** One token: value and d value / d logp. */
export function klPenaltyToken(logp: number, ref: number, type: KlPenaltyType): { value: number; grad: number } {
  const d = logp - ref;
  switch (type) {
    case 'kl':
    case 'k1':
      return { value: d, grad: 1 };
    case 'abs':
      return { value: Math.abs(d), grad: Math.sign(d) };
    case 'mse':
    case 'k2':
      return { value: 0.5 * d * d, grad: d };
    case 'low_var_kl':
    case 'k3':
      return lowVarKl(logp, ref);
    case 'k1+':
      return { value: d, grad: d };
    case 'k3+':
      return { value: lowVarKl(logp, ref).value, grad: d };
    default:
      throw new RangeError(`unknown kl penalty '${type as string}'`);
  }
}

/**
 * k3 (Schulman): k = ref − logp, `exp(k) − k − 1` clamped to [−10, 10]. Upstream also clamps k to
 * [−20, 20] first; that never changes the value (|k| > 20 already clamps the output to 10) and only
 * keeps exp finite, so it is applied here too. Clamped tokens get zero gradient, like torch.clamp.
 */
function lowVarKl(logp: number, ref: number): { value: number; grad: number } {
  const kRaw = ref - logp;
  const k = Math.min(20, Math.max(-20, kRaw));
  const raw = Math.exp(k) - k - 1;
  const value = Math.min(10, Math.max(-10, raw));
  const inside = kRaw === k && raw === value;
  return { value, grad: inside ? 1 - Math.exp(k) : 0 };
}

/** logProb, refLogProb: `[batch, responseLength]` (any matching shape) -> per-token KL, same shape. */
export function klPenalty(logProb: FloatArray, refLogProb: FloatArray, type: KlPenaltyType): Float64Array {
  assertKlType(type);
  assertLength(logProb.length, { refLogProb });
  const out = new Float64Array(logProb.length);
  for (let k = 0; k < logProb.length; k++) out[k] = klPenaltyToken(logProb[k]!, refLogProb[k]!, type).value;
  return out;
}

/**
 * KL as a loss: logProb, refLogProb, responseMask: `[batch, responseLength]` ->
 * `klLoss = agg(kl_penalty(logp, ref))` (logged as `actor/kl_loss`) and ∂klLoss/∂logProb.
 * The actor loss ADDS `kl_loss_coef·klLoss` (TinyZero subtracted it: docs/verl-compat.md#kl-loss-sign).
 * TinyZero aggregated with a token mean; upstream uses the same mode as the policy loss.
 */
export function computeKlLoss(
  args: { logProb: FloatArray; refLogProb: FloatArray; responseMask: FloatArray; responseLength: number },
  type: KlPenaltyType,
  lossAggMode: LossAggMode = 'token-mean',
  agg?: AggOptions,
): { klLoss: number; dLogProb: Float32Array } {
  const { logProb, refLogProb, responseMask: m, responseLength: T } = args;
  assertKlType(type);
  rowsOf('logProb', logProb, T);
  assertLength(logProb.length, { refLogProb, responseMask: m });
  const w = aggWeights(m, T, lossAggMode, agg);
  const value = new Float64Array(logProb.length);
  const dLogProb = new Float32Array(logProb.length);
  for (let k = 0; k < logProb.length; k++) {
    if (w[k] === 0) continue;
    const { value: v, grad } = klPenaltyToken(logProb[k]!, refLogProb[k]!, type);
    value[k] = v;
    dLogProb[k] = w[k]! * grad;
  }
  return { klLoss: weightedSum(value, w), dLogProb };
}
