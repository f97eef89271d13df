/**
 * The PPO/GRPO loop in veRL's step order (spec 3.2): generate (n per prompt) and recompute old
 * log-probs, reference log-probs, values, rewards, KL in reward, advantages, critic update, actor
 * update after `critic_warmup`, validation every `test_freq` steps, checkpoint every `save_freq`
 * steps, then one flat metrics dict per step. Each phase is its own function and is timed as
 * `timing_s/{name}`. With DAPO dynamic sampling (`algorithm.filter_groups.enable`) the generation
 * phase draws and scores several generation batches and keeps the groups whose metric varies
 * (dynamic-sampling.ts); the rest of the step is the same on the kept batch.
 */
import { join } from 'node:path';
import type { TinyZeroConfig } from '../config/types.js';
import { applyKlPenalty, computeAdvantage, computeDataMetrics, overlongPenalty } from '../rl/index.js';
import type { ProgressDisplay, Tracker } from '../tracking/index.js';
import { computeLogProbs, updatePolicy } from './actor.js';
import { responseLengths, type RolloutBatch } from './batch.js';
import { collectFilteredBatch, filterMetricValues, type GeneratedBatch } from './dynamic-sampling.js';
import { listCheckpoints, readTrainerState, restoreTrainingState, saveCheckpoint } from './checkpoint.js';
import { restoreAdapters } from './lora-actor.js';
import { computeValues, updateCritic } from './critic.js';
import { computeTokenLevelScores, rowSums, type RewardFn } from './reward.js';
import { rollout } from './rollout.js';
import { epochPrompts } from './schedule.js';
import type { RunSetup } from './setup.js';
import { validate } from './validate.js';
import { loadCausalLM, loadValueModel } from '../models/load.js';
import { copyParameters } from '../nn/index.js';

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
}

class Timer {
  readonly timing: Record<string, number> = {};
  constructor(private readonly progress: ProgressDisplay | null) {}
  async time<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.progress?.phase(name);
    const start = performance.now();
    try {
      return await fn();
    } finally {
      this.timing[name] = (this.timing[name] ?? 0) + (performance.now() - start) / 1000;
    }
  }
}

/**
 * Loads the latest complete checkpoint when resume_mode is auto; returns the step it holds and the
 * data loader's position (generation batches drawn).
 */
export function resumeIfAny(ctx: FitContext): { step: number; genBatches: number } | null {
  if (ctx.config.trainer.resume_mode !== 'auto') return null;
  const latest = listCheckpoints(ctx.runDir).at(-1);
  if (!latest) return null;
  const state = readTrainerState(latest.dir);
  const { run } = ctx;
  const maxPositions = ctx.config.data.max_prompt_length + ctx.config.data.max_response_length;
  // Weights come from the checkpoint folders into the models already built.
  if (run.actor.lora) {
    restoreAdapters(run.actor.lora, latest.dir);
  } else {
    const actor = loadCausalLM(join(latest.dir, 'actor'), { backend: run.backend, maxPositions });
    copyParameters(actor, run.actor.model);
    actor.dispose();
  }
  if (run.critic) {
    const critic = loadValueModel(join(latest.dir, 'critic'), { backend: run.backend, maxPositions });
    copyParameters(critic, run.critic.model);
    critic.dispose();
  }
  restoreTrainingState(latest.dir, state, run.actor, run.critic);
  if ('value' in run.klCtrl) (run.klCtrl as { value: number }).value = state.klCoef;
  ctx.log(`resumed from ${latest.dir} (step ${state.globalStep})`);
  return { step: state.globalStep, genBatches: state.genBatches ?? state.globalStep };
}

async function runValidation(ctx: FitContext, step: number): Promise<Record<string, number>> {
  const { run, config } = ctx;
  const result = await validate(run.actor.model, run.tokenizer, run.val, {
    promptLength: config.data.max_prompt_length,
    responseLength: config.data.max_response_length,
    chunk: config.data.val_batch_size,
    rewardFn: ctx.rewardFn,
    eosTokenIds: run.eosTokenIds,
    padTokenId: run.padTokenId,
  });
  ctx.tracker.event('validation', { step, metrics: result.metrics, samples: result.samples });
  return result.metrics;
}

