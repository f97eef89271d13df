import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { configDiff, configWarnings, klInReward, resolveConfig, usesCritic, usesReferencePolicy } from '../../src/config/index.js';

// The environment of TinyZero's README (docs/verl-compat.md#train-tiny-zero-script); the shell expands these before veRL sees them.
const env: Record<string, string> = {
  DATA_DIR: '/data/countdown',
  BASE_MODEL: 'Qwen/Qwen2.5-3B',
  ROLLOUT_TP_SIZE: '2',
  N_GPUS: '2',
  EXPERIMENT_NAME: 'countdown-qwen2.5-3b',
};

/** `scripts/train_tiny_zero.sh` (docs/verl-compat.md#train-tiny-zero-script) as argv, after the shell's expansion. */
const trainTinyZero = [
  'data.train_files=/data/countdown/train.parquet',
  'data.val_files=/data/countdown/test.parquet',
  'data.train_batch_size=256',
  'data.val_batch_size=1312',
  'data.max_prompt_length=256',
  'data.max_response_length=1024',
  'actor_rollout_ref.model.path=Qwen/Qwen2.5-3B',
  'actor_rollout_ref.model.use_remove_padding=True',
  'actor_rollout_ref.actor.use_dynamic_bsz=True',
  'actor_rollout_ref.actor.optim.lr=1e-6',
  'actor_rollout_ref.actor.ppo_mini_batch_size=64',
  'actor_rollout_ref.actor.ppo_micro_batch_size=8',
  'actor_rollout_ref.rollout.log_prob_micro_batch_size=8',
  'actor_rollout_ref.rollout.tensor_model_parallel_size=2',
  'actor_rollout_ref.rollout.gpu_memory_utilization=0.4',
  'actor_rollout_ref.ref.log_prob_micro_batch_size=4',
  'critic.optim.lr=1e-5',
  'critic.model.path=Qwen/Qwen2.5-3B',
  'critic.ppo_micro_batch_size=8',
  'algorithm.kl_ctrl.kl_coef=0.001',
  "trainer.logger=['wandb']",
  '+trainer.val_before_train=False',
  'trainer.default_hdfs_dir=null',
  'trainer.n_gpus_per_node=2',
  'trainer.nnodes=1',
  'trainer.save_freq=100',
  'trainer.test_freq=100',
  'trainer.project_name=TinyZero',
  'trainer.experiment_name=countdown-qwen2.5-3b',
  'trainer.total_epochs=15',
];

