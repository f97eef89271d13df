/**
 * The micro-batching of each pass, read from the run config in veRL's keys: the actor and critic
 * updates (`ppo_micro_batch_size`, `ppo_max_token_len_per_gpu`), the old and reference log-probs
 * (`log_prob_*`) and the critic's values (`forward_*`). Each names its token budget's key, so that a
 * budget too small for a row is reported under the key that set it.
 */
import type { TinyZeroConfig } from '../config/types.js';
import type { BatchingOptions, MicroBatching } from './ppo-update.js';

/** The actor's or critic's update: mini-batches of `ppo_mini_batch_size` prompts, then micro-batches. */
export function updateBatching(config: TinyZeroConfig, role: 'actor' | 'critic'): BatchingOptions {
  const n = config.actor_rollout_ref.rollout.n;
  const c = role === 'actor' ? config.actor_rollout_ref.actor : config.critic;
  const model = role === 'actor' ? config.actor_rollout_ref.model : config.critic.model;
  // docs/verl-compat.md#critic-batch-units: the critic's sizes are in prompts, like the actor's, so both scale by n.
  const mini = c.ppo_mini_batch_size * n;
  return {
    miniBatchRows: mini,
    microBatchRows: (c.ppo_micro_batch_size ?? c.ppo_mini_batch_size) * n,
    useDynamicBsz: c.use_dynamic_bsz,
    maxTokenLen: c.ppo_max_token_len_per_gpu,
    budgetKey: `${role === 'actor' ? 'actor_rollout_ref.actor' : 'critic'}.ppo_max_token_len_per_gpu`,
    removePadding: model.use_remove_padding,
    ...(role === 'actor' ? { fusedKernels: config.actor_rollout_ref.model.use_fused_kernels } : {}),
    epochs: c.ppo_epochs,
    shuffle: c.shuffle,
    gradClip: c.grad_clip,
  };
}

/** A log-prob pass over `rows` rows: the old log-probs (rollout's keys) or the reference's (ref's). */
export function logProbBatching(config: TinyZeroConfig, role: 'rollout' | 'ref', rows: number): MicroBatching {
  const arr = config.actor_rollout_ref;
  const c = role === 'rollout' ? arr.rollout : arr.ref;
  return {
    microBatchRows: c.log_prob_micro_batch_size ?? rows,
    useDynamicBsz: c.log_prob_use_dynamic_bsz,
    maxTokenLen: c.log_prob_max_token_len_per_gpu,
    budgetKey: `actor_rollout_ref.${role}.log_prob_max_token_len_per_gpu`,
    removePadding: arr.model.use_remove_padding,
    fusedKernels: arr.model.use_fused_kernels,
  };
}

/** The critic's values over `rows` rows. */
export function valuesBatching(config: TinyZeroConfig, rows: number): MicroBatching {
  const c = config.critic;
  return {
    microBatchRows: c.forward_micro_batch_size ?? rows,
    useDynamicBsz: c.use_dynamic_bsz,
    maxTokenLen: c.forward_max_token_len_per_gpu,
    budgetKey: 'critic.forward_max_token_len_per_gpu',
    removePadding: c.model.use_remove_padding,
  };
}
