/**
 * The run config: one typed object whose tree and snake_case keys are veRL's `ppo_trainer.yaml`
 * (docs/verl-compat.md#defaults), so `key.path=value` overrides written for TinyZero name the same fields here.
 * Defaults live in schema.ts only; this file is the shape. Keys marked "ignored" are accepted so
 * TinyZero's scripts parse, and listed with their reason in ignored.ts.
 */

/** Any value YAML or a Hydra override can produce. */
export type YamlValue = null | boolean | number | string | YamlValue[] | YamlMap;
export interface YamlMap {
  [key: string]: YamlValue;
}

import type { DeviceName } from '../backend/devices.js';
import type { AdvEstimator, KlCtrlType, KlPenaltyType, LossAggMode } from '../rl/index.js';
import type { RewardFn } from '../tasks/index.js';

// The enumerations that other layers implement are declared there, once, and read here.
/** `algorithm.adv_estimator` (TinyZero: gae | grpo; the rest from upstream veRL, docs/verl-compat.md#newer-algorithms). */
export type { AdvEstimator };
/** `algorithm.kl_penalty` / `actor.kl_loss_type`; k1 = kl, k2 = mse, k3 = low_var_kl, `+` = straight-through. `full` is refused, as in veRL. */
export type { KlPenaltyType };
export type { LossAggMode, KlCtrlType };
export type WarmupStyle = 'constant' | 'cosine';
export type ResumeMode = 'auto' | 'disable';
/** console, jsonl and dashboard run here; veRL's online trackers are accepted and skipped with a warning (src/tracking). */
export type LoggerBackend = 'console' | 'jsonl' | 'dashboard' | 'wandb' | 'tracking' | 'mlflow' | 'swanlab' | 'tensorboard' | 'vemlp_wandb' | 'clearml';
/** How rewards are computed: by data_source (TinyZero's routing) or veRL's e2e digit-completion dense reward. */
export type RewardFnName = RewardFn;
export type Device = DeviceName;
export type RolloutName = 'vllm' | 'hf' | 'sglang';
export type RolloutDtype = 'bfloat16' | 'float16' | 'float32';
export type Strategy = 'fsdp';
/** DAPO `filter_groups.metric`: the per-trajectory value whose spread decides whether a group is kept. */
export type FilterGroupsMetric = 'acc' | 'score' | 'seq_reward' | 'seq_final_reward';

export interface DataConfig {
  /** ignored */
  tokenizer: string | null;
  /** one parquet path or a list (veRL accepts both) */
  train_files: string | string[];
  val_files: string | string[];
  prompt_key: string;
  max_prompt_length: number;
  max_response_length: number;
  /** prompts per training step */
  train_batch_size: number;
  /** prompts per validation generation chunk (TinyZero ignored it: docs/verl-compat.md#ignored-keys); null = the whole set */
  val_batch_size: number | null;
  /** ignored */
  return_raw_input_ids: boolean;
  /** ignored */
  return_raw_chat: boolean;
  /** DAPO dynamic sampling: prompts per generation batch; null = train_batch_size (added, docs/verl-compat.md#dapo) */
  gen_batch_size: number | null;
  /** docs/verl-compat.md#no-chat-template: TinyZero uses the prompt text as is; true renders the tokenizer's chat template (added) */
  apply_chat_template: boolean;
}

export interface FsdpWrapPolicy {
  min_num_params: number;
}
/** All of it ignored: one process, no sharding. */
export interface ActorFsdpConfig {
  wrap_policy: FsdpWrapPolicy;
  param_offload: boolean;
  grad_offload: boolean;
  optimizer_offload: boolean;
  fsdp_size: number;
}
export interface RefFsdpConfig {
  param_offload: boolean;
  wrap_policy: FsdpWrapPolicy;
  fsdp_size: number;
}
export interface RewardModelFsdpConfig {
  min_num_params: number;
  param_offload: boolean;
}

export interface OptimConfig {
  lr: number;
  /** warmup steps = int(ratio · total_training_steps) */
  lr_warmup_steps_ratio: number;
  /** cosine floor as a fraction of lr; null = 0 (honoured here: docs/verl-compat.md#ignored-keys) */
  min_lr_ratio: number | null;
  warmup_style: WarmupStyle;
  /** -1 = injected by the trainer from the data size and total_epochs */
  total_training_steps: number;
  /** AdamW betas (veRL reads them with .get) */
  betas: [number, number];
  weight_decay: number;
}

export interface ActorModelConfig {
  path: string;
  /** ignored: no Python modules are imported */
  external_lib: string | null;
  /** merged over the checkpoint's config.json (open map: `+...override_config.key=value`) */
  override_config: YamlMap;
  enable_gradient_checkpointing: boolean;
  /** pack each micro-batch's valid tokens into one sequence (variable-length attention) */
  use_remove_padding: boolean;
  /** the output layer and log-probs a chunk of tokens at a time (no micro-batch-wide logits) */
  use_fused_kernels: boolean;
  /** ignored: no remote code is ever run */
  trust_remote_code: boolean;
  /** LoRA rank; 0 = off (full fine-tuning) */
  lora_rank: number;
  /** updates scaled by lora_alpha / lora_rank */
  lora_alpha: number;
  /** 'all-linear' or HF module names */
  target_modules: string | string[];
}

