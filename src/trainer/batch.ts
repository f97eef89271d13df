/**
 * The step's batch (veRL's DataProto for one step), as flat typed arrays. Prompts are left-padded to
 * P = max_prompt_length and responses right-padded to R = max_response_length, so every sequence is
 * [P + R] tokens like veRL's `input_ids`. Per-token RL arrays are [rows, R], row-major.
 *
 * A batch grows by phase, each a type with required fields: the rollout (RolloutBatch), the reward
 * (ScoredBatch), what DAPO dynamic sampling may compute before it filters (SampledBatch), and the
 * whole step (StepBatch). Every per-row array has one width in ROW_FIELD_WIDTHS, which row selection
 * and the size check read, as veRL's DataProto checks sizes on construction and selects rows by key.
 */
import type { PromptRow } from './dataset.js';

export type RowArray = Float32Array | Float64Array | Int32Array;

/** What the rollout produces: the sequences, in the padded layout. */
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
  /** [rows]: valid response tokens of each row (Σ responseMask), counted once here. */
  responseLengths: Int32Array;
  /** The prompt row behind each sequence (shared by its n samples). */
  prompts: PromptRow[];
  /** Group id per sequence: the prompt's position in the step's batch (veRL's uid). */
  uid: number[];
  /** [rows] ReMax baseline: the greedy response's score for the row's prompt; null for other estimators. */
  rewardBaselines: Float32Array | null;
}

/** The reward phase's result on a rollout. */
export interface Scores {
  /** [rows, R]: the reward function's scores, the overlong penalty added on the last valid token. */
  tokenLevelScores: Float32Array;
  /** [rows]: the task score before overlong shaping (dynamic sampling's `acc` / `score`). */
  taskScores: Float64Array;
  /** [rows]: DAPO's overlong penalty; null when overlong shaping is off. */
  overlongPenalties: Float64Array | null;
}

export type ScoredBatch = RolloutBatch & Scores;

/** The KL-in-reward phase's result (before the controller update, which is once per step). */
export interface KlRewards {
  /** [rows, R]: token_level_scores − β·KL. */
  tokenLevelRewards: Float32Array;
  /** [rows]: each row's masked mean KL (NaN for a row without valid tokens), for `critic/kl`. */
  rowKl: Float64Array;
}

/**
 * A scored generation batch under dynamic sampling. With `filter_groups.metric=seq_final_reward`
 * and KL in the reward, the log-probs and the KL penalty are computed before filtering (the metric
 * needs them) and travel with their rows; otherwise they are null and computed on the kept batch.
 */
export interface SampledBatch extends ScoredBatch {
  oldLogProb: Float32Array | null;
  refLogProb: Float32Array | null;
  tokenLevelRewards: Float32Array | null;
  rowKl: Float64Array | null;
}

/** Everything a training step computes about its rows: what the updates and the metrics read. */
export interface StepBatch extends ScoredBatch {
  /** [rows, R]: the actor's recomputed log-probs of the sampled responses. */
  oldLogProb: Float32Array;
  /** [rows, R]; null without a reference policy. */
  refLogProb: Float32Array | null;
  /** [rows, R]: token_level_scores − β·KL with KL in the reward, else token_level_scores. */
  tokenLevelRewards: Float32Array;
  /** [rows]: KlRewards' rowKl; null without KL in the reward. */
  rowKl: Float64Array | null;
  /** [rows, R]: the critic's values (zero off the mask); null without a critic. */
  values: Float32Array | null;
  /** [rows, R] */
  advantages: Float32Array;
  /** [rows, R] */
  returns: Float32Array;
}

type Width = 'sequence' | 'response' | 'prompt' | 'one';

/** The keys of T whose values are per-row arrays (possibly null). */
type RowArrayKeys<T> = { [K in keyof T]-?: NonNullable<T[K]> extends RowArray ? K : never }[keyof T];

/** Every per-row array of every batch type. */
export type RowField = RowArrayKeys<StepBatch>;

/**
 * Values per row of each per-row array: sequence = P + R, response = R, prompt = P, one = 1. The
 * `satisfies` makes a per-row field added to a batch type without a width here a compile error.
 */
