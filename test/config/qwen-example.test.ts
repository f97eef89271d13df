// examples/countdown-qwen2.5-0.5b.yaml (TinyZero's single-GPU run) passes validation and keeps
// train_tiny_zero.sh's settings with one GPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/index.js';

const examples = new URL('../../../examples/', import.meta.url).pathname;

test("countdown-qwen2.5-0.5b.yaml resolves with TinyZero's single-GPU settings", () => {
  const c = resolveConfig({ file: join(examples, 'countdown-qwen2.5-0.5b.yaml') });
  assert.equal(c.actor_rollout_ref.model.path, 'models/Qwen2.5-0.5B');
  assert.equal(c.critic.model.path, 'models/Qwen2.5-0.5B');
  assert.equal(c.trainer.n_gpus_per_node, 1);
  assert.equal(c.actor_rollout_ref.rollout.tensor_model_parallel_size, 1);
  assert.equal(c.data.train_batch_size, 256);
  assert.equal(c.data.max_response_length, 1024);
  assert.equal(c.actor_rollout_ref.actor.optim.lr, 1e-6);
  assert.equal(c.critic.optim.lr, 1e-5);
  assert.equal(c.algorithm.adv_estimator, 'gae');
  assert.equal(c.algorithm.kl_ctrl.kl_coef, 0.001);
  assert.equal(c.trainer.device, 'webgpu');
});

test('the GRPO variant named in its header resolves too', () => {
  const c = resolveConfig({ file: join(examples, 'countdown-qwen2.5-0.5b.yaml'), overrides: ['algorithm.adv_estimator=grpo', 'actor_rollout_ref.rollout.n=5'] });
  assert.equal(c.algorithm.adv_estimator, 'grpo');
  assert.equal(c.actor_rollout_ref.rollout.n, 5);
});
