// Short in-process GRPO runs with DAPO dynamic sampling (algorithm.filter_groups) on digit
// completion: groups whose samples all score the same are dropped and generation goes on; an
// all-identical policy (greedy) gives up past max_num_gen_batches; and a run resumed from a
// mid-run checkpoint reproduces the uninterrupted run, data position included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/index.js';
import { readParquet, writeParquet } from '../../src/data/index.js';
import { readMetricsJsonl } from '../../src/tracking/index.js';
import { readTrainerState, train } from '../../src/trainer/index.js';

const root = new URL('../../../', import.meta.url).pathname;
const TRAIN_BATCH = 4;
const GEN_BATCH = 8;

/**
 * 20 training prompts: 2 generation batches of 8 per epoch, so steps that need 2-3 batches cross
 * epoch boundaries (the loader reshuffles and goes on).
 */
async function dapoConfig(tmp: string, runDir: string, overrides: string[]) {
  const table = await readParquet(join(root, 'assets/data/digit-completion/train.parquet'));
  const trainFile = join(tmp, 'train.parquet');
  writeParquet(trainFile, table.rows.slice(0, 20), table.columns);
  process.chdir(root);
  return resolveConfig({
    file: join(root, 'examples/digit-completion-grpo.yaml'),
    overrides: [`data.train_files=${trainFile}`, `data.val_files=${trainFile}`, 'data.max_response_length=8',
      `data.train_batch_size=${TRAIN_BATCH}`, `data.gen_batch_size=${GEN_BATCH}`, 'actor_rollout_ref.rollout.n=4',
      'actor_rollout_ref.actor.ppo_mini_batch_size=4', 'actor_rollout_ref.actor.ppo_micro_batch_size=4', 'actor_rollout_ref.rollout.micro_batch_size=8',
      'algorithm.filter_groups.enable=true', 'algorithm.filter_groups.metric=seq_reward',
      `trainer.default_local_dir=${runDir}`, "trainer.logger=['jsonl']", 'trainer.threads=1',
      'trainer.val_before_train=false', 'trainer.test_freq=-1', ...overrides],
  });
}

function withoutTiming(runDir: string): { step: number; metrics: Record<string, number> }[] {
  return readMetricsJsonl(join(runDir, 'metrics.jsonl')).map((r) => ({
    step: r.step,
    metrics: Object.fromEntries(Object.entries(r.metrics).filter(([k]) => !k.startsWith('timing'))),
  }));
}

