/**
 * The one place the defaults live: TinyZero's `verl/trainer/config/ppo_trainer.yaml` (docs/verl-compat.md#defaults),
 * including its `${...}` links, so an override of `data.max_response_length` also moves
 * `rollout.response_length` as it does in veRL. Keys TinyZero lacks are marked `added`.
 */
import { bool, either, field, type LeafSpec, float, int, listOf, nullable, oneOf, openMap, pair, str, type Section } from './fields.js';
import { deviceNames } from '../backend/devices.js';
import { advEstimators, klCtrlTypes, klPenaltyTypes, lossAggModes } from '../rl/index.js';
import { rewardFns } from '../tasks/index.js';
import type {
  ActorFsdpConfig,
  FilterGroupsMetric,
  LoggerBackend,
  OptimConfig,
  SftConfig,
  TinyZeroConfig,
} from './types.js';

// The rl names under the config's own export names (one list each, declared in src/rl).
export { advEstimators as ADV_ESTIMATORS, klPenaltyTypes as KL_PENALTY_TYPES, lossAggModes as LOSS_AGG_MODES };
export const LOGGER_BACKENDS: readonly LoggerBackend[] = ['console', 'jsonl', 'dashboard', 'wandb', 'tracking', 'mlflow', 'swanlab', 'tensorboard', 'vemlp_wandb', 'clearml'];
export const FILTER_GROUPS_METRICS: readonly FilterGroupsMetric[] = ['acc', 'score', 'seq_reward', 'seq_final_reward'];

const paths = either(str, listOf(str));
const pos = int({ min: 1 });
const posOrNull = nullable(pos);
const nonNeg = float({ min: 0 });
const fraction = float({ min: 0, max: 1 });
const ignoredBool = (def: boolean): LeafSpec<boolean> => field(bool, def, 'ignored (see ignored.ts)');

function optim(lr: number): Section<OptimConfig> {
  return {
    lr: field(nonNeg, lr, 'AdamW learning rate'),
    lr_warmup_steps_ratio: field(fraction, 0, 'warmup steps = int(ratio · total_training_steps); LR ramps min(1, (step+1)/warmup)'),
    min_lr_ratio: field(nullable(fraction), null, 'cosine floor as a fraction of lr; null = 0'),
    warmup_style: field(oneOf(['constant', 'cosine']), 'constant', 'LR shape after warmup'),
    total_training_steps: field(int({ min: -1 }), -1, '-1 = injected by the trainer'),
    betas: field(pair(float({ min: 0, max: 1 })), [0.9, 0.999], 'AdamW betas', { added: true }),
    weight_decay: field(nonNeg, 1e-2, 'AdamW decoupled weight decay', { added: true }),
  };
}

function fsdp(): Section<ActorFsdpConfig> {
  return {
    wrap_policy: { min_num_params: field(int({ min: 0 }), 0, 'ignored') },
    param_offload: ignoredBool(false),
    grad_offload: ignoredBool(false),
    optimizer_offload: ignoredBool(false),
    fsdp_size: field(int({ min: -1 }), -1, 'ignored'),
  };
}

