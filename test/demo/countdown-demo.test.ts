// A shortened `npm start` (examples/countdown-tiny.yaml): the bundled base model, the bundled
// Countdown data and TinyZero's reward, a few GRPO steps at tiny sizes, and the end-of-run summary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accuracyLines, lastStepLine } from '../../src/cli/train.js';
import { resolveConfig } from '../../src/config/index.js';
import { readParquet, writeParquet } from '../../src/data/index.js';
import { readMetricsJsonl } from '../../src/tracking/index.js';
import { train } from '../../src/trainer/index.js';

const root = new URL('../../../', import.meta.url).pathname;

test('the Countdown demo config runs end to end at tiny sizes and reports accuracy before and after', { timeout: 300_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-demo-'));
  try {
    const table = await readParquet(join(root, 'assets/data/countdown-3/test.parquet'));
    const val = join(tmp, 'val.parquet');
    writeParquet(val, table.rows.slice(0, 8), table.columns);
    process.chdir(root);
    const config = resolveConfig({
      file: join(root, 'examples/countdown-tiny.yaml'),
      overrides: [
        `data.val_files=${val}`, 'data.train_batch_size=4', 'data.max_response_length=48', 'actor_rollout_ref.rollout.n=4',
        'actor_rollout_ref.actor.ppo_mini_batch_size=2', 'actor_rollout_ref.actor.ppo_micro_batch_size=2',
        'trainer.total_training_steps=2', 'trainer.test_freq=2', 'trainer.save_freq=2',
        `trainer.default_local_dir=${join(tmp, 'run')}`, "trainer.logger=['jsonl']", 'trainer.threads=1',
      ],
    });
    const lines: string[] = [];
    const summary = await train(config, { progress: false, log: (l) => lines.push(l) });
    assert.equal(summary.lastStep, 2);
    for (const m of [summary.initialValidation, summary.finalValidation]) {
      assert.ok(m && Number.isFinite(m['val/accuracy/countdown']) && Number.isFinite(m['val/test_score/countdown']), JSON.stringify(m));
    }
    // One sampled response per step on the log (trainer.log_samples: 1).
    assert.equal(lines.filter((l) => l.startsWith('  sample (step ')).length, 2);
    assert.ok(existsSync(join(tmp, 'run', 'global_step_2', 'actor', 'model.safetensors')));
    const records = readMetricsJsonl(join(tmp, 'run', 'metrics.jsonl'));
    assert.deepEqual(records.map((r) => r.step), [0, 1, 2]);
    const text = accuracyLines(summary.initialValidation, summary.finalValidation) + lastStepLine(summary.lastMetrics);
    assert.match(text, /held-out accuracy \(share of reward 1\.0\) on countdown: \d+\.\d% -> \d+\.\d%; mean reward \d\.\d{3} -> \d\.\d{3}/);
    assert.match(text, /last training step: mean reward \d\.\d{3}, mean response length \d+\.\d tokens/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('the summary lines name each data source and read n/a where a validation is missing', () => {
  const after = { 'val/accuracy/countdown': 0.3125, 'val/test_score/countdown': 0.38 };
  assert.equal(accuracyLines(null, after), '  held-out accuracy (share of reward 1.0) on countdown: n/a -> 31.3%; mean reward n/a -> 0.380\n');
  assert.equal(lastStepLine(null), '');
  assert.equal(lastStepLine({ 'critic/score/mean': 0.25, 'response_length/mean': 61.5 }), '  last training step: mean reward 0.250, mean response length 61.5 tokens\n');
});
