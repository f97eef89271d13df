/** KL penalty folded into the token rewards (`apply_kl_penalty`, docs/verl-compat.md#kl-in-reward). */
import type { KlController } from './kl-controller.js';
import { klPenalty, type KlPenaltyType } from './kl.js';
import { assertLength, rowsOf, type FloatArray } from './types.js';

/**
 * tokenLevelScores, oldLogProb, refLogProb, responseMask: `[batch, responseLength]` ->
 * tokenLevelRewards (same shape) = scores − β·KL·m, with β read BEFORE the controller update,
 * then `klCtrl.update(currentKl, batch)`. Uses the recomputed old log-probs, as veRL does.
 * Metrics: `critic/kl` = mean over sequences of the per-sequence masked mean KL, `critic/kl_coeff` = β.
 * A sequence with no valid token is left out of `critic/kl` (TinyZero would return NaN).
 * Mutates `klCtrl` (adaptive β), the one side effect here, as in veRL.
 */
export function applyKlPenalty(
  args: {
    tokenLevelScores: FloatArray;
    oldLogProb: FloatArray;
    refLogProb: FloatArray;
    responseMask: FloatArray;
    responseLength: number;
  },
  klCtrl: KlController,
  klPenaltyType: KlPenaltyType = 'kl',
): { tokenLevelRewards: Float32Array; metrics: { 'critic/kl': number; 'critic/kl_coeff': number } } {
  const { tokenLevelScores, oldLogProb, refLogProb, responseMask: m, responseLength: T } = args;
  const rows = rowsOf('tokenLevelScores', tokenLevelScores, T);
  assertLength(tokenLevelScores.length, { oldLogProb, refLogProb, responseMask: m });
  const kld = klPenalty(oldLogProb, refLogProb, klPenaltyType);
  const beta = klCtrl.value;
  const tokenLevelRewards = new Float32Array(tokenLevelScores.length);
  let klSum = 0;
  let seqs = 0;
  for (let i = 0; i < rows; i++) {
    let s = 0;
    let n = 0;
    for (let k = i * T; k < (i + 1) * T; k++) {
      const kl = m[k] === 0 ? 0 : kld[k]! * m[k]!;
      tokenLevelRewards[k] = tokenLevelScores[k]! - beta * kl;
      s += kl;
      n += m[k]!;
    }
    if (n > 0) {
      klSum += s / n;
      seqs++;
    }
  }
  const currentKl = seqs === 0 ? 0 : klSum / seqs;
  klCtrl.update(currentKl, rows);
  return { tokenLevelRewards, metrics: { 'critic/kl': currentKl, 'critic/kl_coeff': beta } };
}
