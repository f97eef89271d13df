/**
 * Rule-based rewards (veRL's RewardManager, docs/verl-compat.md#reward-placement): each sequence's prompt and response are
 * decoded with special tokens kept (docs/verl-compat.md#reward-decoding) and scored by its data_source; the whole score sits on
 * the last valid response token (the last column when the response is empty). Digit completion
 * uses its dense per-token reward, as veRL's end-to-end test does.
 */
import { computeScore, digitCompletion } from '../tasks/index.js';
import type { Tokenizer } from '../tokenizer/index.js';
import type { RolloutBatch } from './batch.js';

export type RewardFn = 'data_source' | 'digit_completion';

/** Token-level scores [rows, R]. */
export function computeTokenLevelScores(batch: RolloutBatch, tokenizer: Tokenizer, rewardFn: RewardFn): Float32Array {
  const R = batch.responseLength;
  const scores = new Float32Array(batch.rows * R);
  for (let r = 0; r < batch.rows; r++) {
    const mask = batch.responseMask.subarray(r * R, (r + 1) * R);
    let len = 0;
    for (let t = 0; t < R; t++) len += mask[t]!;
    const responseIds = Array.from(batch.responses.subarray(r * R, r * R + len));
    const prompt = batch.prompts[r]!;
    if (rewardFn === 'digit_completion') {
      // The e2e reward strips the separator and eos characters from the decoded response.
      const response = tokenizer.decode(responseIds).replace(/[ES]/g, '');
      scores.set(digitCompletion.digitCompletionTokenRewards(prompt.text, response, mask), r * R);
      continue;
    }
    const text = tokenizer.decode([...prompt.ids, ...responseIds]);
    const score = computeScore(prompt.dataSource, text, prompt.groundTruth);
    scores[r * R + (len > 0 ? len - 1 : R - 1)] = score;
  }
  return scores;
}

/** Σ_t of a [rows, R] array per row. */
export function rowSums(a: ArrayLike<number>, rows: number, R: number): number[] {
  return Array.from({ length: rows }, (_, r) => {
    let s = 0;
    for (let t = 0; t < R; t++) s += a[r * R + t]!;
    return s;
  });
}
