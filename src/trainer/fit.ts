/**
 * The PPO/GRPO loop: resume from the latest checkpoint when asked, validate before the first step,
 * run the steps (step.ts) with their metrics, samples and checkpoints, and validate after the last.
 */
import type { TinyZeroConfig } from '../config/types.js';
import type { ProgressDisplay, Tracker } from '../tracking/index.js';
import { decodeGenerated } from '../tokenizer/index.js';
import { responseIdsOf, type StepBatch } from './batch.js';
import { readTrainerState, restoreTrainingState, saveCheckpoint } from './checkpoint.js';
import { rowSums, type RewardFn } from './reward.js';
import type { RunSetup } from './setup.js';
import { runValidation, trainStep } from './step.js';
import { readStoryBefore, saveStoryBefore, storyLines, storySampleLines, storyState, writeStory, type StoryState } from './story.js';

export interface FitContext {
  config: TinyZeroConfig;
  run: RunSetup;
  tracker: Tracker;
  progress: ProgressDisplay | null;
  rewardFn: RewardFn;
  /** Checkpoint and metrics folder (trainer.default_local_dir). */
  runDir: string;
  log: (line: string) => void;
}

export interface FitSummary {
  firstStep: number;
  lastStep: number;
  resumedFrom: number | null;
  /** Validation metrics before the first step (absent on resume) and after the last. */
  initialValidation: Record<string, number> | null;
  finalValidation: Record<string, number> | null;
  lastCheckpoint: string | null;
  seconds: number;
  /** The metrics of the last step this run trained (null when it trained none). */
  lastMetrics: Record<string, number> | null;
  /**
   * Greedy responses to the first validation problems and the validation metrics before training
   * (from the run folder on resume; null when not recorded) and after the last step (story.ts);
   * null when the last step did not validate.
   */
  story: { before: StoryState | null; after: StoryState } | null;
}

/**
 * Restores the training state of the checkpoint the run's models were loaded from (setupRun's
 * resumeFrom); returns the step it holds and the data loader's position (generation batches drawn).
 */
export function resumeIfAny(ctx: FitContext): { step: number; genBatches: number } | null {
  const { run } = ctx;
  if (!run.resumeFrom) return null;
  const state = readTrainerState(run.resumeFrom);
  restoreTrainingState(run.resumeFrom, state, run.actor, run.critic);
  // An adaptive controller continues from its saved coefficient; a fixed one takes the config's.
  if (ctx.config.algorithm.kl_ctrl.type === 'adaptive') run.klCtrl.loadStateDict({ klCoef: state.klCoef });
  ctx.log(`resumed from ${run.resumeFrom} (step ${state.globalStep})`);
  return { step: state.globalStep, genBatches: state.genBatches ?? state.globalStep };
}

function sampleRecords(ctx: FitContext, batch: StepBatch, count: number): { prompt: string; response: string; score: number; dataSource: string }[] {
  const scores = rowSums(batch.tokenLevelScores, batch.rows, batch.responseLength);
  return Array.from({ length: Math.min(count, batch.rows) }, (_, i) => {
    const r = Math.floor((i * batch.rows) / Math.min(count, batch.rows));
    return {
      prompt: batch.prompts[r]!.text,
      response: decodeGenerated(ctx.run.tokenizer, responseIdsOf(batch, r)),
      score: scores[r]!,
      dataSource: batch.prompts[r]!.dataSource,
    };
  });
}

/** The before-state saved at step 0; a damaged one is named and left as it is, and the run goes on without it. */
function savedStoryBefore(ctx: FitContext): StoryState | null {
  try {
    return readStoryBefore(ctx.runDir);
  } catch (e) {
    ctx.log(`warning: ${(e as Error).message}; this run's story will have no before-side`);
    return null;
  }
}

async function checkpoint(ctx: FitContext, step: number, genBatches: number): Promise<string> {
  const { run, config } = ctx;
  const dir = await saveCheckpoint(ctx.runDir, step, {
    actor: run.actor, critic: run.critic, klCoef: run.klCtrl.stateDict().klCoef, genBatches, tokenizerDir: config.actor_rollout_ref.model.path,
    criticBaseDir: config.critic.model.path,
  }, { actor: config.trainer.max_actor_ckpt_to_keep, critic: config.trainer.max_critic_ckpt_to_keep });
  return dir;
}

