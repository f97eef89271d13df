import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { defaultConfig, schemaPaths, type TinyZeroConfig } from '../../src/config/index.js';

/** The `ppo_trainer.yaml` block of docs/verl-compat.md#defaults, to check the table below was copied from it. */
const doc = readFileSync(new URL('../../../docs/verl-compat.md', import.meta.url), 'utf8');
const block = doc.slice(doc.indexOf('<a id="defaults"></a>'), doc.indexOf('<a id="train-tiny-zero-script"></a>'));

function at(c: TinyZeroConfig, path: string): unknown {
  let cur: unknown = c;
  for (const k of path.split('.')) cur = (cur as Record<string, unknown>)[k];
  return cur;
}

// [dotted path, value, how the doc's YAML block writes `leaf: value`]
const fromSpec: [string, unknown, string][] = [
  ['data.train_files', '~/data/rlhf/gsm8k/train.parquet', 'train_files: ~/data/rlhf/gsm8k/train.parquet'],
  ['data.val_files', '~/data/rlhf/gsm8k/test.parquet', 'val_files:   ~/data/rlhf/gsm8k/test.parquet'],
  ['data.prompt_key', 'prompt', 'prompt_key: prompt'],
  ['data.max_prompt_length', 512, 'max_prompt_length: 512'],
  ['data.max_response_length', 512, 'max_response_length: 512'],
  ['data.train_batch_size', 1024, 'train_batch_size: 1024'],
  ['data.val_batch_size', 1312, 'val_batch_size: 1312'],
  ['data.return_raw_chat', false, 'return_raw_chat: False'],
  ['actor_rollout_ref.hybrid_engine', true, 'hybrid_engine: True'],
  ['actor_rollout_ref.model.path', '~/models/deepseek-llm-7b-chat', 'path: ~/models/deepseek-llm-7b-chat'],
  ['actor_rollout_ref.model.use_remove_padding', false, 'use_remove_padding: False'],
  ['actor_rollout_ref.actor.strategy', 'fsdp', 'strategy: fsdp'],
  ['actor_rollout_ref.actor.ppo_mini_batch_size', 256, 'ppo_mini_batch_size: 256'],
  ['actor_rollout_ref.actor.ppo_micro_batch_size', 64, 'ppo_micro_batch_size: 64'],
  ['actor_rollout_ref.actor.use_dynamic_bsz', false, 'use_dynamic_bsz: False'],
  ['actor_rollout_ref.actor.ppo_max_token_len_per_gpu', 16384, 'ppo_max_token_len_per_gpu: 16384'],
  ['actor_rollout_ref.actor.grad_clip', 1.0, 'grad_clip: 1.0'],
  ['actor_rollout_ref.actor.clip_ratio', 0.2, 'clip_ratio: 0.2'],
  ['actor_rollout_ref.actor.entropy_coeff', 0.001, 'entropy_coeff: 0.001'],
  ['actor_rollout_ref.actor.use_kl_loss', false, 'use_kl_loss: False'],
  ['actor_rollout_ref.actor.kl_loss_coef', 0.001, 'kl_loss_coef: 0.001'],
  ['actor_rollout_ref.actor.kl_loss_type', 'low_var_kl', 'kl_loss_type: low_var_kl'],
  ['actor_rollout_ref.actor.ppo_epochs', 1, 'ppo_epochs: 1'],
  ['actor_rollout_ref.actor.shuffle', false, 'shuffle: False'],
  ['actor_rollout_ref.actor.ulysses_sequence_parallel_size', 1, 'ulysses_sequence_parallel_size: 1'],
  ['actor_rollout_ref.actor.optim.lr', 1e-6, 'lr: 1e-6'],
  ['actor_rollout_ref.actor.optim.lr_warmup_steps_ratio', 0, 'lr_warmup_steps_ratio: 0.'],
  ['actor_rollout_ref.actor.optim.min_lr_ratio', null, 'min_lr_ratio: null'],
  ['actor_rollout_ref.actor.optim.warmup_style', 'constant', 'warmup_style: constant'],
  ['actor_rollout_ref.actor.optim.total_training_steps', -1, 'total_training_steps: -1'],
  ['actor_rollout_ref.actor.fsdp_config.fsdp_size', -1, 'fsdp_size: -1'],
  ['actor_rollout_ref.ref.log_prob_micro_batch_size', 128, 'log_prob_micro_batch_size: 128'],
  ['actor_rollout_ref.rollout.name', 'vllm', 'name: vllm'],
  ['actor_rollout_ref.rollout.temperature', 1.0, 'temperature: 1.0'],
  ['actor_rollout_ref.rollout.top_k', -1, 'top_k: -1'],
  ['actor_rollout_ref.rollout.top_p', 1, 'top_p: 1'],
  ['actor_rollout_ref.rollout.dtype', 'bfloat16', 'dtype: bfloat16'],
  ['actor_rollout_ref.rollout.gpu_memory_utilization', 0.5, 'gpu_memory_utilization: 0.5'],
  ['actor_rollout_ref.rollout.ignore_eos', false, 'ignore_eos: False'],
  ['actor_rollout_ref.rollout.enforce_eager', true, 'enforce_eager: True'],
  ['actor_rollout_ref.rollout.free_cache_engine', true, 'free_cache_engine: True'],
  ['actor_rollout_ref.rollout.load_format', 'dummy_dtensor', 'load_format: dummy_dtensor'],
  ['actor_rollout_ref.rollout.tensor_model_parallel_size', 2, 'tensor_model_parallel_size: 2'],
  ['actor_rollout_ref.rollout.max_num_batched_tokens', 8192, 'max_num_batched_tokens: 8192'],
  ['actor_rollout_ref.rollout.max_num_seqs', 1024, 'max_num_seqs: 1024'],
  ['actor_rollout_ref.rollout.log_prob_micro_batch_size', 128, 'log_prob_micro_batch_size: 128'],
  ['actor_rollout_ref.rollout.do_sample', true, 'do_sample: True'],
  ['actor_rollout_ref.rollout.n', 1, 'n: 1'],
  ['critic.optim.lr', 1e-5, 'lr: 1e-5'],
  ['critic.ppo_micro_batch_size', 64, 'ppo_micro_batch_size: 64'],
  ['critic.ppo_max_token_len_per_gpu', 32768, 'ppo_max_token_len_per_gpu: 32768'],
  ['critic.grad_clip', 1.0, 'grad_clip: 1.0'],
  ['critic.cliprange_value', 0.5, 'cliprange_value: 0.5'],
  ['reward_model.enable', false, 'enable: False'],
  ['reward_model.model.path', '~/models/FsfairX-LLaMA3-RM-v0.1', 'path: ~/models/FsfairX-LLaMA3-RM-v0.1'],
  ['reward_model.micro_batch_size', 64, 'micro_batch_size: 64'],
  ['reward_model.max_length', null, 'max_length: null'],
  ['algorithm.gamma', 1.0, 'gamma: 1.0'],
  ['algorithm.lam', 1.0, 'lam: 1.0'],
  ['algorithm.adv_estimator', 'gae', 'adv_estimator: gae'],
  ['algorithm.kl_penalty', 'kl', 'kl_penalty: kl'],
  ['algorithm.kl_ctrl.type', 'fixed', 'type: fixed'],
  ['algorithm.kl_ctrl.kl_coef', 0.001, 'kl_coef: 0.001'],
  ['trainer.total_epochs', 30, 'total_epochs: 30'],
  ['trainer.total_training_steps', null, 'total_training_steps: null'],
  ['trainer.project_name', 'verl_examples', 'project_name: verl_examples'],
  ['trainer.experiment_name', 'gsm8k', 'experiment_name: gsm8k'],
  ['trainer.logger', ['console', 'wandb'], "logger: ['console', 'wandb']"],
  ['trainer.nnodes', 1, 'nnodes: 1'],
  ['trainer.n_gpus_per_node', 8, 'n_gpus_per_node: 8'],
  ['trainer.save_freq', -1, 'save_freq: -1'],
  ['trainer.test_freq', -1, 'test_freq: -1'],
  ['trainer.critic_warmup', 0, 'critic_warmup: 0'],
];

