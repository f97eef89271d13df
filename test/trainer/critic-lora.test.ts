// PPO + GAE with LoRA on the critic (critic.model.lora_rank > 0) on digit completion: the same two
// steps on the reference and CPU (f16 base) backends, and WebGPU against the CPU; the critic's checkpoint holds PEFT adapters
// plus the value head (modules_to_save) and resumes exactly; bad critic LoRA keys refused in one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig, type Device } from '../../src/config/index.js';
import { readSafetensors } from '../../src/models/safetensors.js';
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
    file: join(root, 'examples/digit-completion.yaml'),
    overrides: [`trainer.device=${device}`, 'data.train_batch_size=8', 'data.max_response_length=8',
      'actor_rollout_ref.actor.ppo_mini_batch_size=8', 'actor_rollout_ref.actor.ppo_micro_batch_size=4',
      'actor_rollout_ref.rollout.micro_batch_size=8', 'actor_rollout_ref.rollout.log_prob_micro_batch_size=8', 'actor_rollout_ref.ref.log_prob_micro_batch_size=8',
      'critic.ppo_mini_batch_size=4', 'critic.ppo_micro_batch_size=2', 'critic.forward_micro_batch_size=8', 'critic.optim.lr=5e-3',
      'critic.model.lora_rank=4', 'critic.model.lora_alpha=8', 'critic.model.target_modules=[q_proj,v_proj,down_proj]', 'trainer.frozen_weight_dtype=f16',
      'trainer.total_training_steps=2', 'trainer.val_before_train=false', 'trainer.test_freq=-1', 'trainer.save_freq=1',
      `trainer.default_local_dir=${dir}`, "trainer.logger=['jsonl']", 'trainer.threads=1', ...extra],
  });
}

async function run(device: Device, dir: string, extra: string[] = []): Promise<{ metrics: Record<string, number>[]; log: string[] }> {
  const log: string[] = [];
  await train(config(device, dir, extra), { progress: false, log: (l) => log.push(l) });
  return { metrics: readMetricsJsonl(join(dir, 'metrics.jsonl')).map((r) => r.metrics), log };
}

const compared = ['critic/vf_loss', 'critic/grad_norm', 'critic/vpred_mean', 'critic/values/mean', 'actor/pg_loss', 'actor/grad_norm', 'critic/score/mean'];


test('GAE with critic LoRA: reference and CPU (f16 base) agree, the critic checkpoint is PEFT adapters + value head, resume is exact',
  { timeout: 300_000 }, async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-critic-lora-'));
    try {
      const cpu = await run('cpu', join(tmp, 'cpu'));
      const ref = await run('reference', join(tmp, 'ref'));
      assertStepMetricsClose(cpu.metrics, ref.metrics, compared, 'cpu vs reference', 1e-4);
      const plan = cpu.log.join('\n');
      assert.match(plan, /critic base \(frozen, f16 matrices\)/);
      assert.match(plan, /critic LoRA adapters \(r=4\) \+ value head, f32/);
      // The value head moves and the adapters learn: step 2's values differ from step 1's.
      assert.notEqual(cpu.metrics[1]!['critic/values/mean'], cpu.metrics[0]!['critic/values/mean']);

      const ckpt = join(tmp, 'cpu', 'global_step_2', 'critic');
      assert.deepEqual(readdirSync(ckpt).sort(), ['adapter_config.json', 'adapter_model.safetensors', 'optimizer.safetensors']);
      const adapterConfig = JSON.parse(readFileSync(join(ckpt, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(adapterConfig.task_type, 'TOKEN_CLS');
      assert.deepEqual(adapterConfig.modules_to_save, ['score']);
      assert.deepEqual(adapterConfig.target_modules, ['q_proj', 'v_proj', 'down_proj']);
      assert.equal(adapterConfig.r, 4);
      const { tensors } = readSafetensors(join(ckpt, 'adapter_model.safetensors'));
      const names = [...tensors.keys()];
      assert.deepEqual(tensors.get('base_model.model.score.weight')?.shape, [1, 128]);
      assert.deepEqual(tensors.get('base_model.model.score.bias')?.shape, [1]);
      assert.ok(tensors.has('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'));
      assert.ok(tensors.has('base_model.model.model.layers.0.mlp.down_proj.lora_B.weight'));
      assert.ok(!names.some((n) => n.includes('k_proj') || n.includes('embed_tokens')), 'only the adapters and the head are saved');
      assert.ok(existsSync(join(tmp, 'cpu', 'global_step_2', 'actor', 'model.safetensors')), 'the actor is fully fine-tuned');

      // Resume: one step, then the same command with two steps continues from the step-1 checkpoint.
      const dir = join(tmp, 'resumed');
      await run('cpu', dir, ['trainer.total_training_steps=1']);
      const resumed = await run('cpu', dir);
      assert.equal(resumed.metrics.length, 2);
      for (const k of compared) assert.equal(resumed.metrics[1]![k], cpu.metrics[1]![k], `resumed step 2 ${k}`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

test('GAE with critic LoRA on WebGPU matches the CPU backend', { skip: probe.skip, timeout: 300_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-critic-lora-webgpu-'));
  try {
    // f32 weights on both: the software adapter has no shader-f16.
    const cpu = await run('cpu', join(tmp, 'cpu'), ['trainer.frozen_weight_dtype=f32', 'trainer.save_freq=-1']);
    const gpu = await run('webgpu', join(tmp, 'gpu'), ['trainer.frozen_weight_dtype=f32', 'trainer.save_freq=-1']);
    assertStepMetricsClose(gpu.metrics, cpu.metrics, compared, 'webgpu vs cpu', 1e-4);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('bad critic LoRA keys: one clear line each, before anything is written', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-critic-lora-bad-'));
  try {
    const oneLine = (re: RegExp) => (err: unknown): boolean => {
      const message = (err as Error).message;
      assert.match(message, re);
      assert.equal(message.trim().split('\n').length, 1, message);
      return true;
    };
    // A config error lists its problems one a line under a heading: exactly one here.
    assert.throws(() => config('cpu', join(tmp, 'a'), ['critic.model.lora_rank=-1']), (err: unknown) => {
      const problems = (err as Error).message.split('\n').filter((l) => l.startsWith('  - '));
      assert.equal(problems.length, 1, (err as Error).message);
      assert.match(problems[0]!, /critic\.model\.lora_rank = -1: expected an integer ≥ 0/);
      return true;
    });
    await assert.rejects(train(config('cpu', join(tmp, 'b'), ['critic.model.target_modules=[c_attn]']), { progress: false, log: () => {} }),
      oneLine(/^critic\.model\.target_modules: c_attn names no Linear module of the model; it has q_proj/));
    await assert.rejects(train(config('cpu', join(tmp, 'c'), ['critic.model.target_modules=[q_proj,score]']), { progress: false, log: () => {} }),
      oneLine(/^critic\.model\.target_modules: score trains in full \(modules_to_save\)/));
    for (const d of ['b', 'c']) assert.ok(!existsSync(join(tmp, d, 'global_step_1')), 'no checkpoint');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