/**
 * Rollout of generation batch `genBatch` (1-based over the run: the data loader's position; the
 * step number when every step draws one batch), with ReMax's greedy baselines.
 */
async function generateBatch(ctx: FitContext, genBatch: number): Promise<RolloutBatch> {
  const { run, config } = ctx;
  const r = config.actor_rollout_ref.rollout;
  const prompts = epochPrompts(run.train, run.genBatchSize, run.stepsPerEpoch, genBatch, config.trainer.seed);
  const common = {
    topK: r.top_k, topP: r.top_p, ignoreEos: r.ignore_eos,
    promptLength: config.data.max_prompt_length, responseLength: config.data.max_response_length,
    eosTokenIds: run.eosTokenIds, padTokenId: run.padTokenId, chunk: r.micro_batch_size,
  };
  const batch = await rollout(run.actor.model, prompts, {
    ...common, n: r.n, temperature: r.do_sample ? r.temperature : 0, seed: config.trainer.seed * 65_537 + genBatch,
    onProgress: (_done, _total, tokens) => ctx.progress?.addTokens(tokens),
  });
  if (config.algorithm.adv_estimator === 'remax') {
    // ReMax's baseline: the score of a greedy response to the same prompt.
    const greedy = await rollout(run.actor.model, prompts, { ...common, n: 1, temperature: 0, seed: 0 });
    const baseline = rowSums(computeTokenLevelScores(greedy, run.tokenizer, ctx.rewardFn), greedy.rows, greedy.responseLength);
    batch.rewardBaselines = Float32Array.from(batch.uid, (u) => baseline[u]!);
  }
  return batch;
}

/** Old log-probs: the actor's recomputed log-probs of the sampled responses (veRL times them inside 'gen'). */
async function oldLogProbPhase(ctx: FitContext, batch: RolloutBatch): Promise<void> {
  const r = ctx.config.actor_rollout_ref.rollout;
  batch.oldLogProb = (await computeLogProbs(ctx.run.actor.model, batch, r.log_prob_micro_batch_size ?? batch.rows, r.temperature)).logp;
}

async function refPhase(ctx: FitContext, batch: RolloutBatch): Promise<void> {
  const { run, config } = ctx;
  const micro = config.actor_rollout_ref.ref.log_prob_micro_batch_size ?? batch.rows;
  batch.refLogProb = (await computeLogProbs(run.ref!, batch, micro, config.actor_rollout_ref.rollout.temperature)).logp;
}

/** Each row's DAPO overlong penalty: linear over the last `len` tokens before the maximum. */
function overlongPenalties(ctx: FitContext, batch: RolloutBatch, lengths = responseLengths(batch)): number[] {
  const ob = ctx.config.reward_model.overlong_buffer;
  return lengths.map((len) => overlongPenalty(len, batch.responseLength, ob.len, ob.penalty_factor));
}

/**
 * token_level_scores: the reward function's scores plus the overlong penalty on the last valid
 * token (DAPO's reward manager adds it to the score). Returns each row's task score (Σ before the
 * penalty), the `acc`/`score` of dynamic sampling.
 */
function scorePhase(ctx: FitContext, batch: RolloutBatch): number[] {
  const R = batch.responseLength;
  const scores = computeTokenLevelScores(batch, ctx.run.tokenizer, ctx.rewardFn);
  const taskScores = rowSums(scores, batch.rows, R);
  if (ctx.config.reward_model.overlong_buffer.enable) {
    const lengths = responseLengths(batch);
    overlongPenalties(ctx, batch, lengths).forEach((penalty, r) => {
      const len = lengths[r]!;
      scores[r * R + (len > 0 ? len - 1 : R - 1)]! += penalty;
    });
  }
  batch.tokenLevelScores = scores;
  return taskScores;
}

