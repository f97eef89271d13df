/**
 * Advantage estimators (veRL `core_algos.py`, docs/verl-compat.md#formulas). All take per-token arrays
 * `[batch, responseLength]` and return `{ advantages, returns }` of the same shape.
 * Positions outside the response mask are 0 in every output.
 */
import { groupMean, groupRows, groupStdUnbiased } from './groups.js';
import { maskedWhiten } from './masked.js';
import { assertLength, rowsOf, type FloatArray, type GroupIndex } from './types.js';

/** advantages, returns: `[batch, responseLength]`. */
export interface AdvantageReturn {
  advantages: Float32Array;
  returns: Float32Array;
}

/** Per-sequence outcome score `Σ_t r_{i,t}`: tokenLevelRewards `[batch, responseLength]` -> `[batch]`. */
export function sequenceScores(tokenLevelRewards: ArrayLike<number>, responseLength: number): Float64Array {
  const rows = rowsOf('tokenLevelRewards', tokenLevelRewards, responseLength);
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let t = i * responseLength; t < (i + 1) * responseLength; t++) s += tokenLevelRewards[t]!;
    out[i] = s;
  }
  return out;
}

/** perRow: `[batch]` -> `[batch, responseLength]`, `perRow[i]·m_{i,t}`. */
function broadcastMasked(perRow: ArrayLike<number>, mask: ArrayLike<number>, responseLength: number): Float32Array {
  const out = new Float32Array(mask.length);
  for (let i = 0; i < perRow.length; i++) {
    for (let t = i * responseLength; t < (i + 1) * responseLength; t++) out[t] = perRow[i]! * mask[t]!;
  }
  return out;
}

function toMaskedF32(x: ArrayLike<number>, mask: ArrayLike<number>): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = mask[i] === 0 ? 0 : x[i]! * mask[i]!;
  return out;
}

/**
 * GAE (`compute_gae_advantage_return`), TinyZero's form: the recursion runs over every position
 * with no masking inside the loop, `δ_t = r_t + γ·V_{t+1} − V_t` (V_T = 0), `A_t = δ_t + γλ·A_{t+1}`;
 * `returns = A + V` before whitening; advantages are then whitened over the mask (Bessel).
 * With right-padded responses (rewards and values 0 after the last token, as the fixed critic mask gives: docs/verl-compat.md#critic-mask)
 * valid tokens match upstream's masked loop too. With γ = λ = 1, `A_t = Σ_{k≥t} r_k − V_t`.
 *
 * tokenLevelRewards, values, responseMask: `[batch, responseLength]` -> advantages, returns: same.
 * Throws (via maskedWhiten) when the whole batch has fewer than two valid tokens.
 */
export function computeGaeAdvantageReturn(args: {
  tokenLevelRewards: FloatArray;
  values: FloatArray;
  responseMask: FloatArray;
  responseLength: number;
  gamma: number;
  lam: number;
}): AdvantageReturn {
  const { tokenLevelRewards: r, values: v, responseMask: m, responseLength: T, gamma, lam } = args;
  const rows = rowsOf('tokenLevelRewards', r, T);
  assertLength(r.length, { values: v, responseMask: m });
  const adv = new Float64Array(r.length);
  const ret = new Float64Array(r.length);
  for (let i = 0; i < rows; i++) {
    let last = 0;
    for (let t = T - 1; t >= 0; t--) {
      const k = i * T + t;
      const next = t < T - 1 ? v[k + 1]! : 0;
      last = r[k]! + gamma * next - v[k]! + gamma * lam * last;
      adv[k] = last;
      ret[k] = last + v[k]!;
    }
  }
  return { advantages: toMaskedF32(maskedWhiten(adv, m), m), returns: toMaskedF32(ret, m) };
}

/**
 * GRPO (`compute_grpo_outcome_advantage`, ε = 1e-6): score = Σ_t r_{i,t} (TinyZero sums the
 * non-zero entries, the same number); per group `(score − mean)/(std + ε)` with the unbiased std,
 * or `score − mean` when `normAdvByStdInGrpo` is false (Dr. GRPO). A group of one uses mean 0 and
 * std 1, so its advantage is its raw score (÷ (1 + ε)). Identical scores give 0.
 * docs/verl-compat.md#grpo-kl-in-score (copied): with KL in the reward, the per-token −β·KL is part of this sum.
 *
 * tokenLevelRewards, responseMask: `[batch, responseLength]`; index: `[batch]` ->
 * advantages = returns: `[batch, responseLength]`, the row's value on each valid token.
 */
export function computeGrpoOutcomeAdvantage(args: {
  tokenLevelRewards: FloatArray;
  responseMask: FloatArray;
  responseLength: number;
  index: GroupIndex;
  epsilon?: number;
  normAdvByStdInGrpo?: boolean;
}): AdvantageReturn {
  const { responseMask: m, responseLength: T, index } = args;
  const eps = args.epsilon ?? 1e-6;
  const normByStd = args.normAdvByStdInGrpo ?? true;
  const scores = sequenceScores(args.tokenLevelRewards, T);
  assertLength(args.tokenLevelRewards.length, { responseMask: m });
  assertLength(scores.length, { index });
  const out = new Float64Array(scores.length);
  for (const rows of groupRows(index).values()) {
    const single = rows.length === 1;
    const mean = single ? 0 : groupMean(scores, rows);
    const std = single ? 1 : groupStdUnbiased(scores, rows, mean);
    for (const r of rows) out[r] = normByStd ? (scores[r]! - mean) / (std + eps) : scores[r]! - mean;
  }
  const advantages = broadcastMasked(out, m, T);
  return { advantages, returns: advantages };
}