export const schema: Section<TinyZeroConfig> = {
  data: {
    tokenizer: field(nullable(str), null, 'ignored: the tokenizer comes from the model folder'),
    train_files: field(paths, '~/data/rlhf/gsm8k/train.parquet', 'training parquet file(s)'),
    val_files: field(paths, '~/data/rlhf/gsm8k/test.parquet', 'validation parquet file(s)'),
    prompt_key: field(str, 'prompt', 'column holding the chat-format prompt'),
    max_prompt_length: field(pos, 512, 'prompts are left-padded to this; a longer prompt is an error'),
    max_response_length: field(pos, 512, 'generated tokens per response'),
    train_batch_size: field(pos, 1024, 'prompts per training step'),
    val_batch_size: field(posOrNull, 1312, 'prompts per validation generation chunk; null = all'),
    return_raw_input_ids: ignoredBool(false),
    return_raw_chat: ignoredBool(false),
    gen_batch_size: field(posOrNull, null, 'DAPO dynamic sampling: prompts per generation batch (≥ train_batch_size); null = train_batch_size', { added: true }),
    apply_chat_template: field(bool, false, "render prompts with the tokenizer's chat template (TinyZero: no)", { added: true }),
  },
  actor_rollout_ref: {
    hybrid_engine: field(bool, true, 'ignored: actor and rollout always share weights here'),
    model: {
      path: field(str, '~/models/deepseek-llm-7b-chat', 'Hugging Face model folder'),
      external_lib: field(nullable(str), null, 'ignored'),
      override_config: openMap('merged over config.json'),
      enable_gradient_checkpointing: field(bool, false, 'keep each layer\'s output only in the update and recompute the rest in the backward (docs/verl-compat.md#gradient-checkpointing)'),
      use_remove_padding: field(bool, false, 'pack each micro-batch\'s valid tokens into one sequence for the actor, ref and old log-probs (docs/verl-compat.md#update-loops)'),
      use_fused_kernels: field(bool, false, 'output layer + log-probs a chunk of tokens at a time: no micro-batch-wide logits, the update recomputes them (docs/verl-compat.md#fused-kernels)', { added: true }),
      trust_remote_code: field(bool, false, 'ignored', { added: true }),
      lora_rank: field(int({ min: 0 }), 0, 'LoRA rank: adapters on the frozen base; 0 = off (full fine-tuning)'),
      lora_alpha: field(float(), 16, 'LoRA scale numerator: updates are scaled by lora_alpha / lora_rank'),
      target_modules: field(either(str, listOf(str)), 'all-linear', 'LoRA targets: all-linear (every Linear but the output layer) or module names such as [q_proj,v_proj]'),
    },
    actor: {
      strategy: field(oneOf(['fsdp']), 'fsdp', 'ignored: single process'),
      ppo_mini_batch_size: field(pos, 256, 'prompts per optimizer step (× rollout.n responses)'),
      ppo_micro_batch_size: field(posOrNull, 64, 'prompts per forward/backward; mini / micro = grad accumulation'),
      use_dynamic_bsz: field(bool, false, 'micro-batches by token budget instead of row count'),
      ppo_max_token_len_per_gpu: field(pos, 16384, 'token budget per micro-batch with use_dynamic_bsz'),
      grad_clip: field(float({ gt: 0 }), 1.0, 'max global grad norm'),
      clip_ratio: field(float({ gt: 0 }), 0.2, 'PPO ε'),
      clip_ratio_low: field(nullable(float({ gt: 0 })), null, 'DAPO lower ε; null = clip_ratio', { added: true }),
      clip_ratio_high: field(nullable(float({ gt: 0 })), null, 'DAPO upper ε; null = clip_ratio', { added: true }),
      clip_ratio_c: field(nullable(float({ gt: 1 })), null, 'dual-clip c; null = off (TinyZero)', { added: true }),
      loss_agg_mode: field(oneOf(lossAggModes), 'token-mean', 'how token losses are reduced', { added: true }),
      loss_scale_factor: field(nullable(float({ gt: 0 })), null, 'seq-mean-token-sum-norm divisor; null = response length', { added: true }),
      entropy_coeff: field(float(), 0.001, 'entropy bonus weight'),
      use_kl_loss: field(bool, false, 'KL to the reference as a loss term (GRPO)'),
      kl_loss_coef: field(nonNeg, 0.001, 'weight of the KL loss'),
      kl_loss_type: field(oneOf(klPenaltyTypes), 'low_var_kl', 'KL estimator of the KL loss'),
      ppo_epochs: field(pos, 1, 'passes over each batch'),
      shuffle: field(bool, false, 'reshuffle rows between ppo epochs'),
      ulysses_sequence_parallel_size: field(pos, 1, 'ignored'),
      optim: optim(1e-6),
      fsdp_config: fsdp(),
    },
    ref: {
      fsdp_config: {
        param_offload: ignoredBool(false),
        wrap_policy: { min_num_params: field(int({ min: 0 }), 0, 'ignored') },
        fsdp_size: field(int({ min: -1 }), -1, 'ignored'),
      },
      log_prob_micro_batch_size: field(posOrNull, 128, 'rows per reference log-prob forward (veRL: prompts; docs/verl-compat.md#forward-batch-units)'),
      log_prob_use_dynamic_bsz: field(bool, '${actor_rollout_ref.actor.use_dynamic_bsz}', 'token-budget micro-batches'),
      log_prob_max_token_len_per_gpu: field(pos, '${actor_rollout_ref.actor.ppo_max_token_len_per_gpu}', 'token budget'),
      ulysses_sequence_parallel_size: field(pos, '${actor_rollout_ref.actor.ulysses_sequence_parallel_size}', 'ignored'),
    },
    rollout: {
      name: field(oneOf(['vllm', 'hf', 'sglang']), 'vllm', 'vllm | sglang with server_urls: those servers generate; otherwise the built-in generator'),
      temperature: field(nonNeg, 1.0, 'sampling temperature'),
      top_k: field(int({ min: -1 }), -1, '-1 or 0 = off'),
      top_p: field(float({ gt: 0, max: 1 }), 1, 'nucleus sampling mass'),
      prompt_length: field(pos, '${data.max_prompt_length}', 'prompt tokens'),
      response_length: field(pos, '${data.max_response_length}', 'max new tokens'),
      dtype: field(oneOf(['bfloat16', 'float16', 'float32']), 'bfloat16', 'ignored: CPU computes in float32'),
      gpu_memory_utilization: field(float({ gt: 0, max: 1 }), 0.5, 'ignored'),
      ignore_eos: field(bool, false, 'keep generating past EOS'),
      enforce_eager: ignoredBool(true),
      free_cache_engine: ignoredBool(true),
      load_format: field(str, 'dummy_dtensor', 'ignored'),
      tensor_model_parallel_size: field(pos, 2, 'ignored'),
      max_num_batched_tokens: field(pos, 8192, 'ignored'),
      max_num_seqs: field(pos, 1024, 'ignored'),
      log_prob_micro_batch_size: field(posOrNull, 128, 'rows per old-log-prob forward (veRL: prompts; docs/verl-compat.md#forward-batch-units)'),
      log_prob_use_dynamic_bsz: field(bool, '${actor_rollout_ref.actor.use_dynamic_bsz}', 'token-budget micro-batches'),
      log_prob_max_token_len_per_gpu: field(pos, '${actor_rollout_ref.actor.ppo_max_token_len_per_gpu}', 'token budget'),
      do_sample: field(bool, true, 'false = greedy (validation is always greedy)'),
      n: field(pos, 1, 'responses per prompt'),
      micro_batch_size: field(posOrNull, null, 'prompts per generation chunk; null = whole batch', { added: true }),
      server_urls: field(listOf(str), [], 'vLLM / SGLang / tinyzero serve servers (http://host:port) that generate; [] = built-in generator', { added: true }),
      server_api_key_env: field(nullable(str), null, "environment variable holding the servers' API key; null = none", { added: true }),
      server_timeout: field(float({ gt: 0 }), 600, 'seconds a server request may take before the server counts as failed', { added: true }),
      server_concurrency: field(pos, 16, 'requests in flight per server', { added: true }),
      server_weights_dir: field(nullable(str), null, 'folder the servers load weights from; null = <default_local_dir>/rollout_weights', { added: true }),
    },
  },
  critic: {
    strategy: field(oneOf(['fsdp']), 'fsdp', 'ignored: single process'),
    optim: optim(1e-5),
    model: {
      path: field(str, '~/models/deepseek-llm-7b-chat', 'critic base model folder (fresh value head)'),
      tokenizer_path: field(str, '${actor_rollout_ref.model.path}', 'tokenizer folder'),
      override_config: openMap('merged over config.json'),
      external_lib: field(nullable(str), '${actor_rollout_ref.model.external_lib}', 'ignored'),
      enable_gradient_checkpointing: field(bool, false, 'keep each layer\'s output only in the update and recompute the rest in the backward (docs/verl-compat.md#gradient-checkpointing)'),
      use_remove_padding: field(bool, false, 'pack each micro-batch\'s valid tokens into one sequence for the critic (docs/verl-compat.md#update-loops)'),
      trust_remote_code: field(bool, false, 'ignored', { added: true }),
      lora_rank: field(int({ min: 0 }), 0, 'LoRA rank: adapters on the frozen base; 0 = off (full fine-tuning)'),
      lora_alpha: field(float(), 16, 'LoRA scale numerator: updates are scaled by lora_alpha / lora_rank'),
      target_modules: field(either(str, listOf(str)), 'all-linear', 'LoRA targets: all-linear (every Linear but the output layer) or module names such as [q_proj,v_proj]'),
      fsdp_config: fsdp(),
    },
    ppo_mini_batch_size: field(pos, '${actor_rollout_ref.actor.ppo_mini_batch_size}', 'prompts per critic optimizer step'),
    ppo_micro_batch_size: field(posOrNull, 64, 'prompts per critic forward/backward'),
    forward_micro_batch_size: field(posOrNull, '${critic.ppo_micro_batch_size}', 'rows per value forward (docs/verl-compat.md#forward-batch-units)'),
    use_dynamic_bsz: field(bool, '${actor_rollout_ref.actor.use_dynamic_bsz}', 'token-budget micro-batches'),
    ppo_max_token_len_per_gpu: field(pos, 32768, 'token budget per critic micro-batch'),
    forward_max_token_len_per_gpu: field(pos, '${critic.ppo_max_token_len_per_gpu}', 'token budget per value forward'),
    ulysses_sequence_parallel_size: field(pos, 1, 'ignored'),
    ppo_epochs: field(pos, '${actor_rollout_ref.actor.ppo_epochs}', 'passes over each batch'),
    shuffle: field(bool, '${actor_rollout_ref.actor.shuffle}', 'reshuffle between epochs'),
    grad_clip: field(float({ gt: 0 }), 1.0, 'max global grad norm'),
    cliprange_value: field(float({ gt: 0 }), 0.5, 'value clip'),
  },
  reward_model: {
    enable: field(bool, false, 'model-based reward (not supported; rule rewards only)'),
    reward_fn: field(oneOf(rewardFns), 'data_source', "rule reward: by data_source, or veRL's e2e digit-completion dense reward", { added: true }),
    strategy: field(oneOf(['fsdp']), 'fsdp', 'ignored'),
    model: {
      input_tokenizer: field(str, '${actor_rollout_ref.model.path}', 'ignored'),
      path: field(str, '~/models/FsfairX-LLaMA3-RM-v0.1', 'ignored'),
      external_lib: field(nullable(str), '${actor_rollout_ref.model.external_lib}', 'ignored'),
      use_remove_padding: field(bool, false, 'ignored'),
      fsdp_config: {
        min_num_params: field(int({ min: 0 }), 0, 'ignored'),
        param_offload: ignoredBool(false),
      },
    },
    micro_batch_size: field(pos, 64, 'ignored'),
    max_length: field(posOrNull, null, 'ignored'),
    ulysses_sequence_parallel_size: field(pos, 1, 'ignored'),
    use_dynamic_bsz: field(bool, '${critic.use_dynamic_bsz}', 'ignored'),
    forward_max_token_len_per_gpu: field(pos, '${critic.forward_max_token_len_per_gpu}', 'ignored'),
    overlong_buffer: {
      enable: field(bool, false, 'DAPO overlong reward shaping', { added: true }),
      len: field(int({ min: 0 }), 0, 'penalty zone length in tokens', { added: true }),
      penalty_factor: field(nonNeg, 0, 'penalty at max length', { added: true }),
      log: field(bool, false, 'log the penalty', { added: true }),
    },
  },
  algorithm: {
    gamma: field(fraction, 1.0, 'discount'),
    lam: field(fraction, 1.0, 'GAE λ'),
    adv_estimator: field(oneOf(advEstimators), 'gae', 'advantage estimator (gae uses a critic)'),
    norm_adv_by_std_in_grpo: field(bool, true, 'false = Dr. GRPO', { added: true }),
    use_kl_in_reward: field(nullable(bool), null, 'null = KL in reward iff not actor.use_kl_loss (TinyZero)', { added: true }),
    kl_penalty: field(oneOf(klPenaltyTypes), 'kl', 'KL estimator of the in-reward penalty'),
    kl_ctrl: {
      type: field(oneOf(klCtrlTypes), 'fixed', 'KL coefficient controller'),
      kl_coef: field(nonNeg, 0.001, 'β'),
      horizon: field(pos, 10000, 'adaptive controller horizon', { added: true }),
      target_kl: field(float({ gt: 0 }), 0.1, 'adaptive controller target', { added: true }),
    },
    filter_groups: {
      enable: field(bool, false, 'DAPO dynamic sampling: drop prompt groups whose metric is the same for all n samples, generate until train_batch_size groups are kept', { added: true }),
      metric: field(nullable(oneOf(FILTER_GROUPS_METRICS)), null, 'per-trajectory value a group must vary in: acc | score (the task score) | seq_reward (Σ token scores) | seq_final_reward (Σ token rewards, after the KL penalty)', { added: true }),
      max_num_gen_batches: field(int(), 0, 'generation batches per step before giving up with an error; ≤ 0 = unlimited', { added: true }),
    },
  },
  trainer: {
    total_epochs: field(pos, 30, 'passes over the training set'),
    total_training_steps: field(posOrNull, null, 'null = steps per epoch · total_epochs'),
    project_name: field(str, 'verl_examples', 'tracking project'),
    experiment_name: field(str, 'gsm8k', 'tracking run name'),
    logger: field(listOf(oneOf(LOGGER_BACKENDS)), ['console', 'wandb'], 'tracking backends'),
    nnodes: field(pos, 1, 'ignored'),
    n_gpus_per_node: field(pos, 8, 'ignored'),
    save_freq: field(int(), -1, 'checkpoint every N steps; ≤ 0 = never'),
    test_freq: field(int(), -1, 'validate every N steps; ≤ 0 = never'),
    critic_warmup: field(int({ min: 0 }), 0, 'steps of critic-only training'),
    default_hdfs_dir: field(nullable(str), '~/experiments/gsm8k/ppo/${trainer.experiment_name}', 'ignored'),
    default_local_dir: field(str, 'checkpoints/${trainer.project_name}/${trainer.experiment_name}', 'checkpoint folder'),
    val_before_train: field(bool, true, 'validate at step 0', { added: true }),
    val_only: field(bool, false, 'validate once and stop', { added: true }),
    device: field(oneOf(deviceNames), 'cpu', 'compute backend', { added: true }),
    threads: field(posOrNull, null, 'CPU threads; null = auto', { added: true }),
    frozen_weight_dtype: field(oneOf(['f32', 'f16']), 'f32', 'storage of frozen weights (the reference policy, a LoRA base): f16 halves them on the CPU; on webgpu it needs shader-f16, else f32 with a warning', { added: true }),
    resume_mode: field(oneOf(['auto', 'disable']), 'auto', 'resume from the latest complete checkpoint', { added: true }),
    overwrite_run_dir: field(bool, false, 'with resume_mode=disable: start over in a folder that holds a run, moving that run aside to <folder>.replaced-<time>', { added: true }),
    resume_allow_changes: field(bool, false, 'resume even when keys an exact resume needs (data, batch sizes, model, seed, n, ...) changed', { added: true }),
    max_actor_ckpt_to_keep: field(posOrNull, null, 'null = keep all', { added: true }),
    max_critic_ckpt_to_keep: field(posOrNull, null, 'null = keep all', { added: true }),
    seed: field(int({ min: 0 }), 1, 'seed of data order, sampling and init', { added: true }),
    dashboard_port: field(nullable(int({ min: 0, max: 65535 })), null, "live dashboard port on 127.0.0.1 (0 = any free); null = only with logger 'dashboard'", { added: true }),
    log_samples: field(int({ min: 0 }), 0, 'sampled training responses printed to the log each step', { added: true }),
  },
  // `tinyzero sft` only (veRL's sft_trainer.yaml, regrouped); it shares trainer.{default_local_dir,
  // seed, logger, device, threads, resume_mode, project_name, experiment_name} with RL runs.
  sft: sftSection(),
};