function advantagePhase(ctx: FitContext, batch: RolloutBatch): Record<string, number> {
  const { run, config } = ctx;
  const R = batch.responseLength;
  const metrics: Record<string, number> = {};
  // Under dynamic sampling the rows were scored before filtering.
  if (!batch.tokenLevelScores) scorePhase(ctx, batch);
  const tokenLevelScores = batch.tokenLevelScores!;
  const ob = config.reward_model.overlong_buffer;
  if (ob.enable && ob.log) {
    metrics['critic/overlong_penalty/mean'] = overlongPenalties(ctx, batch).reduce((s, p) => s + p, 0) / batch.rows;
  }
  if (run.klInReward && batch.refLogProb) {
    const kl = applyKlPenalty({
      tokenLevelScores, oldLogProb: batch.oldLogProb!, refLogProb: batch.refLogProb,
      responseMask: batch.responseMask, responseLength: R,
    }, run.klCtrl, config.algorithm.kl_penalty);
    batch.tokenLevelRewards = kl.tokenLevelRewards;
    Object.assign(metrics, kl.metrics);
  } else {
    batch.tokenLevelRewards = tokenLevelScores;
    if (run.klInReward) Object.assign(metrics, { 'critic/kl': 0, 'critic/kl_coeff': 0 });
  }
  const adv = computeAdvantage(config.algorithm.adv_estimator, {
    tokenLevelRewards: batch.tokenLevelRewards, responseMask: batch.responseMask, responseLength: R,
    values: batch.values, index: batch.uid, rewardBaselines: batch.rewardBaselines, gamma: config.algorithm.gamma, lam: config.algorithm.lam,
    normAdvByStdInGrpo: config.algorithm.norm_adv_by_std_in_grpo,
  });
  batch.advantages = Float32Array.from(adv.advantages);
  batch.returns = Float32Array.from(adv.returns);
  return metrics;
}

function batchingFor(ctx: FitContext, role: 'actor' | 'critic'): { miniBatchRows: number; microBatchRows: number; useDynamicBsz: boolean; maxTokenLen: number; epochs: number; shuffle: boolean; gradClip: number } {
  const n = ctx.config.actor_rollout_ref.rollout.n;
  const c = role === 'actor' ? ctx.config.actor_rollout_ref.actor : ctx.config.critic;
  // Quirk 7 fixed: the critic's sizes are in prompts, like the actor's, so both scale by n.
  const mini = c.ppo_mini_batch_size * n;
  return {
    miniBatchRows: mini,
    microBatchRows: (c.ppo_micro_batch_size ?? c.ppo_mini_batch_size) * n,
    useDynamicBsz: c.use_dynamic_bsz,
    maxTokenLen: c.ppo_max_token_len_per_gpu,
    epochs: c.ppo_epochs,
    shuffle: c.shuffle,
    gradClip: c.grad_clip,
  };
}

function sampleRecords(ctx: FitContext, batch: RolloutBatch, count: number): { prompt: string; response: string; score: number; dataSource: string }[] {
  const R = batch.responseLength;
  const scores = rowSums(batch.tokenLevelScores!, batch.rows, R);
  return Array.from({ length: Math.min(count, batch.rows) }, (_, i) => {
    const r = Math.floor((i * batch.rows) / Math.min(count, batch.rows));
    let len = 0;
    for (let t = 0; t < R; t++) len += batch.responseMask[r * R + t]!;
    return {
      prompt: batch.prompts[r]!.text,
      response: ctx.run.tokenizer.decode(Array.from(batch.responses.subarray(r * R, r * R + len))),
      score: scores[r]!,
      dataSource: batch.prompts[r]!.dataSource,
    };
  });
}

/**
 * DAPO dynamic sampling: generation batches from `firstGenBatch` on, each generated (timed as
 * 'gen') and scored ('reward'), filtered on `filter_groups.metric` and joined until the step has
 * train_batch_size groups.
 */
