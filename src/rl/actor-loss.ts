/**
 * The actor's full loss for one micro-batch (dp_actor `update_policy`, docs/verl-compat.md#actor-loss, #update-loops):
 * `loss = pg_loss − entropy_coeff·entropy_loss + kl_loss_coef·kl_loss`, with its gradients
 * with respect to the two tensors the engine produced: per-token log-probs and entropies.
 */
import type { AggOptions } from './agg.js';
import { computeEntropyLoss } from './entropy.js';
import { computeKlLoss, type KlPenaltyType } from './kl.js';
import { computePolicyLoss, type PolicyLossConfig } from './policy-loss.js';
import type { FloatArray, LossAggMode } from './types.js';

export interface ActorLossConfig extends PolicyLossConfig {
  /** `actor.entropy_coeff` (0.001 in TinyZero) */
  entropyCoeff: number;
  /** `actor.use_kl_loss` */
  useKlLoss: boolean;
  /** `actor.kl_loss_coef` (0.001) */
  klLossCoef?: number;
  /** `actor.kl_loss_type` (low_var_kl) */
  klLossType?: KlPenaltyType;
  lossAggMode?: LossAggMode;
  agg?: AggOptions;
}

export interface ActorLossResult {
  loss: number;
  /** ∂loss/∂logProb: `[batch, responseLength]` (policy term + KL term) */
  dLogProb: Float32Array;
  /** ∂loss/∂entropy: `[batch, responseLength]`; null when entropy_coeff is 0 and no entropy was given */
  dEntropy: Float32Array | null;
  /** veRL's actor metric names */
  metrics: Record<string, number>;
}

/**
 * oldLogProb, logProb, advantages, responseMask, entropy?, refLogProb?: `[batch, responseLength]`.
 * Entropy may be omitted only when entropyCoeff is 0 (then `actor/entropy_loss` is not logged);
 * refLogProb is required when useKlLoss.
 * docs/verl-compat.md#kl-loss-sign: the KL loss is added (TinyZero subtracted it, which maximises KL).
 */
export function computeActorLoss(
  args: {
    oldLogProb: FloatArray;
    logProb: FloatArray;
    advantages: FloatArray;
    responseMask: FloatArray;
    responseLength: number;
    entropy?: FloatArray;
    refLogProb?: FloatArray;
  },
  config: ActorLossConfig,
): ActorLossResult {
  const mode = config.lossAggMode ?? 'token-mean';
  const pg = computePolicyLoss(args, config);
  const metrics: Record<string, number> = {
    'actor/pg_loss': pg.pgLoss,
    'actor/pg_clipfrac': pg.metrics.pg_clipfrac,
    'actor/ppo_kl': pg.metrics.ppo_kl,
    'actor/pg_clipfrac_lower': pg.metrics.pg_clipfrac_lower,
  };
  let loss = pg.pgLoss;
  const dLogProb = pg.dLogProb;
  let dEntropy: Float32Array | null = null;

  if (args.entropy !== undefined) {
    const ent = computeEntropyLoss({ ...args, entropy: args.entropy }, mode, config.agg);
    metrics['actor/entropy_loss'] = ent.entropyLoss;
    loss -= config.entropyCoeff * ent.entropyLoss;
    dEntropy = ent.dEntropy.map((w) => -config.entropyCoeff * w);
  } else if (config.entropyCoeff !== 0) {
    throw new TypeError('computeActorLoss: entropy is required when entropyCoeff is not 0');
  }

  if (config.useKlLoss) {
    if (args.refLogProb === undefined) throw new TypeError('computeActorLoss: refLogProb is required when useKlLoss');
    const coef = config.klLossCoef ?? 0.001;
    const kl = computeKlLoss({ ...args, refLogProb: args.refLogProb }, config.klLossType ?? 'low_var_kl', mode, config.agg);
    loss += coef * kl.klLoss;
    for (let k = 0; k < dLogProb.length; k++) dLogProb[k] = dLogProb[k]! + coef * kl.dLogProb[k]!;
    metrics['actor/kl_loss'] = kl.klLoss;
    metrics['actor/kl_coef'] = coef;
  }
  return { loss, dLogProb, dEntropy, metrics };
}
