/**
 * Which config changes a resumed SFT run applies (see resumeApplies in src/checkpoint): the LR and
 * its schedule, optimizer hyperparameters, gradient clipping, micro-batch size, eval, logging and
 * checkpoint cadence, the number of steps. Refused without trainer.resume_allow_changes: the data,
 * how it is cut into examples and batches, the model, the seed, and every sft key not named here.
 */
export const SFT_RESUME_RULES: readonly string[] = [
  '!trainer.seed', 'trainer.*',
  'sft.val_files', 'sft.micro_batch_size', 'sft.total_epochs', 'sft.total_training_steps', 'sft.optim.*', 'sft.grad_clip',
  'sft.test_freq', 'sft.save_freq', 'sft.max_ckpt_to_keep', 'sft.model.enable_gradient_checkpointing',
  // The RL sections play no part in an SFT run.
  'data.*', 'actor_rollout_ref.*', 'critic.*', 'reward_model.*', 'algorithm.*',
];