export interface ActorConfig {
  strategy: Strategy;
  /** global, in prompts (× rollout.n responses) */
  ppo_mini_batch_size: number;
  /** global, in prompts; sets gradient accumulation; null only with use_dynamic_bsz */
  ppo_micro_batch_size: number | null;
  use_dynamic_bsz: boolean;
  ppo_max_token_len_per_gpu: number;
  grad_clip: number;
  clip_ratio: number;
  /** DAPO clip-higher: lower ε; null = clip_ratio */
  clip_ratio_low: number | null;
  /** DAPO clip-higher: upper ε; null = clip_ratio */
  clip_ratio_high: number | null;
  /** dual-clip constant c > 1; null = TinyZero's loss (no dual clip) */
  clip_ratio_c: number | null;
  loss_agg_mode: LossAggMode;
  /** seq-mean-token-sum-norm constant; null = max response length */
  loss_scale_factor: number | null;
  entropy_coeff: number;
  use_kl_loss: boolean;
  kl_loss_coef: number;
  kl_loss_type: KlPenaltyType;
  /** honoured here (docs/verl-compat.md#ignored-keys) */
  ppo_epochs: number;
  /** honoured here (docs/verl-compat.md#ignored-keys): reshuffle rows between epochs */
  shuffle: boolean;
  ulysses_sequence_parallel_size: number;
  optim: OptimConfig;
  fsdp_config: ActorFsdpConfig;
}

export interface RefConfig {
  fsdp_config: RefFsdpConfig;
  log_prob_micro_batch_size: number | null;
  log_prob_use_dynamic_bsz: boolean;
  log_prob_max_token_len_per_gpu: number;
  ulysses_sequence_parallel_size: number;
}

export interface RolloutConfig {
  /** vllm | sglang with server_urls: generation on those servers (docs/distributed.md); otherwise the built-in generator */
  name: RolloutName;
  temperature: number;
  /** -1 (vllm) or 0 (hf) = off */
  top_k: number;
  top_p: number;
  prompt_length: number;
  response_length: number;
  dtype: RolloutDtype;
  gpu_memory_utilization: number;
  ignore_eos: boolean;
  enforce_eager: boolean;
  free_cache_engine: boolean;
  load_format: string;
  tensor_model_parallel_size: number;
  max_num_batched_tokens: number;
  max_num_seqs: number;
  log_prob_micro_batch_size: number | null;
  log_prob_use_dynamic_bsz: boolean;
  log_prob_max_token_len_per_gpu: number;
  do_sample: boolean;
  /** responses per prompt (> 1 for GRPO) */
  n: number;
  /** prompts per generation chunk (veRL's hf rollout key, used by its e2e test); null = the whole batch */
  micro_batch_size: number | null;
  /** inference servers (http://host:port) that generate instead of the built-in generator; [] = local */
  server_urls: string[];
  /** the environment variable holding the servers' API key (sent as a Bearer token); null = none */
  server_api_key_env: string | null;
  /** seconds one request to a server may take before the server counts as failed */
  server_timeout: number;
  /** requests in flight per server */
  server_concurrency: number;
  /** where the weights for the servers are written (a path they can read); null = <trainer.default_local_dir>/rollout_weights */
  server_weights_dir: string | null;
}

export interface ActorRolloutRefConfig {
  hybrid_engine: boolean;
  model: ActorModelConfig;
  actor: ActorConfig;
  ref: RefConfig;
  rollout: RolloutConfig;
}

export interface CriticModelConfig {
  path: string;
  tokenizer_path: string;
  override_config: YamlMap;
  external_lib: string | null;
  enable_gradient_checkpointing: boolean;
  use_remove_padding: boolean;
  trust_remote_code: boolean;
  /** LoRA on the critic's backbone (the value head trains in full); 0 = off */
  lora_rank: number;
  lora_alpha: number;
  target_modules: string | string[];
  fsdp_config: ActorFsdpConfig;
}

export interface CriticConfig {
  strategy: Strategy;
  optim: OptimConfig;
  model: CriticModelConfig;
  /** same units as the actor: prompts (docs/verl-compat.md#critic-batch-units) */
  ppo_mini_batch_size: number;
  ppo_micro_batch_size: number | null;
  forward_micro_batch_size: number | null;
  use_dynamic_bsz: boolean;
  ppo_max_token_len_per_gpu: number;
  forward_max_token_len_per_gpu: number;
  ulysses_sequence_parallel_size: number;
  ppo_epochs: number;
  shuffle: boolean;
  grad_clip: number;
  cliprange_value: number;
}

export interface RewardModelSubConfig {
  input_tokenizer: string;
  path: string;
  external_lib: string | null;
  use_remove_padding: boolean;
  fsdp_config: RewardModelFsdpConfig;
}

/** DAPO overlong reward shaping (docs/verl-compat.md#dapo). */
export interface OverlongBufferConfig {
  enable: boolean;
  /** the last `len` tokens before max_response_length get a linear penalty */
  len: number;
  penalty_factor: number;
  /** log the penalty as a metric */
  log: boolean;
}

