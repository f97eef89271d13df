/** KL penalty folded into the token rewards (`apply_kl_penalty`, docs/verl-compat.md#kl-in-reward). */
import type { KlController } from './kl-controller.js';
import { klPenalty, type KlPenaltyType } from './kl.js';
import { assertLength, rowsOf, type FloatArray } from './types.js';

export interface KlPenaltyInput {
  tokenLevelScores: FloatArray;
  oldLogProb: FloatArray;
  refLogProb: FloatArray;
  responseMask: FloatArray;
  responseLength: number;
}

export interface KlMetrics {
  'critic/kl': number;
  'critic/kl_coeff': number;
}

/**
 * The penalty alone, without touching a controller: tokenLevelRewards = scores − β·KL·m and each
 * row's masked mean KL (NaN for a row with no valid token). Rows are independent, so a row's
 * result does not depend on the batch it was computed in (DAPO dynamic sampling computes it
 * before filtering and keeps the kept rows' results).
 */
export function klPenalizedRewards(args: KlPenaltyInput, beta: number, klPenaltyType: KlPenaltyType = 'kl'): {
  tokenLevelRewards: Float32Array;
  rowKl: Float64Array;
} {
  const { tokenLevelScores, oldLogProb, refLogProb, responseMask: m, responseLength: T } = args;
  const rows = rowsOf('tokenLevelScores', tokenLevelScores, T);
  assertLength(tokenLevelScores.length, { oldLogProb, refLogProb, responseMask: m });
  const kld = klPenalty(oldLogProb, refLogProb, klPenaltyType);
  const tokenLevelRewards = new Float32Array(tokenLevelScores.length);
  const rowKl = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    let n = 0;
    for (let k = i * T; k < (i + 1) * T; k++) {
      const kl = m[k] === 0 ? 0 : kld[k]! * m[k]!;
      tokenLevelRewards[k] = tokenLevelScores[k]! - beta * kl;
      s += kl;
      n += m[k]!;
    }
    rowKl[i] = n > 0 ? s / n : NaN;
  }
  return { tokenLevelRewards, rowKl };
}

/**
 * The step's `critic/kl` (mean over the rows' KL, rows without a valid token left out; TinyZero
 * would return NaN) and `critic/kl_coeff` = β, then `klCtrl.update(currentKl, rows)`: once per
 * step, on the batch the step trains on. `beta` is the β the penalty used (read before the update).
 */
export function updateKlController(rowKl: ArrayLike<number>, beta: number, klCtrl: KlController): KlMetrics {
  let klSum = 0;
  let seqs = 0;
  for (let i = 0; i < rowKl.length; i++) {
    if (Number.isNaN(rowKl[i])) continue;
    klSum += rowKl[i]!;
    seqs++;
  }
  const currentKl = seqs === 0 ? 0 : klSum / seqs;
  klCtrl.update(currentKl, rowKl.length);
  return { 'critic/kl': currentKl, 'critic/kl_coeff': beta };
}

/**
 * tokenLevelScores, oldLogProb, refLogProb, responseMask: `[batch, responseLength]` ->
 * tokenLevelRewards (same shape) = scores − β·KL·m, with β read BEFORE the controller update,
 * then `klCtrl.update(currentKl, batch)`. Uses the recomputed old log-probs, as veRL does.
 * Metrics: `critic/kl` = mean over sequences of the per-sequence masked mean KL, `critic/kl_coeff` = β.
 * A sequence with no valid token is left out of `critic/kl` (TinyZero would return NaN).
 * Mutates `klCtrl` (adaptive β), the one side effect here, as in veRL.
 */
export function applyKlPenalty(
  args: KlPenaltyInput,
  klCtrl: KlController,
  klPenaltyType: KlPenaltyType = 'kl',
): { tokenLevelRewards: Float32Array; metrics: KlMetrics } {
  const beta = klCtrl.value;
  const { tokenLevelRewards, rowKl } = klPenalizedRewards(args, beta, klPenaltyType);
  return { tokenLevelRewards, metrics: updateKlController(rowKl, beta, klCtrl) };
}
