// GRPO with LoRA (actor_rollout_ref.model.lora_rank > 0) on digit completion: the same two steps on
// the reference, CPU (f16 base) and WebGPU backends; checkpoints hold PEFT adapters and resume
// exactly; bad LoRA keys refused before any work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig, type Device } from '../../src/config/index.js';
import { readMetricsJsonl } from '../../src/tracking/index.js';
import { train } from '../../src/trainer/index.js';
import { openWebGpu } from '../backend/webgpu-harness.js';
import { assertStepMetricsClose } from '../helpers/step-metrics.js';

const root = new URL('../../../', import.meta.url).pathname;
const probe = await openWebGpu();
probe.gpu?.destroy();

function config(device: Device, dir: string, extra: string[] = []) {
  process.chdir(root);
  return resolveConfig({
    file: join(root, 'examples/digit-completion-grpo.yaml'),
    overrides: [`trainer.device=${device}`, 'data.train_batch_size=4', 'data.max_response_length=8',
      'actor_rollout_ref.rollout.n=4', 'actor_rollout_ref.actor.ppo_mini_batch_size=4', 'actor_rollout_ref.actor.ppo_micro_batch_size=2', 'actor_rollout_ref.actor.ppo_epochs=1',
      'actor_rollout_ref.rollout.micro_batch_size=4', 'actor_rollout_ref.rollout.log_prob_micro_batch_size=4', 'actor_rollout_ref.ref.log_prob_micro_batch_size=4',
      'actor_rollout_ref.actor.use_kl_loss=true', 'actor_rollout_ref.actor.kl_loss_coef=0.1', 'actor_rollout_ref.actor.optim.lr=5e-3',
      'actor_rollout_ref.model.lora_rank=4', 'actor_rollout_ref.model.lora_alpha=8', 'trainer.frozen_weight_dtype=f16',
      'trainer.total_training_steps=2', 'trainer.val_before_train=false', 'trainer.test_freq=-1', 'trainer.save_freq=1',
      `trainer.default_local_dir=${dir}`, "trainer.logger=['jsonl']", 'trainer.threads=1', ...extra],
  });
}

async function run(device: Device, dir: string, extra: string[] = []): Promise<Record<string, number>[]> {
  const lines: string[] = [];
  await train(config(device, dir, extra), { progress: false, log: (l) => lines.push(l) });
  assert.ok(lines.some((l) => l.startsWith('memory plan (')), 'the memory plan is printed');
  return readMetricsJsonl(join(dir, 'metrics.jsonl')).map((r) => r.metrics);
}

const compared = ['actor/pg_loss', 'actor/kl_loss', 'actor/grad_norm', 'actor/ppo_kl', 'critic/score/mean', 'response_length/mean'];


test('GRPO with LoRA: reference and CPU (f16 base) agree, the KL to the base grows from 0, checkpoints are PEFT adapters and resume exactly',
  { timeout: 300_000 }, async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-lora-step-'));
    try {
      const cpu = await run('cpu', join(tmp, 'cpu'));
      const ref = await run('reference', join(tmp, 'ref'));
      assertStepMetricsClose(cpu, ref, compared, 'cpu vs reference', 1e-4);
      assert.equal(cpu[0]!['actor/kl_loss'], 0, 'step 1 (one mini-batch, one epoch) updates from the base: adapters off = on');
      assert.ok(cpu[1]!['actor/kl_loss']! > 0, 'after one update the adapters move the policy away from the reference');
      const ckpt = join(tmp, 'cpu', 'global_step_2', 'actor');
      assert.deepEqual(readdirSync(ckpt).sort(), ['adapter_config.json', 'adapter_model.safetensors', 'optimizer.safetensors']);

      // Resume: one step, then the same command with two steps continues from the step-1 checkpoint.
      const dir = join(tmp, 'resumed');
      await run('cpu', dir, ['trainer.total_training_steps=1']);
      const resumed = await run('cpu', dir);
      assert.equal(resumed.length, 2);
      for (const k of compared) assert.equal(resumed[1]![k], cpu[1]![k], `resumed step 2 ${k}`);
      assert.ok(existsSync(join(dir, 'global_step_2', 'actor', 'adapter_model.safetensors')));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

test('GRPO with LoRA on WebGPU matches the CPU backend', { skip: probe.skip, timeout: 300_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-lora-webgpu-'));
  try {
    // f32 weights on both: the software adapter has no shader-f16.
    const cpu = await run('cpu', join(tmp, 'cpu'), ['trainer.frozen_weight_dtype=f32']);
    const gpu = await run('webgpu', join(tmp, 'gpu'), ['trainer.frozen_weight_dtype=f32']);
    assertStepMetricsClose(gpu, cpu, compared, 'webgpu vs cpu', 1e-4);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('bad LoRA keys: one clear line each, before anything is loaded or written', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-lora-bad-'));
  try {
    assert.throws(() => config('cpu', join(tmp, 'a'), ['actor_rollout_ref.model.lora_rank=-1']), /actor_rollout_ref\.model\.lora_rank/);
    assert.throws(() => config('cpu', join(tmp, 'a'), ['actor_rollout_ref.model.lora_rank=1.5']), /actor_rollout_ref\.model\.lora_rank/);
    assert.throws(() => config('cpu', join(tmp, 'a'), ['actor_rollout_ref.model.lora_alpha=0']), /actor_rollout_ref\.model\.lora_alpha.*non-zero/);
    await assert.rejects(train(config('cpu', join(tmp, 'b'), ['actor_rollout_ref.model.target_modules=[c_attn]']), { progress: false, log: () => {} }),
      /actor_rollout_ref\.model\.target_modules: c_attn names no Linear module of the model; it has q_proj/);
    assert.ok(!existsSync(join(tmp, 'b', 'global_step_1')), 'no checkpoint');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
