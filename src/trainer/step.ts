/**
 * One PPO/GRPO training step in veRL's order (docs/verl-compat.md#step-order): generate (n per prompt) and recompute old
 * log-probs, reference log-probs, values, rewards, KL in reward, advantages, critic update, actor
 * update after `critic_warmup`, validation when due; then one flat metrics dict. Each phase is
 * timed as `timing_s/{name}`. With DAPO dynamic sampling (`algorithm.filter_groups.enable`) the
 * generation phase draws and scores several generation batches and keeps the groups whose metric
 * varies (dynamic-sampling.ts); the rest of the step is the same on the kept batch.
 */
import { computeDataMetrics } from '../rl/index.js';
import { updatePolicy } from './actor.js';
import { updateBatching } from './batching.js';
import { checkBatch, type KlRewards, type RolloutBatch, type SampledBatch, type Scores, type StepBatch } from './batch.js';
import { updateCritic } from './critic.js';
import { collectFilteredBatch, filterMetricValues, type DynamicSamplingResult } from './dynamic-sampling.js';
import type { FitContext } from './fit.js';
import { advantagePhase, generatePhase, klPhase, oldLogProbPhase, refPhase, scorePhase, valuesPhase } from './phases.js';
import { batchBehaviorMetrics } from './reward.js';
import { Timer } from './timer.js';
import { validate, type ValidationResult } from './validate.js';

/** Greedy validation over the validation set; records a `validation` event and returns its `val/*` metrics, samples and batch. */
export async function runValidation(ctx: FitContext, step: number): Promise<ValidationResult> {
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
  return result;
}

/**
 * DAPO dynamic sampling: generation batches from `firstGenBatch` on, each generated (timed as
 * 'gen') and scored ('reward'), filtered on `filter_groups.metric` and joined until the step has
 * train_batch_size groups. With seq_final_reward and KL in the reward, the log-probs and the KL
 * penalty are computed here, before filtering, and the kept rows keep them: each row's penalty is
 * computed once, at the step's β.
 */
async function samplePhase(ctx: FitContext, timer: Timer, firstGenBatch: number): Promise<DynamicSamplingResult<SampledBatch>> {
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
    generate: async (genBatch) => {
      const rollout = await timer.time('gen', () => generatePhase(ctx, genBatch));
      let oldLogProb: Float32Array | null = null;
      let refLogProb: Float32Array | null = null;
      if (klFirst) {
        oldLogProb = await timer.time('gen', () => oldLogProbPhase(ctx, rollout));
        refLogProb = await timer.time('ref', () => refPhase(ctx, rollout));
      }
      const scores = await timer.time('reward', async () => scorePhase(ctx, rollout));
      const kl: KlRewards | null = oldLogProb && refLogProb
        ? klPhase(ctx, { tokenLevelScores: scores.tokenLevelScores, oldLogProb, refLogProb, responseMask: rollout.responseMask, responseLength: rollout.responseLength })
        : null;
      const batch: SampledBatch = checkBatch({
        ...rollout, ...scores, oldLogProb, refLogProb, tokenLevelRewards: kl?.tokenLevelRewards ?? null, rowKl: kl?.rowKl ?? null,
      }, `generation batch ${genBatch}`);
      return {
        batch,
        metric: filterMetricValues(metric, {
          rows: batch.rows, responseLength: batch.responseLength, taskScores: scores.taskScores,
          tokenLevelScores: scores.tokenLevelScores, tokenLevelRewards: batch.tokenLevelRewards,
        }),
      };
    },
  });
}

function timingMetrics(batch: StepBatch, timing: Record<string, number>): Record<string, number> {
  const responseTokens = batch.responseLengths.reduce((s, v) => s + v, 0);
  const allTokens = responseTokens + batch.promptMask.reduce((s, v) => s + v, 0);
  const out: Record<string, number> = {};
  for (const [name, seconds] of Object.entries(timing)) out[`timing_s/${name}`] = seconds;
  for (const [name, seconds] of Object.entries(timing)) {
    if (name === 'step' || name === 'testing' || name === 'save_checkpoint') continue;
    out[`timing_per_token_ms/${name}`] = (seconds * 1000) / Math.max(1, name === 'gen' ? responseTokens : allTokens);
  }
  return out;
}

/**
 * One training step; returns its metrics and its batch. The step validates when `test_freq` says
 * so, and on the last step of the run. The checkpoint is written by the caller after the metrics
 * are logged, so a checkpoint never exists without its step's record; its duration is reported
 * with the next step (`previousSaveSeconds`).
 */
