// One PPO step of the digit-completion example on the WebGPU backend gives the CPU backend's
// rollout and losses. Skipped, with the reason, where no WebGPU adapter exists at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig, type Device } from '../../src/config/index.js';
import { readMetricsJsonl } from '../../src/tracking/index.js';
import { train } from '../../src/trainer/index.js';
import { openWebGpu } from '../backend/webgpu-harness.js';

const root = new URL('../../../', import.meta.url).pathname;
const probe = await openWebGpu();
probe.gpu?.destroy();

async function oneStep(device: Device, dir: string): Promise<Record<string, number>> {
  process.chdir(root);
  const config = resolveConfig({
    file: join(root, 'examples/digit-completion.yaml'),
    overrides: [`trainer.device=${device}`, 'data.train_batch_size=8', 'data.max_response_length=8',
      'actor_rollout_ref.actor.ppo_mini_batch_size=4', 'critic.ppo_mini_batch_size=4', 'actor_rollout_ref.actor.ppo_micro_batch_size=2',
      'critic.ppo_micro_batch_size=2', 'trainer.total_training_steps=1', 'trainer.val_before_train=false', 'trainer.test_freq=-1',
      'trainer.save_freq=-1', `trainer.default_local_dir=${dir}`, "trainer.logger=['jsonl']"],
  });
  await train(config, { progress: false, log: () => {} });
  return readMetricsJsonl(join(dir, 'metrics.jsonl'))[0]!.metrics;
}

test('a PPO step on WebGPU matches the CPU backend', { skip: probe.skip, timeout: 300_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-webgpu-step-'));
  try {
    const cpu = await oneStep('cpu', join(tmp, 'cpu'));
    const gpu = await oneStep('webgpu', join(tmp, 'gpu'));
    // Same sampled responses, so the same scores and lengths exactly.
    for (const k of ['critic/score/mean', 'response_length/mean', 'response_length/max']) assert.equal(gpu[k], cpu[k], k);
    for (const k of ['actor/pg_loss', 'actor/entropy_loss', 'actor/grad_norm', 'actor/ppo_kl', 'critic/vf_loss', 'critic/grad_norm', 'critic/values/mean', 'critic/advantages/max']) {
      assert.ok(Math.abs(gpu[k]! - cpu[k]!) <= 1e-4 * Math.max(1, Math.abs(cpu[k]!)), `${k}: webgpu ${gpu[k]} vs cpu ${cpu[k]}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
