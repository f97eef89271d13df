// Short in-process runs: GRPO without a critic, and a diverging run that must stop cleanly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/index.js';
import { readParquet, writeParquet } from '../../src/data/index.js';
import { readMetricsJsonl } from '../../src/tracking/index.js';
import { NonFiniteError, train } from '../../src/trainer/index.js';

const root = new URL('../../../', import.meta.url).pathname;

async function tinyRun(tmp: string, example: string, overrides: string[]) {
  const table = await readParquet(join(root, 'assets/data/digit-completion/test.parquet'));
  const val = join(tmp, 'val.parquet');
  writeParquet(val, table.rows.slice(0, 8), table.columns);
  process.chdir(root);
  return resolveConfig({
    file: join(root, 'examples', example),
    overrides: [`data.val_files=${val}`, 'data.max_response_length=10', `trainer.default_local_dir=${join(tmp, 'run')}`,
      "trainer.logger=['jsonl']", 'trainer.threads=1', ...overrides],
  });
}

test('GRPO (n = 4) runs without a critic and logs its metrics', { timeout: 120_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-grpo-'));
  try {
    const config = await tinyRun(tmp, 'digit-completion-grpo.yaml', [
      'data.train_batch_size=8', 'actor_rollout_ref.rollout.n=4', 'actor_rollout_ref.actor.ppo_mini_batch_size=4',
      'actor_rollout_ref.actor.ppo_micro_batch_size=2', 'actor_rollout_ref.rollout.micro_batch_size=8',
      'trainer.total_training_steps=2', 'trainer.test_freq=2', 'trainer.save_freq=2',
    ]);
    const summary = await train(config, { progress: false, log: () => {} });
    assert.equal(summary.lastStep, 2);
    const records = readMetricsJsonl(join(tmp, 'run', 'metrics.jsonl'));
    assert.deepEqual(records.map((r) => r.step), [0, 1, 2]);
    const step1 = records[1]!.metrics;
    for (const key of ['actor/pg_loss', 'actor/grad_norm', 'critic/score/mean', 'critic/advantages/mean', 'response_length/mean', 'timing_s/gen']) {
      assert.ok(Number.isFinite(step1[key]), `${key} = ${step1[key]}`);
    }
    assert.equal(step1['critic/vf_loss'], undefined, 'no critic under GRPO');
    // Group-normalised advantages have mean 0 over each group's tokens only approximately; over rows they centre near 0.
    assert.ok(Math.abs(step1['critic/advantages/mean']!) < 1.5);
    assert.ok(existsSync(join(tmp, 'run', 'global_step_2', 'actor', 'model.safetensors')));
    assert.ok(!existsSync(join(tmp, 'run', 'global_step_2', 'critic')));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('a diverging run stops with a clear message and keeps its last checkpoint intact', { timeout: 120_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-nan-'));
  try {
    const config = await tinyRun(tmp, 'digit-completion.yaml', [
      'data.train_batch_size=8', 'actor_rollout_ref.actor.ppo_mini_batch_size=8', 'actor_rollout_ref.actor.ppo_micro_batch_size=8',
      'critic.ppo_mini_batch_size=8', 'critic.ppo_micro_batch_size=8', 'actor_rollout_ref.actor.optim.lr=1e30',
      'critic.optim.lr=1e30', 'trainer.total_training_steps=6', 'trainer.save_freq=1', 'trainer.test_freq=-1', 'trainer.val_before_train=false',
    ]);
    await assert.rejects(train(config, { progress: false, log: () => {} }), (e: Error) => {
      assert.ok(e instanceof NonFiniteError, String(e));
      assert.match(e.message, /is (NaN|Infinity|-Infinity) at step \d+: training stopped before the optimizer step/);
      return true;
    });
    const dirs = readdirSync(join(tmp, 'run'));
    assert.ok(dirs.some((d) => d.startsWith('global_step_')), 'a checkpoint was written before the divergence');
    assert.ok(!dirs.some((d) => d.includes('.tmp')), `no half-written checkpoint: ${dirs.join(', ')}`);
    for (const d of dirs.filter((n) => n.startsWith('global_step_'))) {
      assert.ok(existsSync(join(tmp, 'run', d, 'trainer_state.json')));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('ReMax (greedy baseline) with DAPO overlong shaping runs and logs the penalty', { timeout: 120_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-remax-'));
  try {
    const config = await tinyRun(tmp, 'digit-completion-grpo.yaml', [
      'algorithm.adv_estimator=remax', 'data.train_batch_size=8', 'actor_rollout_ref.rollout.n=2',
      'actor_rollout_ref.actor.ppo_mini_batch_size=8', 'actor_rollout_ref.actor.ppo_micro_batch_size=4',
      'reward_model.overlong_buffer.enable=true', 'reward_model.overlong_buffer.len=4',
      'reward_model.overlong_buffer.penalty_factor=1.0', 'reward_model.overlong_buffer.log=true',
      'trainer.total_training_steps=1', 'trainer.test_freq=-1', 'trainer.save_freq=-1', 'trainer.val_before_train=false',
    ]);
    await train(config, { progress: false, log: () => {} });
    const [record] = readMetricsJsonl(join(tmp, 'run', 'metrics.jsonl'));
    const penalty = record!.metrics['critic/overlong_penalty/mean']!;
    assert.ok(penalty <= 0 && penalty >= -1, `penalty ${penalty}`);
    // A random model often runs to the 10-token limit, which costs the full penalty factor.
    if (record!.metrics['response_length/clip_ratio']! > 0) assert.ok(penalty < 0);
    assert.ok(Number.isFinite(record!.metrics['actor/pg_loss']));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
