// examples/countdown-qwen2.5-0.5b.yaml (TinyZero's single-GPU run) passes validation and keeps
// train_tiny_zero.sh's settings with one GPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/index.js';
import { parseModelConfig } from '../../src/models/config.js';
import { memoryPlan, type BackendLimits } from '../../src/trainer/memory-plan.js';

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

test("the Qwen examples' micro-batch logits fit a WebGPU adapter that binds 2 GiB (H200: 2 GiB - 4)", () => {
  const qwen = (hidden: number, inter: number, layers: number, heads: number) => parseModelConfig({
    model_type: 'qwen2', vocab_size: 151936, hidden_size: hidden, intermediate_size: inter, num_hidden_layers: layers,
    num_attention_heads: heads, num_key_value_heads: 2, max_position_embeddings: 32768, tie_word_embeddings: true,
  });
  const gpu: BackendLimits = { name: 'webgpu', maxBufferBytes: 2 ** 31 - 4, maxBufferLimit: 'maxStorageBufferBindingSize', weightDtype: 'f32' };
  for (const [file, model] of [['countdown-qwen2.5-0.5b.yaml', qwen(896, 4864, 24, 14)], ['countdown-qwen2.5-3b.yaml', qwen(2048, 11008, 36, 16)]] as const) {
    const c = resolveConfig({ file: join(examples, file) });
    assert.equal(c.actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu, 2048, file);
    const plan = memoryPlan(model, model, c, gpu);
    assert.equal(plan.problem, null, `${file}: ${plan.problem}`);
    assert.ok(plan.largestBufferBytes > 2 ** 30, `${file}: the logits are the largest buffer (${plan.largestBufferBytes})`);
  }
});