async function samplePhase(ctx: FitContext, timer: Timer, firstGenBatch: number): Promise<Awaited<ReturnType<typeof collectFilteredBatch>>> {
  const { run, config } = ctx;
  const fg = config.algorithm.filter_groups;
  const metric = fg.metric;
  if (metric === null) throw new Error('algorithm.filter_groups.metric must be set when filter_groups.enable is true');
  // seq_final_reward includes the KL penalty, which needs old and reference log-probs of every
  // generated row (the recipe computes them before filtering in that case too).
  const klFirst = metric === 'seq_final_reward' && run.klInReward && run.ref !== null;
  return collectFilteredBatch({
    firstGenBatch,
    trainBatchSize: config.data.train_batch_size,
    n: config.actor_rollout_ref.rollout.n,
    maxNumGenBatches: fg.max_num_gen_batches,
    generate: async (genBatch): Promise<GeneratedBatch> => {
      const batch = await timer.time('gen', () => generateBatch(ctx, genBatch));
      if (klFirst) {
        await timer.time('gen', () => oldLogProbPhase(ctx, batch));
        await timer.time('ref', () => refPhase(ctx, batch));
      }
      const taskScores = await timer.time('reward', async () => scorePhase(ctx, batch));
      let tokenLevelRewards: Float32Array | null = null;
      if (klFirst) {
        // The step's β, read without updating the controller: that happens once, on the kept batch.
        const frozen = { value: run.klCtrl.value, update: () => {} };
        tokenLevelRewards = applyKlPenalty({
          tokenLevelScores: batch.tokenLevelScores!, oldLogProb: batch.oldLogProb!, refLogProb: batch.refLogProb!,
          responseMask: batch.responseMask, responseLength: batch.responseLength,
        }, frozen, config.algorithm.kl_penalty).tokenLevelRewards;
      }
      return {
        batch,
        metric: filterMetricValues(metric, {
          rows: batch.rows, responseLength: batch.responseLength, taskScores, tokenLevelScores: batch.tokenLevelScores!, tokenLevelRewards,
        }),
      };
    },
  });
}

/**
 * One training step; returns its metrics. The step validates when `test_freq` says so, and on the
 * last step of the run. The checkpoint is written by the caller after the metrics are logged, so a
 * checkpoint never exists without its step's record; its duration is reported with the next step
 * (`previousSaveSeconds`).
 */
