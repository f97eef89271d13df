// The memory plan (trainer/memory-plan.ts) on Qwen2.5-0.5B's shapes: exact weight figures by dtype,
// LoRA fitting the CPU backend where full fine-tuning does not, and the refusal naming what fits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../../src/config/index.js';
import { parseModelConfig } from '../../src/models/config.js';
import { formatMemoryPlan, memoryPlan, refusal, type BackendLimits } from '../../src/trainer/memory-plan.js';

const root = new URL('../../../', import.meta.url).pathname;
const qwen05 = parseModelConfig({
  architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_size: 896, num_hidden_layers: 24, num_attention_heads: 14,
  num_key_value_heads: 2, intermediate_size: 4864, vocab_size: 151936, tie_word_embeddings: true, rope_theta: 1000000,
  rms_norm_eps: 1e-6, max_position_embeddings: 32768, hidden_act: 'silu', eos_token_id: 0,
});
const cpu: BackendLimits = { name: 'cpu', capacityBytes: 2 ** 32 - 65536, weightDtype: 'f16' };

function runConfig(extra: string[]) {
  process.chdir(root);
  return resolveConfig({
    file: `${root}examples/countdown-tiny.yaml`,
    overrides: ['data.train_batch_size=4', 'data.max_response_length=64', 'actor_rollout_ref.rollout.n=4',
      'actor_rollout_ref.actor.ppo_mini_batch_size=4', 'actor_rollout_ref.actor.ppo_micro_batch_size=1',
      'actor_rollout_ref.rollout.micro_batch_size=4', 'actor_rollout_ref.rollout.log_prob_micro_batch_size=1',
      'actor_rollout_ref.ref.log_prob_micro_batch_size=1', 'actor_rollout_ref.actor.use_kl_loss=true', ...extra],
  });
}

const matrices = 151936 * 896 + 24 * (896 * 896 + 2 * 896 * 128 + 896 * 896 + 3 * 896 * 4864);
const vectors = 24 * (896 + 2 * 128 + 2 * 896) + 896; // q/k/v biases, two norms per layer, the final norm
const byItem = (rows: { item: string; bytes: number }[], prefix: string): number => {
  const r = rows.find((x) => x.item.startsWith(prefix));
  assert.ok(r, `a row starting with '${prefix}' in ${rows.map((x) => x.item).join(' | ')}`);
  return r.bytes;
};

test('LoRA r=16 on an f16 base: weights by dtype exactly, adapters of every projection, one base for actor and reference; fits the 3.5 GiB usable of 4', () => {
  assert.equal(matrices + vectors, 494_032_768, "Qwen2.5-0.5B's parameter count");
  const plan = memoryPlan(qwen05, null, runConfig(['actor_rollout_ref.model.lora_rank=16']), cpu);
  assert.equal(byItem(plan.rows, 'actor base'), matrices * 2 + vectors * 4);
  const adapters = 16 * 24 * ((896 + 896) + 2 * (896 + 128) + (896 + 896) + 2 * (896 + 4864) + (4864 + 896));
  assert.equal(byItem(plan.rows, 'actor LoRA adapters'), adapters * 4);
  assert.equal(byItem(plan.rows, 'actor gradients'), adapters * 4);
  assert.equal(byItem(plan.rows, 'actor AdamW moments'), adapters * 8);
  assert.equal(byItem(plan.rows, 'reference'), 0);
  assert.equal(plan.problem, null);
  assert.ok(plan.peakBytes > matrices * 2 && plan.peakBytes < 3.5 * 2 ** 30);
  const table = formatMemoryPlan(plan, cpu);
  assert.match(table, /^memory plan \(cpu, GiB\):\n/);
  assert.match(table, /peak \(resident \+ largest phase\) +\d+\.\d+ of 3\.50 usable \(4\.00\)$/);
});

test('full fine-tuning of the same model is refused on the CPU, in one line that says what would fit', () => {
  const config = runConfig(['actor_rollout_ref.actor.ppo_micro_batch_size=4']);
  const f32: BackendLimits = { ...cpu, weightDtype: 'f32' };
  const plan = memoryPlan(qwen05, null, config, f32);
  assert.equal(byItem(plan.rows, 'actor weights'), (matrices + vectors) * 4);
  assert.equal(byItem(plan.rows, 'actor AdamW moments'), (matrices + vectors) * 8);
  assert.match(plan.problem ?? '', /needs \d+\.\d+ GiB at its peak, more than the 3\.50 GiB the plan allows of the cpu backend's 4\.00 GiB \(an eighth is kept for its allocator's rounding to size classes\)/);
  const line = refusal(qwen05, null, config, f32, plan);
  assert.equal(line.split('\n').length, 1);
  assert.match(line, /^memory plan: this run needs 14\.\d+ GiB at its peak, more than the 3\.50 GiB the plan allows of the cpu backend's 4\.00 GiB \([^)]*\); what would fit: LoRA with a smaller micro-batch \(actor_rollout_ref\.model\.lora_rank=16 trainer\.frozen_weight_dtype=f16 ppo_micro_batch_size=1 log_prob_micro_batch_size=1: \d+\.\d+ GiB\), trainer\.device=webgpu$/);
});

