/**
 * Which config changes a resumed PPO/GRPO run applies (see resumeApplies in src/checkpoint): the
 * LR and its schedule, optimizer and loss hyperparameters, micro-batch sizes, sampling settings,
 * validation, logging and checkpoint cadence. Refused without trainer.resume_allow_changes:
 * anything the saved state or the data order depends on (data, batch and mini-batch sizes, the
 * model, seed, n, estimator, KL placement, dynamic sampling) and every key not named here.
 */
export const TRAIN_RESUME_RULES: readonly string[] = [
  '!trainer.seed', 'trainer.*',
  'data.val_files', 'data.val_batch_size', 'data.return_raw_input_ids', 'data.return_raw_chat',
  'actor_rollout_ref.hybrid_engine',
  'actor_rollout_ref.model.enable_gradient_checkpointing', 'actor_rollout_ref.model.use_remove_padding', 'actor_rollout_ref.model.use_fused_kernels',
  'actor_rollout_ref.model.trust_remote_code',
  'actor_rollout_ref.actor.optim.*', 'actor_rollout_ref.actor.fsdp_config.*', 'actor_rollout_ref.actor.strategy',
  'actor_rollout_ref.actor.ppo_micro_batch_size', 'actor_rollout_ref.actor.use_dynamic_bsz', 'actor_rollout_ref.actor.ppo_max_token_len_per_gpu',
  'actor_rollout_ref.actor.grad_clip', 'actor_rollout_ref.actor.clip_ratio', 'actor_rollout_ref.actor.clip_ratio_low',
  'actor_rollout_ref.actor.clip_ratio_high', 'actor_rollout_ref.actor.clip_ratio_c', 'actor_rollout_ref.actor.loss_agg_mode',
  'actor_rollout_ref.actor.loss_scale_factor', 'actor_rollout_ref.actor.entropy_coeff', 'actor_rollout_ref.actor.kl_loss_coef',
  'actor_rollout_ref.actor.kl_loss_type', 'actor_rollout_ref.actor.ulysses_sequence_parallel_size',
  'actor_rollout_ref.ref.*',
  '!actor_rollout_ref.rollout.n', 'actor_rollout_ref.rollout.*',
  'critic.optim.*', 'critic.model.fsdp_config.*', 'critic.model.enable_gradient_checkpointing', 'critic.model.use_remove_padding',
  'critic.model.trust_remote_code', 'critic.strategy', 'critic.ppo_micro_batch_size', 'critic.forward_micro_batch_size', 'critic.use_dynamic_bsz',
  'critic.ppo_max_token_len_per_gpu', 'critic.forward_max_token_len_per_gpu', 'critic.ulysses_sequence_parallel_size', 'critic.grad_clip',
  'critic.cliprange_value',
  '!reward_model.enable', '!reward_model.reward_fn', 'reward_model.*',
  'algorithm.gamma', 'algorithm.lam', 'algorithm.norm_adv_by_std_in_grpo', 'algorithm.kl_penalty', 'algorithm.kl_ctrl.kl_coef',
  'algorithm.kl_ctrl.horizon', 'algorithm.kl_ctrl.target_kl', 'algorithm.filter_groups.metric', 'algorithm.filter_groups.max_num_gen_batches',
  // The SFT job's section plays no part in an RL run.
  'sft.*',
];
