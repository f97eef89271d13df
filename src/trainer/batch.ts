/**
 * The rollout batch (veRL's DataProto for one step), as flat typed arrays. Prompts are left-padded to
 * P = max_prompt_length and responses right-padded to R = max_response_length, so every sequence is
 * [P + R] tokens like veRL's `input_ids`. Per-token RL arrays are [rows, R], row-major.
 */
import type { PromptRow } from './dataset.js';

export interface RolloutBatch {
  rows: number;
  /** P */
  promptLength: number;
  /** R */
  responseLength: number;
  /** [rows, P + R] */
  inputIds: Int32Array;
  /** [rows, P + R]: 1 for real prompt tokens and response tokens up to and including the first eos. */
  attentionMask: Float32Array;
  /** [rows, P + R]: clip(cumsum(mask) - 1, 0); the response continues from the last prompt position. */
  positionIds: Int32Array;
  /** [rows, R] */
  responses: Int32Array;
  /** [rows, R] */
  responseMask: Float32Array;
  /** [rows, P]: the prompt part of the attention mask (prompt_length metrics). */
  promptMask: Float32Array;
  /** The prompt row behind each sequence (shared by its n samples). */
  prompts: PromptRow[];
  /** Group id per sequence: the prompt's position in the step's batch (veRL's uid). */
  uid: number[];
  oldLogProb?: Float32Array;
  refLogProb?: Float32Array;
  values?: Float32Array;
  tokenLevelScores?: Float32Array;
  tokenLevelRewards?: Float32Array;
  advantages?: Float32Array;
  returns?: Float32Array;
  /** [rows] ReMax baseline: the greedy response's score for the row's prompt. */
  rewardBaselines?: Float32Array;
}

/** Builds the padded layout from unpadded prompt ids and right-padded responses [rows, width]. */
export function assembleBatch(args: {
  prompts: PromptRow[];
  uid: number[];
  promptLength: number;
  responseLength: number;
  responseIds: Int32Array;
  responseMask: Float32Array;
  width: number;
  padTokenId: number;
}): RolloutBatch {
  const { prompts, promptLength: P, responseLength: R, width, padTokenId } = args;
  const rows = prompts.length;
  const S = P + R;
  const inputIds = new Int32Array(rows * S).fill(padTokenId);
  const attentionMask = new Float32Array(rows * S);
  const positionIds = new Int32Array(rows * S);
  const responses = new Int32Array(rows * R).fill(padTokenId);
  const responseMask = new Float32Array(rows * R);
  const promptMask = new Float32Array(rows * P);
  for (let r = 0; r < rows; r++) {
    const ids = prompts[r]!.ids;
    const start = P - ids.length;
    for (let j = 0; j < ids.length; j++) {
      inputIds[r * S + start + j] = ids[j]!;
      attentionMask[r * S + start + j] = 1;
      promptMask[r * P + start + j] = 1;
      positionIds[r * S + start + j] = j;
    }
    for (let t = 0; t < R; t++) {
      const inWidth = t < width;
      const id = inWidth ? args.responseIds[r * width + t]! : padTokenId;
      const m = inWidth ? args.responseMask[r * width + t]! : 0;
      responses[r * R + t] = id;
      responseMask[r * R + t] = m;
      inputIds[r * S + P + t] = id;
      attentionMask[r * S + P + t] = m;
      positionIds[r * S + P + t] = ids.length + t;
    }
  }
  return { rows, promptLength: P, responseLength: R, inputIds, attentionMask, positionIds, responses, responseMask, promptMask, prompts, uid: args.uid };
}

/** Valid response length of each row. */
export function responseLengths(batch: RolloutBatch): number[] {
  const R = batch.responseLength;
  return Array.from({ length: batch.rows }, (_, r) => {
    let n = 0;
    for (let t = 0; t < R; t++) n += batch.responseMask[r * R + t]!;
    return n;
  });
}

/** Rows `index` of a [rows, width] array. */
export function takeRows<A extends Float32Array | Int32Array>(a: A, width: number, index: readonly number[]): A {
  const out = new (a.constructor as new (n: number) => A)(index.length * width);
  index.forEach((row, i) => out.set(a.subarray(row * width, row * width + width), i * width));
  return out;
}
