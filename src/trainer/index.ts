/** The PPO/GRPO trainer: the fit loop and its phases, checkpoints with resume, validation. */
export { train, rewardFnOf, type TrainOptions } from './train.js';
export { fit, type FitContext, type FitSummary } from './fit.js';
export { setupRun, disposeRun, type RunSetup } from './setup.js';
export { saveCheckpoint, listCheckpoints, readTrainerState, type TrainerState } from './checkpoint.js';
export { validate, type ValidationResult } from './validate.js';
export { rollout, type RolloutOptions } from './rollout.js';
export { computeTokenLevelScores, type RewardFn } from './reward.js';
export { loadPromptDataset, type PromptRow } from './dataset.js';
export { NonFiniteError } from './metrics-accumulator.js';
export type { RolloutBatch, ScoredBatch, SampledBatch, StepBatch } from './batch.js';
