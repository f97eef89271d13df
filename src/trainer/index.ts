/** The PPO/GRPO trainer: the fit loop and its phases, checkpoints with resume, validation. */
export { train, rewardFnOf, type TrainOptions, type TrainResult } from './train.js';
export { fit, type FitContext, type FitSummary } from './fit.js';
export { setupRun, loadRunData, disposeRun, type RunSetup, type RunData, type SetupOptions } from './setup.js';
export { saveCheckpoint, listCheckpoints, readTrainerState, trainerStore, TRAINER_STATE_FILE, type TrainerState } from './checkpoint.js';
export { TRAIN_RESUME_RULES } from './resume-rules.js';
export { validate, type ValidationResult } from './validate.js';
export { rollout, type RolloutOptions } from './rollout.js';
export { computeTokenLevelScores, batchBehaviorMetrics, type RewardFn } from './reward.js';
export { accuracyLines, behaviorLines, readStoryBefore, STORY_BEFORE_FILE, STORY_FILE, SUMMARY_FILE, type StorySample, type StoryState } from './story.js';
export { loadPromptDataset, type PromptRow } from './dataset.js';
export { NonFiniteError } from './metrics-accumulator.js';
export type { RolloutBatch, ScoredBatch, SampledBatch, StepBatch } from './batch.js';