test('the argument list above is the one in docs/verl-compat.md#train-tiny-zero-script', () => {
  const doc = readFileSync(new URL('../../../docs/verl-compat.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('<a id="train-tiny-zero-script"></a>'));
  const block = section.slice(section.indexOf('```') + 3, section.indexOf('```', section.indexOf('```') + 3));
  const words = block.trim().split(/\s+/);
  const expanded = words.map((w) => w.replace(/\$([A-Z_]+)/g, (_, name: string) => env[name]!));
  assert.deepEqual(expanded, trainTinyZero);
});

test("train_tiny_zero.sh's overrides parse unchanged to what TinyZero means", () => {
  const c = resolveConfig({ overrides: trainTinyZero });
  assert.equal(c.data.train_files, '/data/countdown/train.parquet');
  assert.equal(c.data.val_files, '/data/countdown/test.parquet');
  assert.equal(c.data.train_batch_size, 256);
  assert.equal(c.data.val_batch_size, 1312);
  assert.equal(c.data.max_prompt_length, 256);
  assert.equal(c.data.max_response_length, 1024);
  const { model, actor, rollout, ref } = c.actor_rollout_ref;
  assert.equal(model.path, 'Qwen/Qwen2.5-3B');
  assert.equal(model.use_remove_padding, true);
  assert.equal(actor.use_dynamic_bsz, true);
  assert.equal(actor.optim.lr, 1e-6);
  assert.equal(actor.ppo_mini_batch_size, 64);
  assert.equal(actor.ppo_micro_batch_size, 8);
  assert.equal(rollout.log_prob_micro_batch_size, 8);
  assert.equal(rollout.tensor_model_parallel_size, 2);
  assert.equal(rollout.gpu_memory_utilization, 0.4);
  assert.equal(ref.log_prob_micro_batch_size, 4);
  assert.equal(c.critic.optim.lr, 1e-5);
  assert.equal(c.critic.model.path, 'Qwen/Qwen2.5-3B');
  assert.equal(c.critic.ppo_micro_batch_size, 8);
  assert.equal(c.algorithm.kl_ctrl.kl_coef, 0.001);
  assert.deepEqual(c.trainer.logger, ['wandb']);
  assert.equal(c.trainer.val_before_train, false);
  assert.equal(c.trainer.default_hdfs_dir, null);
  assert.equal(c.trainer.n_gpus_per_node, 2);
  assert.equal(c.trainer.save_freq, 100);
  assert.equal(c.trainer.test_freq, 100);
  assert.equal(c.trainer.project_name, 'TinyZero');
  assert.equal(c.trainer.experiment_name, 'countdown-qwen2.5-3b');
  assert.equal(c.trainer.total_epochs, 15);
});

test("veRL's links carry the script's values where TinyZero relied on them (the script's effective values)", () => {
  const c = resolveConfig({ overrides: trainTinyZero });
  const { actor, rollout, ref } = c.actor_rollout_ref;
  // max 1024 new tokens, prompts of 256
  assert.equal(rollout.response_length, 1024);
  assert.equal(rollout.prompt_length, 256);
  // dynamic bsz everywhere, token caps 16384 (actor/log-prob) and 32768 (critic)
  assert.equal(rollout.log_prob_use_dynamic_bsz, true);
  assert.equal(ref.log_prob_use_dynamic_bsz, true);
  assert.equal(c.critic.use_dynamic_bsz, true);
  assert.equal(rollout.log_prob_max_token_len_per_gpu, 16384);
  assert.equal(ref.log_prob_max_token_len_per_gpu, 16384);
  assert.equal(c.critic.forward_max_token_len_per_gpu, 32768);
  // the critic takes the actor's mini-batch of 64: 256/64 = 4 optimizer steps each
  assert.equal(c.critic.ppo_mini_batch_size, 64);
  assert.equal(c.critic.forward_micro_batch_size, 8);
  assert.equal(c.data.train_batch_size / actor.ppo_mini_batch_size, 4);
  assert.equal(c.critic.model.tokenizer_path, 'Qwen/Qwen2.5-3B');
  // rollout T=1.0, top_p=1, top_k=-1; β=0.001 k1 in reward; entropy 0.001; clip 0.2; value clip 0.5; γ=λ=1
  assert.equal(rollout.temperature, 1);
  assert.equal(rollout.top_p, 1);
  assert.equal(rollout.top_k, -1);
  assert.equal(c.algorithm.kl_penalty, 'kl');
  assert.equal(actor.entropy_coeff, 0.001);
  assert.equal(actor.clip_ratio, 0.2);
  assert.equal(c.critic.cliprange_value, 0.5);
  assert.equal(c.algorithm.gamma, 1);
  assert.equal(c.algorithm.lam, 1);
  assert.equal(c.trainer.default_local_dir, 'checkpoints/TinyZero/countdown-qwen2.5-3b');
  assert.ok(usesCritic(c));
  assert.ok(klInReward(c));
  assert.ok(usesReferencePolicy(c));
});

test('the same list with the quotes bash leaves in or strips out means the same', () => {
  const stripped = trainTinyZero.map((a) => a.replace("['wandb']", '[wandb]'));
  assert.deepEqual(resolveConfig({ overrides: stripped }), resolveConfig({ overrides: trainTinyZero }));
});

test('the script run warns about exactly the ignored keys it changed', () => {
  const warnings = configWarnings(resolveConfig({ overrides: trainTinyZero }));
  const keys = warnings.map((w) => w.slice(0, w.indexOf('=')));
  assert.deepEqual(keys.sort(), [
    'actor_rollout_ref.rollout.gpu_memory_utilization',
    'trainer.n_gpus_per_node',
  ]);
  assert.match(warnings.find((w) => w.startsWith('trainer.n_gpus_per_node'))!, /=2 is ignored: .*trainer\.threads/);
});

test('configDiff lists what the script changed, links included', () => {
  const diff = configDiff(resolveConfig({ overrides: trainTinyZero }));
  const keys = new Set(diff.map((d) => d.key));
  assert.ok(keys.has('data.train_batch_size'));
  assert.ok(keys.has('actor_rollout_ref.rollout.response_length'));
  assert.ok(!keys.has('data.val_batch_size'), 'val_batch_size=1312 is the default');
  assert.ok(!keys.has('actor_rollout_ref.actor.optim.lr'), 'lr=1e-6 is the default');
  assert.deepEqual(diff.find((d) => d.key === 'data.max_response_length'), { key: 'data.max_response_length', value: 1024, default: 512 });
});
