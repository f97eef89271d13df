/**
 * Routes a sample to its reward function by `data_source`, exactly as TinyZero's
 * `_select_rm_score_fn` does: two exact names, then substring tests, else not implemented.
 */
import * as countdown from './countdown.js';
import * as gsm8k from './gsm8k.js';
import * as math from './math.js';
import * as multiply from './multiply.js';

export type ScoreFn = (solutionStr: string, groundTruth: unknown) => number;

/**
 * `reward_model.reward_fn`: how the trainer scores a response. `data_source` routes each row by
 * its data_source as below (one outcome score); `digit_completion` is veRL's e2e dense per-token
 * reward (digit-completion.ts). The one list (the config's schema reads it).
 */
export const rewardFns = ['data_source', 'digit_completion'] as const;
export type RewardFn = (typeof rewardFns)[number];

export function selectRmScoreFn(dataSource: string): ScoreFn {
  if (dataSource === gsm8k.GSM8K_DATA_SOURCE) return gsm8k.computeScore;
  if (dataSource === math.MATH_DATA_SOURCE) return math.computeScore;
  if (dataSource.includes('multiply') || dataSource.includes('arithmetic')) return multiply.computeScore;
  if (dataSource.includes('countdown')) return (s, gt) => countdown.computeScore(s, gt as countdown.CountdownGroundTruth);
  throw new Error(`no reward function for data_source ${JSON.stringify(dataSource)}: expected 'openai/gsm8k', 'lighteval/MATH', or one containing 'multiply', 'arithmetic' or 'countdown'`);
}

/** Scores one decoded prompt+response string (special tokens kept) against its ground truth. */
export function computeScore(dataSource: string, solutionStr: string, groundTruth: unknown): number {
  return selectRmScoreFn(dataSource)(solutionStr, groundTruth);
}