test('on WebGPU the largest buffer is checked against maxBufferSize', () => {
  const gpu: BackendLimits = { name: 'webgpu', maxBufferBytes: 256 * 2 ** 20, weightDtype: 'f32' };
  const plan = memoryPlan(qwen05, null, runConfig([]), gpu);
  assert.equal(plan.largestBufferBytes, 151936 * 896 * 4, 'the embedding table in f32');
  assert.match(plan.problem ?? '', /needs a 0\.51 GiB buffer, more than the webgpu adapter's maxBufferSize of 0\.25 GiB/);
  assert.equal(memoryPlan(qwen05, null, runConfig([]), { ...gpu, maxBufferBytes: 2 ** 30 }).problem, null);
});

test('critic LoRA: the backbone frozen in the weight dtype (no lm_head), adapters plus the f32 value head trained', () => {
  const config = runConfig(['actor_rollout_ref.model.lora_rank=16', 'algorithm.adv_estimator=gae', 'critic.model.lora_rank=8',
    'critic.model.target_modules=[q_proj,v_proj]', 'critic.ppo_micro_batch_size=1']);
  const plan = memoryPlan(qwen05, qwen05, config, cpu);
  const head = 896 + 1;
  assert.equal(byItem(plan.rows, 'critic base'), matrices * 2 + vectors * 4, 'tied embeddings: the one table, in f16');
  const trained = 8 * 24 * ((896 + 896) + (896 + 128)) + head;
  assert.equal(byItem(plan.rows, 'critic LoRA adapters (r=8) + value head'), trained * 4);
  assert.equal(byItem(plan.rows, 'critic gradients, moments'), trained * 12);
  assert.ok(!plan.rows.some((r) => r.item.startsWith('critic weights')));
  const full = memoryPlan(qwen05, qwen05, runConfig(['actor_rollout_ref.model.lora_rank=16', 'algorithm.adv_estimator=gae', 'critic.ppo_micro_batch_size=1']), cpu);
  assert.equal(byItem(full.rows, 'critic weights, gradients, moments'), (matrices + vectors + head) * 16);
  assert.ok(plan.peakBytes < full.peakBytes - (matrices + vectors) * 12);
});

test('with a full critic the refusal suggests LoRA on the critic too', () => {
  const config = runConfig(['algorithm.adv_estimator=gae', 'critic.ppo_micro_batch_size=1']);
  const f32: BackendLimits = { ...cpu, weightDtype: 'f32' };
  const plan = memoryPlan(qwen05, qwen05, config, f32);
  assert.ok(plan.problem);
  const line = refusal(qwen05, qwen05, config, f32, plan);
  assert.equal(line.split('\n').length, 1);
  const m = /LoRA \(actor_rollout_ref\.model\.lora_rank=16 critic\.model\.lora_rank=16 trainer\.frozen_weight_dtype=f16: (\d+\.\d+) GiB/.exec(line);
  assert.ok(m, line);
  // Its figure is the plan with both LoRAs on an f16 base (two bases: the critic's backbone is its own).
  const both = memoryPlan(qwen05, qwen05, runConfig(['algorithm.adv_estimator=gae', 'critic.ppo_micro_batch_size=1',
    'actor_rollout_ref.model.lora_rank=16', 'critic.model.lora_rank=16']), cpu);
  assert.equal(m[1], (both.peakBytes / 2 ** 30).toFixed(2));
  assert.ok(both.peakBytes < plan.peakBytes / 3);
});

test('on WebGPU the limit is the smaller of maxBufferSize and maxStorageBufferBindingSize, and log-prob logits count', () => {
  const gpu: BackendLimits = { name: 'webgpu', maxBufferBytes: 256 * 2 ** 20, maxBufferLimit: 'maxStorageBufferBindingSize', weightDtype: 'f32' };
  assert.match(memoryPlan(qwen05, null, runConfig([]), gpu).problem ?? '', /more than the webgpu adapter's maxStorageBufferBindingSize of 0\.25 GiB/);
  // 64 rows of a log-prob micro-batch: their logits outgrow the embedding table.
  const config = runConfig(['actor_rollout_ref.rollout.log_prob_micro_batch_size=64', 'actor_rollout_ref.ref.log_prob_micro_batch_size=64',
    'actor_rollout_ref.actor.ppo_micro_batch_size=1']);
  const plan = memoryPlan(qwen05, null, config, { ...gpu, maxBufferBytes: undefined });
  assert.ok(plan.largestBufferBytes > 151936 * 896 * 4, `${plan.largestBufferBytes}`);
});

test('with use_dynamic_bsz the refusal shrinks the token budgets (halving, never under one sequence), not the row counts it ignores', () => {
  const gpu: BackendLimits = { name: 'webgpu', maxBufferBytes: 2 ** 31 - 4, maxBufferLimit: 'maxStorageBufferBindingSize', weightDtype: 'f32' };
  const config = runConfig(['actor_rollout_ref.actor.use_dynamic_bsz=true', 'actor_rollout_ref.actor.ppo_max_token_len_per_gpu=16384',
    'actor_rollout_ref.model.use_remove_padding=true', 'data.train_batch_size=64', 'data.max_response_length=1024']);
  const plan = memoryPlan(qwen05, null, config, gpu);
  assert.match(plan.problem ?? '', /buffer, more than the webgpu adapter's maxStorageBufferBindingSize of 2\.00 GiB/);
  const line = refusal(qwen05, null, config, gpu, plan);
  // 151,936 logits x 4 bytes a token: 2,048 tokens (1.16 GiB) fit in 2 GiB, 4,096 do not.
  assert.match(line, /a smaller micro-batch \(actor_rollout_ref\.actor\.ppo_max_token_len_per_gpu=2048 actor_rollout_ref\.rollout\.log_prob_max_token_len_per_gpu=2048 actor_rollout_ref\.ref\.log_prob_max_token_len_per_gpu=2048: [\d.]+ GiB\)/);
  assert.doesNotMatch(line, /ppo_micro_batch_size=1/);
  const fixed = withTokenBudget(config, 2048);
  assert.equal(memoryPlan(qwen05, null, fixed, gpu).problem, null, 'the suggested budget fits');
});

test('use_fused_kernels: the logits of 441 rows at a time, so veRL\'s 16,384-token budget fits a 2 GiB binding limit; the refusal offers it first', () => {
  const gpu: BackendLimits = { name: 'webgpu', maxBufferBytes: 2 ** 31 - 4, maxBufferLimit: 'maxStorageBufferBindingSize', weightDtype: 'f32' };
  const overrides = ['actor_rollout_ref.actor.use_dynamic_bsz=true', 'actor_rollout_ref.actor.ppo_max_token_len_per_gpu=16384',
    'actor_rollout_ref.model.use_remove_padding=true', 'data.train_batch_size=64', 'data.max_response_length=1024'];
  const whole = memoryPlan(qwen05, null, runConfig(overrides), gpu);
  const line = refusal(qwen05, null, runConfig(overrides), gpu, whole);
  assert.match(line, /what would fit: the output layer in chunks \(actor_rollout_ref\.model\.use_fused_kernels=true: [\d.]+ GiB\)/);
  const fused = memoryPlan(qwen05, null, runConfig([...overrides, 'actor_rollout_ref.model.use_fused_kernels=true']), gpu);
  assert.equal(fused.problem, null);
  // 256 MiB of f32 logits: floor(2^28 / (151936 x 4)) = 441 rows; the largest buffer is now the embedding table.
  assert.equal(fused.largestBufferBytes, 151936 * 896 * 4);
  const update = (p: typeof fused) => byItem(p.rows, 'update activations');
  assert.match(fused.rows.find((r) => r.item.startsWith('update activations'))!.item, /logits 441 rows at a time/);
  // The update no longer holds 16,384 rows of logits and their gradient: 2 x (16384 - 441) rows fewer.
  assert.equal(update(whole) - update(fused), (16384 - 441) * 151936 * 4 * 2);
});

test('enable_gradient_checkpointing: the update holds the layers\' outputs and one layer; on the CPU a 1,024-token LoRA micro-batch is refused without it and offered it', () => {
  const lora = ['actor_rollout_ref.model.lora_rank=16', 'actor_rollout_ref.model.use_remove_padding=true', 'actor_rollout_ref.actor.use_dynamic_bsz=true',
    'actor_rollout_ref.rollout.log_prob_use_dynamic_bsz=true', 'actor_rollout_ref.ref.log_prob_use_dynamic_bsz=true', 'data.max_response_length=256',
    ...['actor.ppo_max_token_len_per_gpu', 'rollout.log_prob_max_token_len_per_gpu', 'ref.log_prob_max_token_len_per_gpu'].map((k) => `actor_rollout_ref.${k}=1024`)];
  const plain = memoryPlan(qwen05, null, runConfig(lora), cpu);
  assert.match(plain.problem ?? '', /more than the 3\.50 GiB the plan allows of the cpu backend's 4\.00 GiB/);
  const line = refusal(qwen05, null, runConfig(lora), cpu, plain);
  assert.match(line, /what would fit: checkpointed layers \(actor_rollout_ref\.model\.enable_gradient_checkpointing=true: [\d.]+ GiB\)/);
  // Chunked logits alone do not fit, so they are not offered; nor both, since one option alone fits.
  assert.doesNotMatch(line, /use_fused_kernels/);
  const checkpointed = memoryPlan(qwen05, null, runConfig([...lora, 'actor_rollout_ref.model.enable_gradient_checkpointing=true']), cpu);
  assert.equal(checkpointed.problem, null);
  assert.match(checkpointed.rows.find((r) => r.item.startsWith('update activations'))!.item, /, checkpointed\)$/);
  const both = memoryPlan(qwen05, null, runConfig([...lora, 'actor_rollout_ref.model.enable_gradient_checkpointing=true', 'actor_rollout_ref.model.use_fused_kernels=true']), cpu);
  assert.ok(both.peakBytes < checkpointed.peakBytes && checkpointed.peakBytes < plain.peakBytes / 2, `${both.peakBytes} < ${checkpointed.peakBytes} < ${plain.peakBytes} / 2`);
});

test('the critic\'s update is a phase of its own: at veRL\'s 32,768-token critic budget it sets the peak, and the refusal shrinks and checkpoints the critic too', () => {
  const gpu: BackendLimits = { name: 'webgpu', capacityBytes: 24 * 2 ** 30, maxBufferBytes: 2 ** 31 - 4, maxBufferLimit: 'maxStorageBufferBindingSize', weightDtype: 'f32' };
  const ppo = ['algorithm.adv_estimator=gae', 'actor_rollout_ref.model.use_remove_padding=true', 'critic.model.use_remove_padding=true',
    'actor_rollout_ref.actor.use_dynamic_bsz=true', 'critic.use_dynamic_bsz=true', 'data.train_batch_size=64', 'data.max_response_length=1024',
    'actor_rollout_ref.actor.ppo_mini_batch_size=64', 'actor_rollout_ref.model.lora_rank=16', 'critic.model.lora_rank=16',
    ...['actor.ppo_max_token_len_per_gpu', 'rollout.log_prob_max_token_len_per_gpu', 'ref.log_prob_max_token_len_per_gpu'].map((k) => `actor_rollout_ref.${k}=2048`)];
  const config = runConfig(ppo);
  assert.equal(config.critic.ppo_max_token_len_per_gpu, 32768);
  const plan = memoryPlan(qwen05, qwen05, config, gpu);
  const criticUpdate = byItem(plan.rows, 'critic update activations (micro-batch of <= 32768 packed tokens)');
  assert.ok(criticUpdate > byItem(plan.rows, 'update activations'), 'the critic\'s 32,768 tokens outweigh the actor\'s 2,048');
  assert.match(plan.problem ?? '', /more than the webgpu backend's 24\.00 GiB/);
  const line = refusal(qwen05, qwen05, config, gpu, plan);
  assert.match(line, /checkpointed layers \(actor_rollout_ref\.model\.enable_gradient_checkpointing=true critic\.model\.enable_gradient_checkpointing=true: [\d.]+ GiB\)/);
  assert.match(line, /critic\.ppo_max_token_len_per_gpu=\d+/);
  const checkpointed = memoryPlan(qwen05, qwen05, runConfig([...ppo, 'critic.model.enable_gradient_checkpointing=true']), gpu);
  assert.ok(byItem(checkpointed.rows, 'critic update activations') < criticUpdate / 5);
  // The values forward (no gradients) is a phase too, by critic.forward_max_token_len_per_gpu (the
  // critic's update budget unless set): one layer's intermediates a token, no logits.
  const values = byItem(plan.rows, 'critic values forward (<= 32768 packed tokens)');
  const smaller = memoryPlan(qwen05, qwen05, runConfig([...ppo, 'critic.forward_max_token_len_per_gpu=4096']), gpu);
  assert.equal(byItem(smaller.rows, 'critic values forward (<= 4096 packed tokens)') * 8, values);
});

function withTokenBudget(config: ReturnType<typeof runConfig>, budget: number) {
  const a = config.actor_rollout_ref;
  return { ...config, actor_rollout_ref: { ...a, actor: { ...a.actor, ppo_max_token_len_per_gpu: budget },
    rollout: { ...a.rollout, log_prob_max_token_len_per_gpu: budget }, ref: { ...a.ref, log_prob_max_token_len_per_gpu: budget } } };
}