export interface RewardModelConfig {
  /** model-based rewards are not supported: must stay false */
  enable: boolean;
  /** rule reward routing (added): 'data_source' as TinyZero, or 'digit_completion' for veRL's e2e task */
  reward_fn: RewardFnName;
  strategy: Strategy;
  model: RewardModelSubConfig;
  micro_batch_size: number;
  max_length: number | null;
  ulysses_sequence_parallel_size: number;
  use_dynamic_bsz: boolean;
  forward_max_token_len_per_gpu: number;
  overlong_buffer: OverlongBufferConfig;
}

export interface KlCtrlConfig {
  type: KlCtrlType;
  kl_coef: number;
  /** adaptive only (in the schema here, veRL needed `+`: docs/verl-compat.md#adaptive-kl-keys) */
  horizon: number;
  target_kl: number;
}

/** DAPO dynamic sampling (docs/verl-compat.md#dapo). */
export interface FilterGroupsConfig {
  enable: boolean;
  metric: FilterGroupsMetric | null;
  /** give up (an error) after this many generation batches in one step; ≤ 0 = unlimited */
  max_num_gen_batches: number;
}

export interface AlgorithmConfig {
  gamma: number;
  lam: number;
  adv_estimator: AdvEstimator;
  /** GRPO divides by the group std; false = Dr. GRPO */
  norm_adv_by_std_in_grpo: boolean;
  /** null = TinyZero's rule: KL in the reward exactly when actor.use_kl_loss is false */
  use_kl_in_reward: boolean | null;
  kl_penalty: KlPenaltyType;
  kl_ctrl: KlCtrlConfig;
  filter_groups: FilterGroupsConfig;
}

export interface TrainerConfig {
  total_epochs: number;
  /** null = len(train dataloader) · total_epochs */
  total_training_steps: number | null;
  project_name: string;
  experiment_name: string;
  logger: LoggerBackend[];
  nnodes: number;
  n_gpus_per_node: number;
  /** ≤ 0 = never */
  save_freq: number;
  /** ≤ 0 = never */
  test_freq: number;
  critic_warmup: number;
  default_hdfs_dir: string | null;
  default_local_dir: string;
  val_before_train: boolean;
  val_only: boolean;
  /** compute backend (added) */
  device: Device;
  /** CPU worker threads; null = auto (added) */
  threads: number | null;
  /** storage of frozen weights (the reference policy): f16 on webgpu with shader-f16, else f32 (added) */
  frozen_weight_dtype: 'f32' | 'f16';
  /** auto = continue from the latest complete checkpoint (added; docs/verl-compat.md#resume) */
  resume_mode: ResumeMode;
  /** with resume_mode=disable: start over in a folder holding a run, moving that run aside (added) */
  overwrite_run_dir: boolean;
  /** resume although keys an exact resume needs changed (added) */
  resume_allow_changes: boolean;
  /** null = keep all (added) */
  max_actor_ckpt_to_keep: number | null;
  max_critic_ckpt_to_keep: number | null;
  /** data order, sampling and init (added) */
  seed: number;
  /** live dashboard on 127.0.0.1 at this port (0 = any free port); null = only when logger lists 'dashboard' (added) */
  dashboard_port: number | null;
  /** sampled training responses printed to the log each step (added) */
  log_samples: number;
}

/** `tinyzero sft` (added; veRL's fsdp_sft_trainer): causal-LM training on text or prompt/response pairs. */
export interface SftConfig {
  /** parquet or JSONL file(s) */
  train_files: string | string[];
  /** null = no eval loss */
  val_files: string | string[] | null;
  /** column of plain-text rows (loss on every token); rows without it use prompt_key + response_key */
  text_key: string;
  prompt_key: string;
  /** loss only on these tokens */
  response_key: string;
  /** tokens per example; longer examples are cut at the end */
  max_length: number;
  /** append the tokenizer's EOS to every example */
  add_eos: boolean;
  /** examples per optimizer step */
  train_batch_size: number;
  /** examples per forward/backward; gradients accumulate over the step */
  micro_batch_size: number;
  total_epochs: number;
  /** null = steps per epoch · total_epochs */
  total_training_steps: number | null;
  optim: OptimConfig;
  grad_clip: number;
  /** eval loss every N steps; ≤ 0 = never */
  test_freq: number;
  /** checkpoint every N steps; ≤ 0 = only at the end */
  save_freq: number;
  /** null = keep all */
  max_ckpt_to_keep: number | null;
  model: {
    /** HF folder: its weights, or random init (seeded by trainer.seed) when it has only config.json + tokenizer */
    path: string;
    /** each layer's output kept, the rest recomputed in the backward */
    enable_gradient_checkpointing: boolean;
  };
}

/** The whole run config. */
export interface TinyZeroConfig {
  data: DataConfig;
  actor_rollout_ref: ActorRolloutRefConfig;
  critic: CriticConfig;
  reward_model: RewardModelConfig;
  algorithm: AlgorithmConfig;
  trainer: TrainerConfig;
  sft: SftConfig;
}
