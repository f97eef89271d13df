// `tinyzero train` into a run folder that already holds a run (PPO with a critic on digit
// completion, 2 steps): the same command again reports the finished run and changes nothing; fewer
// steps are refused with the choices; more steps continue and append to metrics.jsonl; a changed
// LR is reported, recorded beside config.yaml and applied; a changed batch size is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readParquet, writeParquet } from '../../src/data/index.js';
import { latestPerStep, readEventsJsonl, readMetricsJsonl } from '../../src/tracking/index.js';

const root = new URL('../../../', import.meta.url).pathname;
const main = join(root, 'dist/src/cli/main.js');

function train(runDir: string, valFile: string, extra: string[]): { status: number | null; stderr: string } {
  const args = [main, 'train', '--config', join(root, 'examples/digit-completion.yaml'), '--quiet',
    `data.val_files=${valFile}`, 'data.train_batch_size=32', 'data.max_response_length=12',
    'actor_rollout_ref.actor.ppo_mini_batch_size=16', 'actor_rollout_ref.actor.ppo_micro_batch_size=8',
    'actor_rollout_ref.rollout.micro_batch_size=16', 'actor_rollout_ref.rollout.log_prob_micro_batch_size=16',
    'actor_rollout_ref.ref.log_prob_micro_batch_size=16',
    'critic.ppo_mini_batch_size=16', 'critic.ppo_micro_batch_size=8', 'critic.forward_micro_batch_size=16',
    'trainer.save_freq=2', 'trainer.test_freq=2', "trainer.logger=['jsonl']", 'trainer.max_actor_ckpt_to_keep=1',
    `trainer.default_local_dir=${runDir}`, 'trainer.threads=1', ...extra];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

const read = (path: string): string => readFileSync(path, 'utf8');

test('train run twice into one folder, then with fewer steps, more steps, a new LR and a new batch size', { timeout: 300_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-runfolder-'));
  const run = join(tmp, 'run');
  try {
    const table = await readParquet(join(root, 'assets/data/digit-completion/test.parquet'));
    const val = join(tmp, 'val.parquet');
    writeParquet(val, table.rows.slice(0, 16), table.columns);

    const first = train(run, val, ['trainer.total_training_steps=2']);
    assert.equal(first.status, 0, first.stderr);
    const metrics = read(join(run, 'metrics.jsonl'));
    const config = read(join(run, 'config.yaml'));

    const again = train(run, val, ['trainer.total_training_steps=2']);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /the run there already finished its 2 steps .*global_step_2\); nothing to train/);
    assert.doesNotMatch(again.stderr, /done: steps/);
    assert.equal(read(join(run, 'metrics.jsonl')), metrics);

    const fewer = train(run, val, ['trainer.total_training_steps=1']);
    assert.equal(fewer.status, 1);
    assert.match(fewer.stderr, /holds a run saved at step 2 .*asks for 1 steps in all \(trainer\.total_training_steps\).*Choices: continue that run/);
    assert.equal(read(join(run, 'metrics.jsonl')), metrics);
    assert.equal(read(join(run, 'latest_checkpointed_iteration.txt')), '2\n');
    assert.ok(existsSync(join(run, 'global_step_2', 'trainer_state.json')));

    const more = train(run, val, ['trainer.total_training_steps=3']);
    assert.equal(more.status, 0, more.stderr);
    assert.match(more.stderr, /resumed from .*global_step_2 \(step 2\)/);
    assert.match(more.stderr, /done: steps 3-3 \(resumed from step 2\)/);
    assert.ok(read(join(run, 'metrics.jsonl')).startsWith(metrics), 'metrics.jsonl was appended to');
    assert.deepEqual(latestPerStep(readMetricsJsonl(join(run, 'metrics.jsonl'))).map((r) => r.step), [0, 1, 2, 3]);

    const newLr = train(run, val, ['trainer.total_training_steps=4', 'actor_rollout_ref.actor.optim.lr=2e-4']);
    assert.equal(newLr.status, 0, newLr.stderr);
    assert.match(newLr.stderr, /actor_rollout_ref\.actor\.optim\.lr: 0\.0001 -> 0\.0002/);
    const step4 = latestPerStep(readMetricsJsonl(join(run, 'metrics.jsonl'))).find((r) => r.step === 4)!;
    assert.equal(step4.metrics['actor/lr'], 2e-4, 'the new LR is the one step 4 trained at');
    assert.equal(read(join(run, 'config.yaml')), config, 'config.yaml stays the first run\'s');
    assert.ok(existsSync(join(run, 'config-resume-1.yaml')) && existsSync(join(run, 'config-resume-2.yaml')));
    const start = readEventsJsonl(join(run, 'events.jsonl')).filter((e) => e.kind === 'run_start').at(-1)!;
    assert.deepEqual(start.configChanges, [
      { key: 'actor_rollout_ref.actor.optim.lr', from: 1e-4, to: 2e-4 },
      { key: 'trainer.total_training_steps', from: 3, to: 4 },
    ]);

    const before = read(join(run, 'metrics.jsonl'));
    const batch = train(run, val, ['trainer.total_training_steps=6', 'actor_rollout_ref.actor.optim.lr=2e-4', 'data.train_batch_size=16']);
    assert.equal(batch.status, 1);
    assert.match(batch.stderr, /data\.train_batch_size: 32 -> 16\..*trainer\.resume_allow_changes=true/);
    assert.equal(read(join(run, 'metrics.jsonl')), before);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