export async function fit(ctx: FitContext): Promise<FitSummary> {
  const { config, run, tracker } = ctx;
  const start = performance.now();
  const resumed = resumeIfAny(ctx);
  const resumedFrom = resumed?.step ?? null;
  const firstStep = (resumedFrom ?? 0) + 1;
  // Generation batches drawn so far: where the data loader continues.
  let genBatches = resumed?.genBatches ?? 0;
  let initialValidation: Record<string, number> | null = null;
  // The story's before-side: a resumed run's comes from the folder, saved there at step 0.
  let storyBefore: StoryState | null = resumedFrom === null ? null : savedStoryBefore(ctx);
  if (resumedFrom === null && config.trainer.val_before_train && run.val.length > 0) {
    ctx.progress?.phase('testing');
    const validation = await runValidation(ctx, 0);
    initialValidation = validation.metrics;
    tracker.log(initialValidation, 0);
    storyBefore = storyState(0, validation);
    saveStoryBefore(ctx.runDir, storyBefore);
    if (config.trainer.val_only) return { firstStep, lastStep: 0, resumedFrom, initialValidation, finalValidation: initialValidation, lastCheckpoint: null, seconds: (performance.now() - start) / 1000, lastMetrics: null, story: null };
    for (const line of storySampleLines(`greedy responses to the first ${storyBefore.samples.length} held-out problems before training:`, storyBefore)) ctx.log(line);
  }
  let finalValidation: Record<string, number> | null = null;
  let lastCheckpoint: string | null = run.resumeFrom;
  let lastMetrics: Record<string, number> | null = null;
  let saveSeconds: number | null = null;
  let storyAfter: StoryState | null = null;
  for (let step = firstStep; step <= run.totalSteps; step++) {
    ctx.progress?.startStep(step);
    const result = await trainStep(ctx, step, genBatches, saveSeconds);
    const { metrics, batch } = result;
    genBatches = result.genBatches;
    tracker.log(metrics, step);
    const samples = sampleRecords(ctx, batch, Math.max(2, config.trainer.log_samples));
    tracker.event('samples', { step, split: 'train', samples: samples.slice(0, 2) });
    // A few sampled responses on the log, one line each, so a run shows what the policy writes.
    for (const sample of samples.slice(0, config.trainer.log_samples)) {
      ctx.log(`  sample (step ${step}, score ${sample.score.toFixed(1)}): ${JSON.stringify(sample.response)}`);
    }
    lastMetrics = metrics;
    const valKeys = Object.keys(metrics).filter((k) => k.startsWith('val/'));
    if (valKeys.length > 0) finalValidation = Object.fromEntries(valKeys.map((k) => [k, metrics[k]!]));
    if (result.validation && step === run.totalSteps) storyAfter = storyState(step, result.validation);
    saveSeconds = null;
    const saveFreq = config.trainer.save_freq;
    if (saveFreq > 0 && (step % saveFreq === 0 || step === run.totalSteps)) {
      ctx.progress?.phase('save_checkpoint');
      const t0 = performance.now();
      lastCheckpoint = await checkpoint(ctx, step, genBatches);
      saveSeconds = (performance.now() - t0) / 1000;
    }
    ctx.progress?.endStep(step);
  }
  let story: FitSummary['story'] = null;
  if (storyAfter) {
    story = { before: storyBefore, after: storyAfter };
    writeStory(ctx.runDir, storyBefore, storyAfter, { firstStep, lastStep: run.totalSteps, resumedFrom });
    for (const line of storyLines(storyBefore, storyAfter)) ctx.log(line);
  }
  return { firstStep, lastStep: run.totalSteps, resumedFrom, initialValidation, finalValidation, lastCheckpoint, seconds: (performance.now() - start) / 1000, lastMetrics, story };
}

