// What a run checks at start, before any generation: model length limits, reward columns of every
// row, and temperature 0 (greedy rollouts) training like any other temperature.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/index.js';
import { readParquet, writeParquet, type Row } from '../../src/data/index.js';
import { readMetricsJsonl } from '../../src/tracking/index.js';
import { train } from '../../src/trainer/index.js';

const root = new URL('../../../', import.meta.url).pathname;
const quiet = { progress: false, log: () => {} };

/** The Countdown demo's config on a copy of its data, rows changed by `edit`. */
async function countdownRun(tmp: string, edit: (rows: Row[]) => void, overrides: string[] = []) {
  const table = await readParquet(join(root, 'assets/data/countdown-3/test.parquet'));
  const rows = table.rows.slice(0, 8).map((r) => structuredClone(r));
  edit(rows);
  const file = join(tmp, 'rows.parquet');
  writeParquet(file, rows, table.columns);
  process.chdir(root);
  return resolveConfig({
    file: join(root, 'examples/countdown-tiny.yaml'),
    overrides: [`data.train_files=${file}`, `data.val_files=${file}`, 'data.train_batch_size=4', 'actor_rollout_ref.actor.ppo_mini_batch_size=4', `trainer.default_local_dir=${join(tmp, 'run')}`,
      "trainer.logger=['jsonl']", 'trainer.threads=1', ...overrides],
  });
}

test('a row without ground_truth or with an unknown data_source fails at load, naming file and row', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-rows-'));
  try {
    const file = join(tmp, 'rows.parquet');
    const noTruth = await countdownRun(tmp, (rows) => { (rows[3]!.reward_model as Record<string, unknown>).ground_truth = null; });
    await assert.rejects(train(noTruth, quiet), (e: Error) => e.message === `${file}: row 3: reward_model.ground_truth is missing; the 'countdown' reward compares the response with it`);
    const unknown = await countdownRun(tmp, (rows) => { rows[5]!.data_source = 'my/countdwn'; });
    await assert.rejects(train(unknown, quiet), new RegExp(`^Error: ${file}: row 5: no reward function for data_source "my/countdwn": expected 'openai/gsm8k'`));
    const missing = await countdownRun(tmp, (rows) => { delete rows[0]!.data_source; });
    await assert.rejects(train(missing, quiet), new RegExp(`${file}: row 0: data_source is missing`));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('prompt + response longer than the model\'s max_position_embeddings fails at start, naming config.json', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-len-'));
  try {
    // The bundled base model has 512 positions; 1e12 used to fail with "Invalid typed array length".
    for (const [length, sum] of [['1e12', '1000000000016'], ['497', '513']] as const) {
      const config = await countdownRun(tmp, () => {}, [`data.max_response_length=${length}`]);
      await assert.rejects(train(config, quiet), (e: Error) => e.message ===
        `data.max_prompt_length + data.max_response_length = 16 + ${Number(length)} = ${sum} is more than max_position_embeddings 512 in assets/models/countdown-base/config.json`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('rollout.temperature=0 trains on greedy rollouts (log-probs at temperature 1)', { timeout: 120_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-greedy-'));
  try {
    const config = await countdownRun(tmp, () => {}, [
      'actor_rollout_ref.rollout.temperature=0', 'actor_rollout_ref.rollout.n=2',
      'actor_rollout_ref.actor.ppo_micro_batch_size=4', 'data.max_response_length=24', 'trainer.total_training_steps=1',
      'trainer.val_before_train=false', 'trainer.test_freq=-1', 'trainer.save_freq=-1',
    ]);
    const summary = await train(config, quiet);
    assert.equal(summary.lastStep, 1);
    const step1 = readMetricsJsonl(join(tmp, 'run', 'metrics.jsonl')).find((r) => r.step === 1)!.metrics;
    for (const key of ['actor/pg_loss', 'actor/pg_clipfrac', 'actor/ppo_kl', 'response_length/mean']) {
      assert.ok(Number.isFinite(step1[key]), `${key} = ${step1[key]}`);
    }
    // The same greedy responses are scored under the policy that produced them: ratio 1, no clipping.
    assert.ok(Math.abs(step1['actor/ppo_kl']!) < 1e-4, `ppo_kl ${step1['actor/ppo_kl']}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