test('dynamic sampling: drops uniform groups, draws more generation batches, resumes exactly', { timeout: 120_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-dapo-'));
  try {
    const runA = join(tmp, 'A');
    const overrides = ['trainer.total_training_steps=4', 'trainer.save_freq=2'];
    await train(await dapoConfig(tmp, runA, overrides), { progress: false, log: () => {} });
    const a = withoutTiming(runA);
    assert.deepEqual(a.map((r) => r.step), [1, 2, 3, 4]);
    let drawn = 0;
    for (const { step, metrics } of a) {
      const batches = metrics['train/num_gen_batches']!;
      assert.ok(Number.isInteger(batches) && batches >= 1, `step ${step}: ${batches} generation batches`);
      assert.equal(metrics['train/num_gen_prompts'], batches * GEN_BATCH);
      assert.ok(metrics['train/num_kept_prompts']! >= TRAIN_BATCH, `step ${step}: enough groups kept`);
      // Every kept group varies in its score, so the trained batch does too.
      assert.ok(metrics['critic/score/min']! < metrics['critic/score/max']!, `step ${step}: scores vary`);
      assert.ok(Number.isFinite(metrics['actor/pg_loss']));
      drawn += batches;
      if (step === 2) assert.equal(readTrainerState(join(runA, 'global_step_2')).genBatches, drawn, 'the checkpoint holds the data position');
    }
    // An untrained policy gets most digit-completion prompts all wrong: some step has to draw again.
    assert.ok(a.some((r) => r.metrics['train/num_gen_batches']! > 1), 'some step drew more than one generation batch');
    assert.ok(drawn > 4, 'the data position ran ahead of the step count');
    assert.equal(readTrainerState(join(runA, 'global_step_4')).genBatches, drawn);

    // B: stopped after the step-2 checkpoint (a copy of A's) and started again with the same command.
    const runB = join(tmp, 'B');
    cpSync(join(runA, 'global_step_2'), join(runB, 'global_step_2'), { recursive: true });
    const log: string[] = [];
    await train(await dapoConfig(tmp, runB, overrides), { progress: false, log: (l) => log.push(l) });
    assert.ok(log.some((l) => /resumed from .*global_step_2 \(step 2\)/.test(l)), log.join('\n'));
    assert.deepEqual(withoutTiming(runB), a.slice(2));
    assert.equal(readTrainerState(join(runB, 'global_step_4')).genBatches, drawn);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('dynamic sampling gives up past max_num_gen_batches, naming the key', { timeout: 60_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-dapo-'));
  try {
    // Greedy sampling: the n samples of a prompt are identical, so every group is dropped.
    const config = await dapoConfig(tmp, join(tmp, 'run'), ['actor_rollout_ref.rollout.do_sample=false',
      'algorithm.filter_groups.max_num_gen_batches=2', 'trainer.total_training_steps=1', 'trainer.save_freq=-1']);
    await assert.rejects(train(config, { progress: false, log: () => {} }),
      /dynamic sampling: 2 generation batches gave 0 < 4 prompt groups .*raise algorithm\.filter_groups\.max_num_gen_batches/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('dynamic sampling on seq_final_reward with KL in the reward: β moves once a step, on the kept batch, and resumes exactly', { timeout: 180_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-dapo-'));
  try {
    // The filter metric needs the KL penalty of every generated row, so it is computed before filtering.
    const overrides = ['algorithm.filter_groups.metric=seq_final_reward', 'algorithm.kl_ctrl.type=adaptive', 'algorithm.kl_ctrl.kl_coef=0.05',
      'algorithm.kl_ctrl.target_kl=0.01', 'algorithm.kl_ctrl.horizon=100', 'trainer.total_training_steps=3', 'trainer.save_freq=2'];
    const runA = join(tmp, 'A');
    await train(await dapoConfig(tmp, runA, overrides), { progress: false, log: () => {} });
    const a = withoutTiming(runA);
    assert.deepEqual(a.map((r) => r.step), [1, 2, 3]);
    // Step 1: the policy is the reference, so KL is 0 and the rewards are the scores.
    assert.equal(a[0]!.metrics['critic/kl'], 0);
    assert.equal(a[0]!.metrics['critic/rewards/mean'], a[0]!.metrics['critic/score/mean']);
    let beta = 0.05;
    for (const { step, metrics } of a) {
      assert.equal(metrics['critic/kl_coeff'], beta, `step ${step}: the penalty used the controller's β`);
      // One update per step with the kept batch's KL over its train_batch_size·n rows.
      const error = Math.min(0.2, Math.max(-0.2, metrics['critic/kl']! / 0.01 - 1));
      beta *= 1 + (error * TRAIN_BATCH * 4) / 100;
    }
    assert.ok(a[1]!.metrics['critic/kl']! > 0, 'the policy moved away from the reference');
    assert.notEqual(a[1]!.metrics['critic/rewards/mean'], a[1]!.metrics['critic/score/mean']);
    assert.equal(readTrainerState(join(runA, 'global_step_3')).klCoef, beta);

    const runB = join(tmp, 'B');
    cpSync(join(runA, 'global_step_2'), join(runB, 'global_step_2'), { recursive: true });
    await train(await dapoConfig(tmp, runB, overrides), { progress: false, log: () => {} });
    assert.deepEqual(withoutTiming(runB), a.slice(2), 'the resumed run restores β and the data position');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
