/**
 * A recorded training-step batch (scripts/record-rl-batch.mjs writes it; assets/bench holds `npm
 * start`'s step 1): real variable-length rollouts with their GRPO advantages, read back into the
 * trainer's padded StepBatch layout. The old log-probs are not stored: a replay recomputes them (that
 * is the phase it times) and compares each row's sum with the recorded one.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { assembleBatch, checkBatch, type StepBatch } from '../trainer/batch.js';

export const RL_BATCH_SCHEMA = 'tinyzero-rl-batch/1';

/** The recorded batch's fields that hold one entry per row. */
export const RECORDED_ROW_KEYS = ['uid', 'taskScores', 'advantages', 'oldLogProbSums', 'promptIds', 'responseIds'] as const;

/** The actor settings of the recorded run (veRL's keys, camelCased). */
export interface RecordedActor {
  ppoMiniBatchSize: number;
  /** null: the whole mini-batch at once (veRL's null). */
  ppoMicroBatchSize: number | null;
  ppoEpochs: number;
  clipRatio: number;
  entropyCoeff: number;
  gradClip: number;
  lossAggMode: string;
  lr: number;
  betas: [number, number];
  weightDecay: number;
}

export interface RecordedBatch {
  schema: typeof RL_BATCH_SCHEMA;
  source: { config: string; step: number; commit: string; threads: number | null; date: string };
  /** The model folder, relative to the package root. */
  model: string;
  promptLength: number;
  responseLength: number;
  padTokenId: number;
  temperature: number;
  /** Samples per prompt: the actor's batch sizes are in prompts and scale by n, as in veRL. */
  n: number;
  /** null: every row in one forward. */
  logProbMicroBatchSize: number | null;
  actor: RecordedActor;
  rows: number;
  uid: number[];
  taskScores: number[];
  /** Each row's advantage, the same on each of its valid tokens (GRPO). */
  advantages: number[];
  /** Each row's summed old log-prob as the recording run computed it (4 decimals). */
  oldLogProbSums: number[];
  promptIds: number[][];
  /** Valid response tokens only (up to and including the first eos). */
  responseIds: number[][];
}

function fail(file: string, what: string): never {
  throw new Error(`${file}: ${what}`);
}

/** Reads a recorded batch, checking the fields a replay relies on. */
export function readRecordedBatch(file: string): RecordedBatch {
  let r: RecordedBatch;
  try {
    r = JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as RecordedBatch;
  } catch (e) {
    fail(file, `expected a gzipped JSON recorded batch (scripts/record-rl-batch.mjs): ${(e as Error).message}`);
  }
  if (r.schema !== RL_BATCH_SCHEMA) fail(file, `schema is ${JSON.stringify(r.schema)}, expected ${JSON.stringify(RL_BATCH_SCHEMA)}`);
  for (const key of RECORDED_ROW_KEYS) {
    if (!Array.isArray(r[key]) || r[key].length !== r.rows) fail(file, `'${key}' must have one entry per row (${r.rows})`);
  }
  r.promptIds.forEach((ids, i) => {
    if (ids.length > r.promptLength) fail(file, `row ${i}: ${ids.length} prompt tokens, more than promptLength ${r.promptLength}`);
  });
  r.responseIds.forEach((ids, i) => {
    if (ids.length > r.responseLength) fail(file, `row ${i}: ${ids.length} response tokens, more than responseLength ${r.responseLength}`);
  });
  return r;
}

/**
 * The first `rows` rows (default all) as the trainer's StepBatch: the padded layout from
 * assembleBatch, token-level advantages (the row's value on its valid tokens), old log-probs zero
 * until a replay computes them, and zeros in the fields an actor update does not read.
 */
export function toStepBatch(r: RecordedBatch, rows = r.rows): StepBatch {
  if (!Number.isInteger(rows) || rows < 1 || rows > r.rows) throw new RangeError(`toStepBatch: rows must be 1..${r.rows}, got ${rows}`);
  const R = r.responseLength;
  const responseIds = new Int32Array(rows * R).fill(r.padTokenId);
  const responseMask = new Float32Array(rows * R);
  const advantages = new Float32Array(rows * R);
  for (let i = 0; i < rows; i++) {
    const ids = r.responseIds[i]!;
    responseIds.set(ids, i * R);
    responseMask.fill(1, i * R, i * R + ids.length);
    advantages.fill(r.advantages[i]!, i * R, i * R + ids.length);
  }
  const prompts = r.promptIds.slice(0, rows).map((ids, index) => ({ ids, text: '', dataSource: 'recorded', groundTruth: null, index }));
  const rollout = assembleBatch({
    prompts, uid: r.uid.slice(0, rows), promptLength: r.promptLength, responseLength: R, responseIds, responseMask, width: R, padTokenId: r.padTokenId,
  });
  const perToken = (): Float32Array => new Float32Array(rows * R);
  return checkBatch({
    ...rollout,
    tokenLevelScores: perToken(), taskScores: Float64Array.from(r.taskScores.slice(0, rows)), overlongPenalties: null,
    oldLogProb: perToken(), refLogProb: null, tokenLevelRewards: perToken(), rowKl: null, values: null,
    advantages, returns: advantages.slice(),
  }, 'recorded batch');
}
