// use_remove_padding and token-balanced micro-batches at the trainer level: two training steps with
// packed micro-batches give the padded run's metrics within float32 rounding, for PPO with GAE and a
// critic (actor update, old log-probs, values, critic update), with use_dynamic_bsz on top, and for
// GRPO with LoRA adapters on an f16 base plus a reference policy. The memory options
// (enable_gradient_checkpointing on actor and critic, use_fused_kernels) leave those metrics as they
// are too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/index.js';
import { readMetricsJsonl } from '../../src/tracking/index.js';
import { disposeRun, setupRun, train } from '../../src/trainer/index.js';
import { assertStepMetricsClose } from '../helpers/step-metrics.js';

const root = new URL('../../../', import.meta.url).pathname;

async function run(example: string, dir: string, overrides: string[]): Promise<Record<string, number>[]> {
  process.chdir(root);
  const config = resolveConfig({
    file: join(root, 'examples', example),
    overrides: ['trainer.device=cpu', 'trainer.total_training_steps=2', 'trainer.val_before_train=false', 'trainer.test_freq=-1',
      'trainer.save_freq=-1', "trainer.logger=['jsonl']", 'trainer.threads=1', `trainer.default_local_dir=${dir}`, ...overrides],
  });
  await train(config, { progress: false, log: () => {} });
  return readMetricsJsonl(join(dir, 'metrics.jsonl')).map((r) => r.metrics);
}

const memoryOptions = ['actor_rollout_ref.model.enable_gradient_checkpointing=true', 'critic.model.enable_gradient_checkpointing=true',
  'actor_rollout_ref.model.use_fused_kernels=true'];
const packed = (on: boolean): string[] => [`actor_rollout_ref.model.use_remove_padding=${on}`, `critic.model.use_remove_padding=${on}`];

test('PPO with GAE and a critic: packed = padded, and packed with token-balanced micro-batches too', { timeout: 300_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-packing-ppo-'));
  try {
    const common = ['data.train_batch_size=8', 'data.max_response_length=8', 'actor_rollout_ref.actor.ppo_mini_batch_size=4',
      'actor_rollout_ref.actor.ppo_micro_batch_size=2', 'actor_rollout_ref.rollout.log_prob_micro_batch_size=4',
      'critic.ppo_mini_batch_size=4', 'critic.ppo_micro_batch_size=2', 'critic.forward_micro_batch_size=4'];
    const padded = await run('digit-completion.yaml', join(tmp, 'padded'), [...common, ...packed(false)]);
    const withPacking = await run('digit-completion.yaml', join(tmp, 'packed'), [...common, ...packed(true)]);
    const keys = ['actor/pg_loss', 'actor/grad_norm', 'actor/ppo_kl', 'actor/pg_clipfrac', 'critic/vf_loss', 'critic/grad_norm',
      'critic/vf_clipfrac', 'critic/values/mean', 'critic/advantages/mean', 'critic/returns/mean', 'response_length/mean'];
    assertStepMetricsClose(withPacking, padded, keys, 'packed vs padded', 1e-4);
    // Token budgets of 60 tokens (a row is at most 16 + 8): other micro-batches, the same mini-batch
    // sums (the per-micro-batch averages such as clip fractions are left out: they weigh micro-batches).
    const dynamic = await run('digit-completion.yaml', join(tmp, 'dynamic'), [...common, ...packed(true),
      'actor_rollout_ref.actor.use_dynamic_bsz=true', 'actor_rollout_ref.actor.ppo_max_token_len_per_gpu=60',
      'actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu=60', 'critic.ppo_max_token_len_per_gpu=60', 'critic.forward_max_token_len_per_gpu=60']);
    assertStepMetricsClose(dynamic, padded, ['actor/pg_loss', 'actor/grad_norm', 'critic/vf_loss', 'critic/grad_norm', 'critic/values/mean',
      'critic/advantages/mean', 'response_length/mean'], 'packed, token-balanced vs padded', 1e-4);
    const lean = await run('digit-completion.yaml', join(tmp, 'lean'), [...common, ...packed(true), ...memoryOptions]);
    assertStepMetricsClose(lean, withPacking, keys, 'checkpointed and fused vs packed', 1e-4);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('GRPO with LoRA on an f16 base and a reference policy: packed = padded', { timeout: 300_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-packing-lora-'));
  try {
    const common = ['data.train_batch_size=4', 'data.max_response_length=8', 'actor_rollout_ref.rollout.n=4',
      'actor_rollout_ref.actor.ppo_mini_batch_size=4', 'actor_rollout_ref.actor.ppo_micro_batch_size=2', 'actor_rollout_ref.actor.ppo_epochs=1',
      'actor_rollout_ref.rollout.log_prob_micro_batch_size=4', 'actor_rollout_ref.ref.log_prob_micro_batch_size=4',
      'actor_rollout_ref.actor.use_kl_loss=true', 'actor_rollout_ref.actor.kl_loss_coef=0.1', 'actor_rollout_ref.actor.optim.lr=5e-3',
      'actor_rollout_ref.model.lora_rank=4', 'actor_rollout_ref.model.lora_alpha=8', 'trainer.frozen_weight_dtype=f16'];
    const padded = await run('digit-completion-grpo.yaml', join(tmp, 'padded'), [...common, 'actor_rollout_ref.model.use_remove_padding=false']);
    const withPacking = await run('digit-completion-grpo.yaml', join(tmp, 'packed'), [...common, 'actor_rollout_ref.model.use_remove_padding=true']);
    const keys = ['actor/pg_loss', 'actor/kl_loss', 'actor/grad_norm', 'actor/ppo_kl', 'actor/entropy_loss',
      'critic/advantages/mean', 'critic/score/mean', 'response_length/mean'];
    assertStepMetricsClose(withPacking, padded, keys, 'LoRA packed vs padded', 1e-4);
    const lean = await run('digit-completion-grpo.yaml', join(tmp, 'lean'), [...common, 'actor_rollout_ref.model.use_remove_padding=true', ...memoryOptions]);
    assertStepMetricsClose(lean, withPacking, keys, 'LoRA checkpointed and fused vs packed', 1e-4);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('enable_gradient_checkpointing reaches the actor\'s and the critic\'s backbones, and the memory plan counts it', async () => {
  process.chdir(root);
  const config = resolveConfig({ file: join(root, 'examples', 'digit-completion.yaml'), overrides: ['trainer.device=cpu', 'trainer.threads=1', ...memoryOptions] });
  const lines: string[] = [];
  const run = await setupRun(config, { log: (line) => lines.push(line) });
  try {
    assert.equal(run.actor.model.model.gradientCheckpointing, true);
    assert.equal(run.critic?.model.model.gradientCheckpointing, true);
    assert.match(lines.join('\n'), /update activations \(micro-batch of [^)]*, checkpointed\)/);
  } finally {
    disposeRun(run);
  }
});
