// A shortened `npm start` telling its story: the behaviour metrics of Countdown are logged for every
// training step and validation, greedy responses to the first held-out problems are printed before
// training and beside the ones after the last step, and the run folder keeps them (story.md,
// summary.json), the before-side from step 0 even when the run was resumed to finish.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { behaviorLines } from '../../src/cli/train.js';
import { resolveConfig } from '../../src/config/index.js';
import { readParquet, writeParquet } from '../../src/data/index.js';
import { readMetricsJsonl } from '../../src/tracking/index.js';
import { readStoryBefore, STORY_BEFORE_FILE, STORY_FILE, SUMMARY_FILE, train, type StoryState } from '../../src/trainer/index.js';

const root = new URL('../../../', import.meta.url).pathname;
const BEHAVIOR = ['tries_per_response', 'arith_correct', 'answer_after_passed_check', 'verdict_correct', 'response_length'];
const RESPONSE_LENGTH = 48;

/** A behaviour metric's value is finite and in its range (shares in [0, 1], lengths up to the response length). */
function assertInRange(key: string, v: unknown): void {
  assert.equal(typeof v, 'number', key);
  const x = v as number;
  assert.ok(Number.isFinite(x) && x >= 0, `${key}: ${x}`);
  if (/arith_correct|answer_after_passed_check|verdict_correct/.test(key)) assert.ok(x <= 1, `${key}: ${x}`);
  if (key.includes('response_length')) assert.ok(x <= RESPONSE_LENGTH, `${key}: ${x}`);
  // The base model writes at most a few tries in 48 tokens.
  if (key.includes('tries_per_response')) assert.ok(x <= RESPONSE_LENGTH / 8, `${key}: ${x}`);
}