/**
 * RLOO (`compute_rloo_outcome_advantage`): `A_i = n/(n−1)·(r_i − mean_group)` = r_i minus the mean
 * of the other samples; a group of one keeps its raw score.
 *
 * tokenLevelRewards, responseMask: `[batch, responseLength]`; index: `[batch]` ->
 * advantages = returns: `[batch, responseLength]`.
 */
export function computeRlooOutcomeAdvantage(args: {
  tokenLevelRewards: FloatArray;
  responseMask: FloatArray;
  responseLength: number;
  index: GroupIndex;
}): AdvantageReturn {
  const { responseMask: m, responseLength: T, index } = args;
  const scores = sequenceScores(args.tokenLevelRewards, T);
  assertLength(args.tokenLevelRewards.length, { responseMask: m });
  assertLength(scores.length, { index });
  const out = Float64Array.from(scores);
  for (const rows of groupRows(index).values()) {
    const n = rows.length;
    if (n === 1) continue;
    const mean = groupMean(scores, rows);
    for (const r of rows) out[r] = (scores[r]! * n) / (n - 1) - (mean * n) / (n - 1);
  }
  const advantages = broadcastMasked(out, m, T);
  return { advantages, returns: advantages };
}

/**
 * REINFORCE++ (`compute_reinforce_plus_plus_outcome_advantage`): token returns
 * `G_t = r_t + γ·G_{t+1}`, the running return reset to 0 at masked positions (after EOS);
 * advantages = masked_whiten(G) over the whole batch (not per group), times the mask.
 *
 * tokenLevelRewards, responseMask: `[batch, responseLength]` -> advantages, returns: same
 * (returns are G, masked).
 */
export function computeReinforcePlusPlusOutcomeAdvantage(args: {
  tokenLevelRewards: FloatArray;
  responseMask: FloatArray;
  responseLength: number;
  gamma: number;
}): AdvantageReturn {
  const { tokenLevelRewards: r, responseMask: m, responseLength: T, gamma } = args;
  const rows = rowsOf('tokenLevelRewards', r, T);
  assertLength(r.length, { responseMask: m });
  const g = new Float64Array(r.length);
  for (let i = 0; i < rows; i++) {
    let running = 0;
    for (let t = T - 1; t >= 0; t--) {
      const k = i * T + t;
      running = r[k]! + gamma * running;
      g[k] = running;
      running *= m[k]!;
    }
  }
  return { advantages: toMaskedF32(maskedWhiten(g, m), m), returns: toMaskedF32(g, m) };
}

/**
 * REINFORCE++-baseline: `A_i = score_i − mean_group` (a group of one keeps its score), broadcast
 * over valid tokens, then masked_whiten over the whole batch, times the mask.
 *
 * tokenLevelRewards, responseMask: `[batch, responseLength]`; index: `[batch]` ->
 * advantages = returns: `[batch, responseLength]`.
 */
export function computeReinforcePlusPlusBaselineOutcomeAdvantage(args: {
  tokenLevelRewards: FloatArray;
  responseMask: FloatArray;
  responseLength: number;
  index: GroupIndex;
}): AdvantageReturn {
  const { responseMask: m, responseLength: T, index } = args;
  const scores = sequenceScores(args.tokenLevelRewards, T);
  assertLength(args.tokenLevelRewards.length, { responseMask: m });
  assertLength(scores.length, { index });
  const centred = Float64Array.from(scores);
  for (const rows of groupRows(index).values()) {
    if (rows.length === 1) continue;
    const mean = groupMean(scores, rows);
    for (const r of rows) centred[r] = scores[r]! - mean;
  }
  const tokens = new Float64Array(m.length);
  for (let k = 0; k < m.length; k++) tokens[k] = centred[Math.floor(k / T)]! * m[k]!;
  const advantages = toMaskedF32(maskedWhiten(tokens, m), m);
  return { advantages, returns: advantages };
}

/**
 * ReMax (`compute_remax_outcome_advantage`): `G_t = Σ_{k≥t} r_k·m_k`, `A_t = G_t − b_i·m_t` where
 * b_i is the score of the greedy rollout of the same prompt (computed by the trainer).
 *
 * tokenLevelRewards, responseMask: `[batch, responseLength]`; rewardBaselines: `[batch]` ->
 * advantages, returns: `[batch, responseLength]` (returns = G).
 */
export function computeRemaxOutcomeAdvantage(args: {
  tokenLevelRewards: FloatArray;
  responseMask: FloatArray;
  responseLength: number;
  rewardBaselines: ArrayLike<number>;
}): AdvantageReturn {
  const { tokenLevelRewards: r, responseMask: m, responseLength: T, rewardBaselines: b } = args;
  const rows = rowsOf('tokenLevelRewards', r, T);
  assertLength(r.length, { responseMask: m });
  assertLength(rows, { rewardBaselines: b });
  const advantages = new Float32Array(r.length);
  const returns = new Float32Array(r.length);
  for (let i = 0; i < rows; i++) {
    let g = 0;
    for (let t = T - 1; t >= 0; t--) {
      const k = i * T + t;
      g += m[k] === 0 ? 0 : r[k]! * m[k]!;
      // veRL leaves G unmasked; masking it only changes holes inside a response (multi-turn).
      returns[k] = g * m[k]!;
      advantages[k] = (g - b[i]!) * m[k]!;
    }
  }
  return { advantages, returns };
}
