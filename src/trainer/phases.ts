/**
 * The phases of a training step that compute per-row data (veRL's step order, docs/verl-compat.md#step-order): rollout,
 * old and reference log-probs, values, reward, KL in the reward, advantages. Each returns what it
 * computes; the step assembles the results into its batch once (step.ts).
 */
import { computeAdvantage, klPenalizedRewards, updateKlController } from '../rl/index.js';
import { computeLogProbs } from './actor.js';
import { logProbBatching, valuesBatching } from './batching.js';
import { checkBatch, type KlRewards, type RolloutBatch, type Scores, type StepBatch } from './batch.js';
import { computeValues } from './critic.js';
import type { FitContext } from './fit.js';
import { computeTokenLevelScores, rowSums, scoreBatch } from './reward.js';
import { rollout, type RolloutOptions } from './rollout.js';
import { epochPrompts } from './schedule.js';

/**
 * Rollout of generation batch `genBatch` (1-based over the run: the data loader's position; the
 * step number when every step draws one batch), with ReMax's greedy baselines.
 */
export async function generatePhase(ctx: FitContext, genBatch: number): Promise<RolloutBatch> {
  const { run, config } = ctx;
  const r = config.actor_rollout_ref.rollout;
  const prompts = epochPrompts(run.train, run.genBatchSize, run.stepsPerEpoch, genBatch, config.trainer.seed);
  const common = {
    topK: r.top_k, topP: r.top_p, ignoreEos: r.ignore_eos,
    promptLength: config.data.max_prompt_length, responseLength: config.data.max_response_length,
    eosTokenIds: run.eosTokenIds, padTokenId: run.padTokenId, chunk: r.micro_batch_size,
  };
  // On inference servers when the run has them (remote-rollout.ts), else the built-in generator.
  const generate = (options: RolloutOptions): Promise<RolloutBatch> => (run.remote ? run.remote.rollout(prompts, options) : rollout(run.actor.model, prompts, options));
  const batch = await generate({
    ...common, n: r.n, temperature: r.do_sample ? r.temperature : 0, seed: config.trainer.seed * 65_537 + genBatch,
    onProgress: (_done, _total, tokens) => ctx.progress?.addTokens(tokens),
  });
  if (config.algorithm.adv_estimator !== 'remax') return batch;
  // ReMax's baseline: the score of a greedy response to the same prompt.
  const greedy = await generate({ ...common, n: 1, temperature: 0, seed: 0 });
  const baseline = rowSums(computeTokenLevelScores(greedy, run.tokenizer, ctx.rewardFn), greedy.rows, greedy.responseLength);
  return checkBatch({ ...batch, rewardBaselines: Float32Array.from(batch.uid, (u) => baseline[u]!) }, 'rollout batch');
}

/** Old log-probs: the actor's recomputed log-probs of the sampled responses (veRL times them inside 'gen'). */
export async function oldLogProbPhase(ctx: FitContext, batch: RolloutBatch): Promise<Float32Array> {
  const micro = logProbBatching(ctx.config, 'rollout', batch.rows);
  return (await computeLogProbs(ctx.run.actor.model, batch, micro, ctx.config.actor_rollout_ref.rollout.temperature)).logp;
}

/** Reference log-probs; the run must have a reference policy. */
export async function refPhase(ctx: FitContext, batch: RolloutBatch): Promise<Float32Array> {
  const { run, config } = ctx;
  if (!run.ref) throw new Error('refPhase: the run has no reference policy');
  const micro = logProbBatching(config, 'ref', batch.rows);
  return (await computeLogProbs(run.ref, batch, micro, config.actor_rollout_ref.rollout.temperature)).logp;
}

/** The critic's values of the rollout; the run must have a critic. */
export async function valuesPhase(ctx: FitContext, batch: RolloutBatch): Promise<Float32Array> {
  const { run, config } = ctx;
  if (!run.critic) throw new Error('valuesPhase: the run has no critic');
  return computeValues(run.critic.model, batch, valuesBatching(config, batch.rows));
}

/** token_level_scores with DAPO's overlong shaping, and the task scores before it (reward.ts). */
export function scorePhase(ctx: FitContext, batch: RolloutBatch): Scores {
  return scoreBatch(batch, ctx.run.tokenizer, ctx.rewardFn, ctx.config.reward_model.overlong_buffer);
}

/**
 * The KL penalty in the reward at the step's β, without updating the controller: that happens once
 * a step, on the batch it trains on (advantagePhase).
 */
export function klPhase(ctx: FitContext, b: { tokenLevelScores: Float32Array; oldLogProb: Float32Array; refLogProb: Float32Array; responseMask: Float32Array; responseLength: number }): KlRewards {
  return klPenalizedRewards(b, ctx.run.klCtrl.value, ctx.config.algorithm.kl_penalty);
}

/** What the step has computed about its rows when the advantages are due. */
export interface AdvantageInputs {
  rollout: RolloutBatch;
  scores: Scores;
  oldLogProb: Float32Array;
  refLogProb: Float32Array | null;
  values: Float32Array | null;
  /** The KL penalty computed before filtering (dynamic sampling on seq_final_reward); null: computed here when it applies. */
  kl: KlRewards | null;
}

/**
 * KL in the reward (the controller updated once, on this batch) and advantages; returns the step's
 * whole batch, built and size-checked here, and the phase's metrics.
 */
export function advantagePhase(ctx: FitContext, x: AdvantageInputs): { batch: StepBatch; metrics: Record<string, number> } {
  const { run, config } = ctx;
  const { rollout: b, scores, oldLogProb, refLogProb } = x;
  const R = b.responseLength;
  const metrics: Record<string, number> = {};
  const ob = config.reward_model.overlong_buffer;
  if (ob.enable && ob.log && scores.overlongPenalties) {
    metrics['critic/overlong_penalty/mean'] = scores.overlongPenalties.reduce((s, p) => s + p, 0) / b.rows;
  }
  let kl: Pick<StepBatch, 'tokenLevelRewards' | 'rowKl'> = { tokenLevelRewards: scores.tokenLevelScores, rowKl: null };
  if (run.klInReward && refLogProb) {
    // β has not moved since a penalty computed before filtering: the controller updates only here.
    const beta = run.klCtrl.value;
    const penalty = x.kl ?? klPhase(ctx, { tokenLevelScores: scores.tokenLevelScores, oldLogProb, refLogProb, responseMask: b.responseMask, responseLength: R });
    Object.assign(metrics, updateKlController(penalty.rowKl, beta, run.klCtrl));
    kl = penalty;
  } else if (run.klInReward) {
    Object.assign(metrics, { 'critic/kl': 0, 'critic/kl_coeff': 0 });
  }
  const adv = computeAdvantage(config.algorithm.adv_estimator, {
    tokenLevelRewards: kl.tokenLevelRewards, responseMask: b.responseMask, responseLength: R,
    values: x.values ?? undefined, index: b.uid, rewardBaselines: b.rewardBaselines ?? undefined,
    gamma: config.algorithm.gamma, lam: config.algorithm.lam, normAdvByStdInGrpo: config.algorithm.norm_adv_by_std_in_grpo,
  });
  const batch: StepBatch = checkBatch({
    ...b, ...scores, oldLogProb, refLogProb, values: x.values, ...kl,
    advantages: Float32Array.from(adv.advantages), returns: Float32Array.from(adv.returns),
  }, 'step batch');
  return { batch, metrics };
}