test('defaults equal the values of ppo_trainer.yaml in docs/verl-compat.md#defaults', () => {
  const c = defaultConfig();
  for (const [path, value, specText] of fromSpec) {
    assert.ok(block.includes(specText), `docs/verl-compat.md#defaults does not say '${specText}' (table entry ${path})`);
    assert.deepEqual(at(c, path), value, path);
  }
});

test("the ${...} links of ppo_trainer.yaml resolve to the linked defaults", () => {
  const c = defaultConfig();
  const r = c.actor_rollout_ref;
  assert.equal(r.rollout.prompt_length, 512);
  assert.equal(r.rollout.response_length, 512);
  assert.equal(r.ref.log_prob_use_dynamic_bsz, false);
  assert.equal(r.ref.log_prob_max_token_len_per_gpu, 16384);
  assert.equal(r.rollout.log_prob_max_token_len_per_gpu, 16384);
  assert.equal(c.critic.ppo_mini_batch_size, 256);
  assert.equal(c.critic.forward_micro_batch_size, 64);
  assert.equal(c.critic.forward_max_token_len_per_gpu, 32768);
  assert.equal(c.critic.model.tokenizer_path, '~/models/deepseek-llm-7b-chat');
  assert.equal(c.reward_model.forward_max_token_len_per_gpu, 32768);
  assert.equal(c.trainer.default_local_dir, 'checkpoints/verl_examples/gsm8k');
  assert.equal(c.trainer.default_hdfs_dir, '~/experiments/gsm8k/ppo/gsm8k');
});