export async function trainStep(ctx: FitContext, step: number, genBatchesBefore: number, previousSaveSeconds: number | null): Promise<{
  metrics: Record<string, number>;
  batch: StepBatch;
  /** The data loader's position after this step. */
  genBatches: number;
  /** The step's validation when it ran one. */
  validation: ValidationResult | null;
}> {
  const { run, config } = ctx;
  // The pooled device buffers of one phase (the rollout's KV cache, the log-prob passes' logits, the
  // update's activations) go back to the device before the next phase allocates its own.
  const timer = new Timer(ctx.progress, () => run.backend.trimPool?.());
  const metrics: Record<string, number> = {};
  const stepStart = performance.now();
  // Remote rollouts generate with this step's weights: the servers load them first (timed with 'gen', as veRL's weight sync is).
  const remote = run.remote;
  if (remote) await timer.time('gen', () => remote.syncWeights(step, run.actor, config.actor_rollout_ref.model.path));
  let rollout: RolloutBatch;
  // Under dynamic sampling: what was computed before filtering (always the scores).
  let sampled: SampledBatch | null = null;
  let genBatches = genBatchesBefore;
  if (config.algorithm.filter_groups.enable) {
    const result = await samplePhase(ctx, timer, genBatchesBefore + 1);
    rollout = sampled = result.batch;
    genBatches += result.numGenBatches;
    metrics['train/num_gen_batches'] = result.numGenBatches;
    metrics['train/num_gen_prompts'] = result.numGenPrompts;
    metrics['train/num_kept_prompts'] = result.numKeptPrompts;
  } else {
    rollout = await timer.time('gen', () => generatePhase(ctx, genBatchesBefore + 1));
    genBatches += 1;
  }
  const oldLogProb = sampled?.oldLogProb ?? await timer.time('gen', () => oldLogProbPhase(ctx, rollout));
  const refLogProb = run.ref ? (sampled?.refLogProb ?? await timer.time('ref', () => refPhase(ctx, rollout))) : null;
  const values = run.critic ? await timer.time('values', () => valuesPhase(ctx, rollout)) : null;
  // Dynamic sampling scored before filtering; otherwise the rewards are timed with 'adv', as veRL does.
  const scores: Scores = sampled ?? await timer.time('adv', async () => scorePhase(ctx, rollout));
  const kl: KlRewards | null = sampled?.tokenLevelRewards && sampled.rowKl ? { tokenLevelRewards: sampled.tokenLevelRewards, rowKl: sampled.rowKl } : null;
  const { batch, metrics: advMetrics } = await timer.time('adv', async () => advantagePhase(ctx, { rollout, scores, oldLogProb, refLogProb, values, kl }));
  Object.assign(metrics, advMetrics);
  if (run.critic) {
    const critic = run.critic;
    Object.assign(metrics, await timer.time('update_critic', () => updateCritic(critic.model, critic.optimizer, batch, {
      ...updateBatching(config, 'critic'), cliprangeValue: config.critic.cliprange_value, lossAggMode: config.actor_rollout_ref.actor.loss_agg_mode,
      seed: config.trainer.seed * 131 + step, step,
    })));
    critic.scheduler.step();
  }
  if (config.trainer.critic_warmup <= step) {
    const a = config.actor_rollout_ref.actor;
    Object.assign(metrics, await timer.time('update_actor', () => updatePolicy(run.actor.model, run.actor.optimizer, batch, {
      ...updateBatching(config, 'actor'),
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
  let validation: ValidationResult | null = null;
  if (config.trainer.test_freq > 0 && run.val.length > 0 && (step % config.trainer.test_freq === 0 || lastStep)) {
    validation = await timer.time('testing', () => runValidation(ctx, step));
    Object.assign(metrics, validation.metrics);
  }
  timer.timing.step = (performance.now() - stepStart) / 1000;
  if (previousSaveSeconds !== null) timer.timing.save_checkpoint = previousSaveSeconds;
  Object.assign(metrics, computeDataMetrics({
    tokenLevelScores: batch.tokenLevelScores, tokenLevelRewards: batch.tokenLevelRewards, advantages: batch.advantages,
    returns: batch.returns, responseMask: batch.responseMask, responseLength: batch.responseLength, promptMask: batch.promptMask,
    values: batch.values ?? undefined,
  }));
  Object.assign(metrics, timingMetrics(batch, timer.timing));
  // The task's behaviour metrics of the responses trained on (tasks/behavior.ts); none for tasks without them.
  Object.assign(metrics, batchBehaviorMetrics(batch, run.tokenizer, (name) => `behavior/${name}`));
  return { metrics, batch, genBatches, validation };
}