export const ROW_FIELD_WIDTHS = {
  inputIds: 'sequence',
  attentionMask: 'sequence',
  positionIds: 'sequence',
  responses: 'response',
  responseMask: 'response',
  promptMask: 'prompt',
  responseLengths: 'one',
  rewardBaselines: 'one',
  tokenLevelScores: 'response',
  taskScores: 'one',
  overlongPenalties: 'one',
  oldLogProb: 'response',
  refLogProb: 'response',
  tokenLevelRewards: 'response',
  rowKl: 'one',
  values: 'response',
  advantages: 'response',
  returns: 'response',
} as const satisfies Record<RowField, Width>;

/** The shape every batch type shares. */
export interface BatchShape {
  rows: number;
  promptLength: number;
  responseLength: number;
  prompts: PromptRow[];
  uid: number[];
}

export function widthOf(field: RowField, b: Pick<BatchShape, 'promptLength' | 'responseLength'>): number {
  switch (ROW_FIELD_WIDTHS[field]) {
    case 'sequence':
      return b.promptLength + b.responseLength;
    case 'response':
      return b.responseLength;
    case 'prompt':
      return b.promptLength;
    case 'one':
      return 1;
  }
}

export function isRowField(key: string): key is RowField {
  return Object.hasOwn(ROW_FIELD_WIDTHS, key);
}

/**
 * Throws unless every per-row array of `batch` has rows × width
 * values and `prompts` and `uid` have one entry per row; an array under a key without a width is an
 * error too, so no field escapes row selection. `what` names the batch in the message. Returns the batch.
 */
export function checkBatch<B extends BatchShape>(batch: B, what: string): B {
  const { rows, promptLength: P, responseLength: R } = batch;
  if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`${what}: rows must be a non-negative integer, got ${rows}`);
  for (const [name, list] of [['prompts', batch.prompts], ['uid', batch.uid]] as const) {
    if (list.length !== rows) throw new RangeError(`${what}: ${name} has ${list.length} entries, expected one per row (${rows})`);
  }
  for (const [key, value] of Object.entries(batch)) {
    if (!ArrayBuffer.isView(value)) continue;
    if (!isRowField(key)) throw new TypeError(`${what}: per-row array '${key}' has no width in ROW_FIELD_WIDTHS (src/trainer/batch.ts)`);
    const width = widthOf(key, batch);
    const length = (value as RowArray).length;
    if (length !== rows * width) {
      const unit = { sequence: `P + R = ${P} + ${R}`, response: `R = ${R}`, prompt: `P = ${P}`, one: '1' }[ROW_FIELD_WIDTHS[key]];
      throw new RangeError(`${what}: ${key} has ${length} values, expected ${rows} rows × ${unit} = ${rows * width}`);
    }
  }
  return batch;
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
  const responseLengths = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const ids = prompts[r]!.ids;
    const start = P - ids.length;
    for (let j = 0; j < ids.length; j++) {
      inputIds[r * S + start + j] = ids[j]!;
      attentionMask[r * S + start + j] = 1;
      promptMask[r * P + start + j] = 1;
      positionIds[r * S + start + j] = j;
    }
    let length = 0;
    for (let t = 0; t < R; t++) {
      const inWidth = t < width;
      const id = inWidth ? args.responseIds[r * width + t]! : padTokenId;
      const m = inWidth ? args.responseMask[r * width + t]! : 0;
      responses[r * R + t] = id;
      responseMask[r * R + t] = m;
      inputIds[r * S + P + t] = id;
      attentionMask[r * S + P + t] = m;
      positionIds[r * S + P + t] = ids.length + t;
      length += m;
    }
    responseLengths[r] = length;
  }
  return checkBatch({
    rows, promptLength: P, responseLength: R, inputIds, attentionMask, positionIds, responses, responseMask, promptMask,
    responseLengths, prompts, uid: args.uid, rewardBaselines: null,
  }, 'rollout batch');
}

/** Rows `index` of a [rows, width] array. */
export function takeRows<A extends RowArray>(a: A, width: number, index: readonly number[]): A {
  const out = new (a.constructor as new (n: number) => A)(index.length * width);
  index.forEach((row, i) => out.set(a.subarray(row * width, row * width + width), i * width));
  return out;
}

/** The response token ids of row `r` (its valid tokens only). */
export function responseIdsOf(batch: Pick<RolloutBatch, 'responses' | 'responseLength' | 'responseLengths'>, r: number): number[] {
  const start = r * batch.responseLength;
  return Array.from(batch.responses.subarray(start, start + batch.responseLengths[r]!));
}