test('keys TinyZero read with .get and the keys we add have their documented defaults', () => {
  const c = defaultConfig();
  assert.equal(c.trainer.val_before_train, true);
  assert.equal(c.trainer.val_only, false);
  assert.equal(c.trainer.device, 'cpu');
  assert.equal(c.trainer.threads, null);
  assert.equal(c.trainer.resume_mode, 'auto');
  assert.equal(c.trainer.max_actor_ckpt_to_keep, null);
  assert.equal(c.trainer.max_critic_ckpt_to_keep, null);
  assert.equal(c.trainer.overwrite_run_dir, false);
  assert.equal(c.trainer.resume_allow_changes, false);
  assert.deepEqual(c.actor_rollout_ref.actor.optim.betas, [0.9, 0.999]);
  assert.equal(c.actor_rollout_ref.actor.optim.weight_decay, 1e-2);
  // docs/verl-compat.md#adaptive-kl-keys: adaptive KL keys exist without '+'
  assert.equal(c.algorithm.kl_ctrl.horizon, 10000);
  assert.equal(c.algorithm.kl_ctrl.target_kl, 0.1);
  // TinyZero's loss: no asymmetric clip, no dual clip, KL in reward by its rule
  assert.equal(c.actor_rollout_ref.actor.clip_ratio_low, null);
  assert.equal(c.actor_rollout_ref.actor.clip_ratio_c, null);
  assert.equal(c.actor_rollout_ref.actor.loss_agg_mode, 'token-mean');
  assert.equal(c.algorithm.use_kl_in_reward, null);
  assert.equal(c.algorithm.norm_adv_by_std_in_grpo, true);
  assert.equal(c.algorithm.filter_groups.enable, false);
  assert.equal(c.reward_model.overlong_buffer.enable, false);
  assert.equal(c.data.apply_chat_template, false);
});

test('defaultConfig returns a fresh copy each call', () => {
  const a = defaultConfig();
  a.data.train_batch_size = 7;
  assert.equal(defaultConfig().data.train_batch_size, 1024);
});

test('every section of veRL\'s tree is present', () => {
  const paths = new Set(schemaPaths());
  for (const p of ['data', 'actor_rollout_ref.model', 'actor_rollout_ref.actor', 'actor_rollout_ref.ref', 'actor_rollout_ref.rollout',
    'critic', 'critic.model.fsdp_config.wrap_policy.min_num_params', 'reward_model', 'algorithm.kl_ctrl', 'trainer']) {
    assert.ok(paths.has(p), p);
  }
});
