/** Facts the trainer derives from the config, stated once so every caller agrees with veRL. */
import type { TinyZeroConfig } from './types.js';

/** A critic is built only for GAE (docs/verl-compat.md#trainer-setup). */
export function usesCritic(c: TinyZeroConfig): boolean {
  return c.algorithm.adv_estimator === 'gae';
}

/** KL goes into the reward when asked, else by TinyZero's rule: exactly when there is no KL loss. */
export function klInReward(c: TinyZeroConfig): boolean {
  return c.algorithm.use_kl_in_reward ?? !c.actor_rollout_ref.actor.use_kl_loss;
}

/**
 * The frozen reference model is needed when a KL term can matter. A fixed in-reward β of 0 needs
 * none: that is how veRL's e2e test runs without a RefPolicy (critic/kl is then logged as 0).
 */
export function usesReferencePolicy(c: TinyZeroConfig): boolean {
  const ctrl = c.algorithm.kl_ctrl;
  const rewardKl = klInReward(c) && (ctrl.type === 'adaptive' || ctrl.kl_coef > 0);
  return rewardKl || c.actor_rollout_ref.actor.use_kl_loss;
}

/**
 * Prompts per data-loader batch: train_batch_size, or under DAPO dynamic sampling
 * data.gen_batch_size (default train_batch_size), where a step may draw several such batches.
 */
export function genBatchSize(c: TinyZeroConfig): number {
  return c.algorithm.filter_groups.enable ? (c.data.gen_batch_size ?? c.data.train_batch_size) : c.data.train_batch_size;
}

/** Responses per step: prompts × n. */
export function responsesPerStep(c: TinyZeroConfig): number {
  return c.data.train_batch_size * c.actor_rollout_ref.rollout.n;
}

/** The effective PPO clip bounds (ε_low, ε_high): DAPO's keys when set, else clip_ratio. */
export function clipBounds(c: TinyZeroConfig): { low: number; high: number } {
  const a = c.actor_rollout_ref.actor;
  return { low: a.clip_ratio_low ?? a.clip_ratio, high: a.clip_ratio_high ?? a.clip_ratio };
}

/** Generation runs on inference servers (docs/distributed.md): rollout.name vllm or sglang with server_urls. */
export function usesRemoteRollout(c: TinyZeroConfig): boolean {
  const r = c.actor_rollout_ref.rollout;
  return r.name !== 'hf' && r.server_urls.length > 0;
}