test('a shortened demo logs the behaviour metrics and tells its before/after story, also across a resume', { timeout: 300_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-story-'));
  try {
    const table = await readParquet(join(root, 'assets/data/countdown-3/test.parquet'));
    const val = join(tmp, 'val.parquet');
    writeParquet(val, table.rows.slice(0, 6), table.columns);
    process.chdir(root);
    const runDir = join(tmp, 'run');
    const config = (steps: number) => resolveConfig({
      file: join(root, 'examples/countdown-tiny.yaml'),
      overrides: [
        `data.val_files=${val}`, 'data.train_batch_size=4', `data.max_response_length=${RESPONSE_LENGTH}`, 'actor_rollout_ref.rollout.n=4',
        'actor_rollout_ref.actor.ppo_mini_batch_size=2', 'actor_rollout_ref.actor.ppo_micro_batch_size=2',
        `trainer.total_training_steps=${steps}`, 'trainer.test_freq=1', 'trainer.save_freq=1',
        `trainer.default_local_dir=${runDir}`, "trainer.logger=['jsonl']", 'trainer.threads=1',
      ],
    });

    // One step, then the same run resumed to two: the second part has no validation before training.
    const lines1: string[] = [];
    const first = await train(config(1), { progress: false, log: (l) => lines1.push(l) });
    const before = first.story?.before;
    assert.ok(before && first.story, 'a run that validates before and at its end has a story');
    assert.equal(before.step, 0);
    assert.equal(first.story.after.step, 1);
    assert.deepEqual(readStoryBefore(runDir), before);
    // Before training: the first three held-out problems, greedily, each with its reward.
    const head = lines1.indexOf('greedy responses to the first 3 held-out problems before training:');
    assert.ok(head >= 0, lines1.join('\n'));
    for (let i = 0; i < 3; i++) {
      assert.equal(lines1[head + 1 + i], `  problem ${i + 1} (${before.samples[i]!.problem}), reward ${before.samples[i]!.score.toFixed(1)}: ${JSON.stringify(before.samples[i]!.response)}`);
      assert.match(before.samples[i]!.problem, /^numbers \[\d+, \d+, \d+\], target \d+$/);
    }

    const lines2: string[] = [];
    const second = await train(config(2), { progress: false, log: (l) => lines2.push(l) });
    assert.equal(second.resumedFrom, 1);
    assert.equal(second.initialValidation, null);
    assert.deepEqual(second.story?.before, before, 'the before-side of a resumed run is the one saved at step 0');
    const after = second.story!.after;
    assert.equal(after.step, 2);
    assert.deepEqual(after.samples.map((s) => s.problem), before.samples.map((s) => s.problem));
    // Side by side on the log: each problem, its response before and after.
    const story = lines2.slice(lines2.findIndex((l) => l.startsWith('greedy responses to the first 3 held-out problems, before training (step 0) and after step 2')));
    assert.ok(story.length >= 10, lines2.join('\n'));
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(story.slice(1 + 3 * i, 4 + 3 * i), [
        `  problem ${i + 1}: ${before.samples[i]!.problem}`,
        `    before (reward ${before.samples[i]!.score.toFixed(1)}): ${JSON.stringify(before.samples[i]!.response)}`,
        `    after  (reward ${after.samples[i]!.score.toFixed(1)}): ${JSON.stringify(after.samples[i]!.response)}`,
      ]);
    }

    // The behaviour metrics: every training step and every validation, finite and in range.
    const records = readMetricsJsonl(join(runDir, 'metrics.jsonl'));
    for (const r of records) {
      // Means over steps and verdicts are left out when a batch has none; the others are always there.
      for (const name of BEHAVIOR.filter((n) => n !== 'arith_correct' && n !== 'verdict_correct')) {
        if (r.step > 0) assert.ok(`behavior/${name}` in r.metrics, `step ${r.step} logs behavior/${name}`);
        assert.ok(`val/behavior/${name}/countdown` in r.metrics, `step ${r.step} logs val/behavior/${name}/countdown`);
      }
      for (const [k, v] of Object.entries(r.metrics)) if (k.includes('behavior/')) assertInRange(k, v);
    }
    // The bundled base writes arithmetic from the first step: its steps and checks are read.
    assert.ok(records.some((r) => 'behavior/arith_correct' in r.metrics && 'behavior/verdict_correct' in r.metrics));
    assert.deepEqual([...new Set(records.map((r) => r.step))], [0, 1, 2]);

    // The run folder: story.md quotes both sides, summary.json holds them as data.
    const summary = JSON.parse(readFileSync(join(runDir, SUMMARY_FILE), 'utf8')) as { firstStep: number; lastStep: number; resumedFrom: number; before: StoryState; after: StoryState };
    assert.deepEqual({ firstStep: summary.firstStep, lastStep: summary.lastStep, resumedFrom: summary.resumedFrom }, { firstStep: 2, lastStep: 2, resumedFrom: 1 });
    assert.deepEqual(summary.before, before);
    assert.deepEqual(summary.after, JSON.parse(JSON.stringify(after)));
    const md = readFileSync(join(runDir, STORY_FILE), 'utf8');
    assert.match(md, /held-out accuracy \(share of reward 1\.0\) on countdown: \d+\.\d% -> \d+\.\d%/);
    assert.match(md, /behaviour on countdown \(held-out, greedy\): tries per response \d+\.\d\d -> \d+\.\d\d; answers right after a passed check \d+\.\d% -> \d+\.\d%/);
    for (const s of [...before.samples, ...after.samples]) assert.ok(md.includes(s.response.replaceAll('```', '`\u200b``')), s.response);

    // A damaged before-state is named, kept as it is and not replaced by a recomputed one; the run goes on.
    writeFileSync(join(runDir, STORY_BEFORE_FILE), '{"step": 0}');
    assert.throws(() => readStoryBefore(runDir), new RegExp(`${STORY_BEFORE_FILE}: expected \\{step, metrics, samples`));
    const lines3: string[] = [];
    const third = await train(config(3), { progress: false, log: (l) => lines3.push(l) });
    assert.ok(lines3.some((l) => l.startsWith('warning: ') && l.includes(STORY_BEFORE_FILE) && l.endsWith("this run's story will have no before-side")), lines3.join('\n'));
    assert.equal(third.story?.before, null);
    assert.equal(third.story?.after.step, 3);
    assert.equal(readFileSync(join(runDir, STORY_BEFORE_FILE), 'utf8'), '{"step": 0}');
    assert.match(readFileSync(join(runDir, STORY_FILE), 'utf8'), /\(none recorded before training\)/);
    assert.ok(lines3.some((l) => l.includes('before training: not recorded')));
    assert.ok(existsSync(join(runDir, 'global_step_3', 'actor', 'model.safetensors')));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('the summary gives each behaviour metric before -> after, labelled, per data source', () => {
  const before = { 'val/behavior/tries_per_response/countdown': 1.25, 'val/behavior/answer_after_passed_check/countdown': 0.125, 'val/behavior/response_length/countdown': 60 };
  const after = {
    'val/behavior/tries_per_response/countdown': 2.5, 'val/behavior/answer_after_passed_check/countdown': 0.5, 'val/behavior/verdict_correct/countdown': 0.96875,
    'val/behavior/arith_correct/countdown': 0.99, 'val/behavior/response_length/countdown': 90.25, 'val/behavior/new_thing/countdown': 3, 'val/accuracy/countdown': 0.5,
  };
  assert.equal(behaviorLines(before, after), '  behaviour on countdown (held-out, greedy): tries per response 1.25 -> 2.50; answers right after a passed check 12.5% -> 50.0%; ' +
    'checks right n/a -> 96.9%; arithmetic steps right n/a -> 99.0%; response length (tokens) 60.0 -> 90.3; new_thing n/a -> 3.000\n');
  assert.equal(behaviorLines(null, { 'val/accuracy/countdown': 0.5 }), '');
});