function sftSection(): Section<SftConfig> {
  const added = { added: true };
  const base = optim(1e-3);
  return {
    train_files: field(paths, '~/data/sft/train.parquet', 'SFT parquet/JSONL file(s)', added),
    val_files: field(nullable(paths), null, 'eval-loss parquet/JSONL file(s); null = none', added),
    text_key: field(str, 'text', 'plain-text column (loss on every token)', added),
    prompt_key: field(str, 'prompt', 'prompt column of pair rows (no loss)', added),
    response_key: field(str, 'response', 'response column of pair rows (loss)', added),
    max_length: field(pos, 512, 'tokens per example; longer ones are cut', added),
    add_eos: field(bool, true, "append the tokenizer's EOS to every example", added),
    train_batch_size: field(pos, 64, 'examples per optimizer step', added),
    micro_batch_size: field(pos, 16, 'examples per forward/backward (gradient accumulation)', added),
    total_epochs: field(pos, 1, 'passes over the training set', added),
    total_training_steps: field(posOrNull, null, 'null = steps per epoch · total_epochs', added),
    optim: {
      ...base,
      lr: field(nonNeg, 1e-3, 'AdamW learning rate', added),
      lr_warmup_steps_ratio: field(fraction, 0.05, 'warmup steps = int(ratio · total steps)', added),
      warmup_style: field(oneOf(['constant', 'cosine']), 'cosine', 'LR shape after warmup', added),
      min_lr_ratio: field(nullable(fraction), 0.1, 'cosine floor as a fraction of lr', added),
      total_training_steps: field(int({ min: -1 }), -1, 'ignored: sft.total_training_steps', added),
      betas: field(pair(float({ min: 0, max: 1 })), [0.9, 0.95], 'AdamW betas', added),
      weight_decay: field(nonNeg, 0.01, 'AdamW decoupled weight decay', added),
    },
    grad_clip: field(float({ gt: 0 }), 1.0, 'gradient norm clip', added),
    test_freq: field(int(), 50, 'eval loss every N steps; ≤ 0 = never', added),
    save_freq: field(int(), -1, 'checkpoint every N steps; ≤ 0 = only at the end', added),
    max_ckpt_to_keep: field(posOrNull, 2, 'null = keep all', added),
    model: {
      path: field(str, '~/models/base', 'HF folder; config.json + tokenizer without weights = train from scratch', added),
      enable_gradient_checkpointing: field(bool, false, 'keep each layer\'s output only and recompute the rest in the backward (docs/verl-compat.md#gradient-checkpointing)', added),
    },
  };
}