async function trainStep(ctx: FitContext, step: number, genBatchesBefore: number, previousSaveSeconds: number | null): Promise<{
  metrics: Record<string, number>;
  batch: RolloutBatch;
  /** The data loader's position after this step. */
  genBatches: number;
}> {
  const { run, config } = ctx;
  const timer = new Timer(ctx.progress);
  const metrics: Record<string, number> = {};
  const stepStart = performance.now();
  let batch: RolloutBatch;
  let genBatches = genBatchesBefore;
  if (config.algorithm.filter_groups.enable) {
    const sampled = await samplePhase(ctx, timer, genBatchesBefore + 1);
    batch = sampled.batch;
    genBatches += sampled.numGenBatches;
    metrics['train/num_gen_batches'] = sampled.numGenBatches;
    metrics['train/num_gen_prompts'] = sampled.numGenPrompts;
    metrics['train/num_kept_prompts'] = sampled.numKeptPrompts;
  } else {
    batch = await timer.time('gen', () => generateBatch(ctx, genBatchesBefore + 1));
    genBatches += 1;
  }
  const trained = batch;
  if (!trained.oldLogProb) await timer.time('gen', () => oldLogProbPhase(ctx, trained));
  if (run.ref && !trained.refLogProb) await timer.time('ref', () => refPhase(ctx, trained));
  if (run.critic) {
    const critic = run.critic;
    batch.values = await timer.time('values', () => computeValues(critic.model, batch, config.critic.forward_micro_batch_size ?? batch.rows));
  }
  Object.assign(metrics, await timer.time('adv', async () => advantagePhase(ctx, batch)));
  if (run.critic) {
    const critic = run.critic;
    Object.assign(metrics, await timer.time('update_critic', () => updateCritic(critic.model, critic.optimizer, batch, {
      ...batchingFor(ctx, 'critic'), cliprangeValue: config.critic.cliprange_value, lossAggMode: config.actor_rollout_ref.actor.loss_agg_mode,
      seed: config.trainer.seed * 131 + step, step,
    })));
    critic.scheduler.step();
  }
  if (config.trainer.critic_warmup <= step) {
    const a = config.actor_rollout_ref.actor;
    Object.assign(metrics, await timer.time('update_actor', () => updatePolicy(run.actor.model, run.actor.optimizer, batch, {
      ...batchingFor(ctx, 'actor'),
      temperature: config.actor_rollout_ref.rollout.temperature,
      seed: config.trainer.seed * 131 + step,
      step,
      loss: {
        clipRatio: a.clip_ratio, clipRatioLow: a.clip_ratio_low ?? undefined, clipRatioHigh: a.clip_ratio_high ?? undefined,
        clipRatioC: a.clip_ratio_c ?? undefined, entropyCoeff: a.entropy_coeff, useKlLoss: a.use_kl_loss,
        klLossCoef: a.kl_loss_coef, klLossType: a.kl_loss_type, lossAggMode: a.loss_agg_mode,
        agg: { lossScaleFactor: a.loss_scale_factor ?? undefined },
      },
    })));
    run.actor.scheduler.step();
  }
  const lastStep = step === run.totalSteps;
  if (config.trainer.test_freq > 0 && run.val.length > 0 && (step % config.trainer.test_freq === 0 || lastStep)) {
    Object.assign(metrics, await timer.time('testing', () => runValidation(ctx, step)));
  }
  timer.timing.step = (performance.now() - stepStart) / 1000;
  if (previousSaveSeconds !== null) timer.timing.save_checkpoint = previousSaveSeconds;
  Object.assign(metrics, computeDataMetrics({
    tokenLevelScores: batch.tokenLevelScores!, tokenLevelRewards: batch.tokenLevelRewards!, advantages: batch.advantages!,
    returns: batch.returns!, responseMask: batch.responseMask, responseLength: batch.responseLength, promptMask: batch.promptMask,
    values: batch.values,
  }));
  Object.assign(metrics, timingMetrics(batch, timer.timing));
  return { metrics, batch, genBatches };
}

function timingMetrics(batch: RolloutBatch, timing: Record<string, number>): Record<string, number> {
  const responseTokens = batch.responseMask.reduce((s, v) => s + v, 0);
  const allTokens = responseTokens + batch.promptMask.reduce((s, v) => s + v, 0);
  const out: Record<string, number> = {};
  for (const [name, seconds] of Object.entries(timing)) out[`timing_s/${name}`] = seconds;
  for (const [name, seconds] of Object.entries(timing)) {
    if (name === 'step' || name === 'testing' || name === 'save_checkpoint') continue;
    out[`timing_per_token_ms/${name}`] = (seconds * 1000) / Math.max(1, name === 'gen' ? responseTokens : allTokens);
  }
  return out;
}

async function checkpoint(ctx: FitContext, step: number, genBatches: number): Promise<string> {
  const { run, config } = ctx;
  const dir = await saveCheckpoint(ctx.runDir, step, {
    actor: run.actor, critic: run.critic, klCoef: run.klCtrl.value, genBatches, tokenizerDir: config.actor_rollout_ref.model.path,
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
  if (resumedFrom === null && config.trainer.val_before_train && run.val.length > 0) {
    ctx.progress?.phase('testing');
    initialValidation = await runValidation(ctx, 0);
    tracker.log(initialValidation, 0);
    if (config.trainer.val_only) return { firstStep, lastStep: 0, resumedFrom, initialValidation, finalValidation: initialValidation, lastCheckpoint: null, seconds: (performance.now() - start) / 1000, lastMetrics: null };
  }
  let finalValidation: Record<string, number> | null = null;
  let lastCheckpoint: string | null = listCheckpoints(ctx.runDir).at(-1)?.dir ?? null;
  let lastMetrics: Record<string, number> | null = null;
  let saveSeconds: number | null = null;
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
  return { firstStep, lastStep: run.totalSteps, resumedFrom, initialValidation, finalValidation, lastCheckpoint, seconds: (performance.now() - start) / 1000, lastMetrics };
}

