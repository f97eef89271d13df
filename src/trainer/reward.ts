/**
 * Rule-based rewards (veRL's RewardManager, docs/verl-compat.md#reward-placement): each sequence's prompt and response are
 * decoded with special tokens kept (docs/verl-compat.md#reward-decoding) and scored by its data_source; the whole score sits on
 * the last valid response token (the last column when the response is empty). Digit completion
 * uses its dense per-token reward, as veRL's end-to-end test does. DAPO's overlong shaping adds its
 * penalty on the same token.
 */
import type { OverlongBufferConfig } from '../config/types.js';
import { overlongPenalty } from '../rl/index.js';
import { behaviorMetrics, computeScore, digitCompletion, selectBehaviorTermsFn, type BehaviorSample, type RewardFn } from '../tasks/index.js';
import { decodeGenerated, type Tokenizer } from '../tokenizer/index.js';
import { responseIdsOf, type RolloutBatch, type Scores } from './batch.js';

export type { RewardFn };

/** The column of row r's outcome score: its last valid token, the last column for an empty response. */
function lastTokenIndex(batch: RolloutBatch, r: number): number {
  const len = batch.responseLengths[r]!;
  const R = batch.responseLength;
  return r * R + (len > 0 ? len - 1 : R - 1);
}

/** Token-level scores [rows, R]. */
export function computeTokenLevelScores(batch: RolloutBatch, tokenizer: Tokenizer, rewardFn: RewardFn): Float32Array {
  const R = batch.responseLength;
  const scores = new Float32Array(batch.rows * R);
  for (let r = 0; r < batch.rows; r++) {
    const responseIds = responseIdsOf(batch, r);
    const prompt = batch.prompts[r]!;
    if (rewardFn === 'digit_completion') {
      const response = decodeGenerated(tokenizer, responseIds);
      scores.set(digitCompletion.digitCompletionRewardsFromText(prompt.text, response, batch.responseMask.subarray(r * R, (r + 1) * R)), r * R);
      continue;
    }
    const text = decodeGenerated(tokenizer, [...prompt.ids, ...responseIds]);
    scores[lastTokenIndex(batch, r)] = computeScore(prompt.dataSource, text, prompt.groundTruth);
  }
  return scores;
}

/**
 * The reward phase: token_level_scores are the reward function's scores plus the overlong penalty
 * on the last valid token (DAPO's reward manager adds it to the score); taskScores are each row's
 * Σ before the penalty (the `acc`/`score` of dynamic sampling).
 */
export function scoreBatch(batch: RolloutBatch, tokenizer: Tokenizer, rewardFn: RewardFn, overlong: Pick<OverlongBufferConfig, 'enable' | 'len' | 'penalty_factor'>): Scores {
  const tokenLevelScores = computeTokenLevelScores(batch, tokenizer, rewardFn);
  const taskScores = Float64Array.from(rowSums(tokenLevelScores, batch.rows, batch.responseLength));
  let overlongPenalties: Float64Array | null = null;
  if (overlong.enable) {
    overlongPenalties = Float64Array.from(batch.responseLengths, (len) => overlongPenalty(len, batch.responseLength, overlong.len, overlong.penalty_factor));
    overlongPenalties.forEach((penalty, r) => {
      tokenLevelScores[lastTokenIndex(batch, r)]! += penalty;
    });
  }
  return { tokenLevelScores, taskScores, overlongPenalties };
}

/** Σ_t of a [rows, R] array per row. */
export function rowSums(a: ArrayLike<number>, rows: number, R: number): number[] {
  return Array.from({ length: rows }, (_, r) => {
    let s = 0;
    for (let t = 0; t < R; t++) s += a[r * R + t]!;
    return s;
  });
}

/**
 * The behaviour metrics its task defines (tasks/behavior.ts) over a batch's responses, keyed by
 * `keyOf`; {} when no row's data source defines any. Logged beside the reward, never part of it.
 */
export function batchBehaviorMetrics(batch: RolloutBatch, tokenizer: Tokenizer, keyOf: (name: string, dataSource: string) => string): Record<string, number> {
  const samples: (BehaviorSample & { dataSource: string })[] = [];
  for (let r = 0; r < batch.rows; r++) {
    const prompt = batch.prompts[r]!;
    if (!selectBehaviorTermsFn(prompt.dataSource)) continue;
    samples.push({
      prompt: prompt.text, response: decodeGenerated(tokenizer, responseIdsOf(batch, r)), responseLength: batch.responseLengths[r]!,
      groundTruth: prompt.groundTruth, dataSource: prompt.dataSource,
    });
  }
  return behaviorMetrics(samples, keyOf);
}
