// A short PPO run on digit completion, run once straight through and once killed with SIGKILL after
// its step-2 checkpoint and started again with the same command: the metrics must be identical.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readParquet, writeParquet } from '../../src/data/index.js';
import { latestPerStep, readMetricsJsonl } from '../../src/tracking/index.js';

const root = new URL('../../../', import.meta.url).pathname;
const main = join(root, 'dist/src/cli/main.js');

async function smallValSet(dir: string): Promise<string> {
  const table = await readParquet(join(root, 'assets/data/digit-completion/test.parquet'));
  const file = join(dir, 'val.parquet');
  writeParquet(file, table.rows.slice(0, 16), table.columns);
  return file;
}

function args(runDir: string, valFile: string): string[] {
  return [main, 'train', '--config', join(root, 'examples/digit-completion.yaml'), '--quiet',
    `data.val_files=${valFile}`, 'data.train_batch_size=32', 'data.max_response_length=12',
    'actor_rollout_ref.actor.ppo_mini_batch_size=16', 'actor_rollout_ref.actor.ppo_micro_batch_size=8',
    'actor_rollout_ref.rollout.micro_batch_size=16', 'actor_rollout_ref.rollout.log_prob_micro_batch_size=16',
    'actor_rollout_ref.ref.log_prob_micro_batch_size=16',
    'critic.ppo_mini_batch_size=16', 'critic.ppo_micro_batch_size=8', 'critic.forward_micro_batch_size=16',
    'trainer.total_training_steps=4', 'trainer.save_freq=2', 'trainer.test_freq=2', "trainer.logger=['jsonl']",
    'trainer.max_actor_ckpt_to_keep=1', `trainer.default_local_dir=${runDir}`, 'trainer.threads=1'];
}

function withoutTiming(runDir: string): { step: number; metrics: Record<string, number> }[] {
  // The file is append-only: a resumed run logs again the steps past its checkpoint; the last line of a step counts.
  return latestPerStep(readMetricsJsonl(join(runDir, 'metrics.jsonl'))).map((r) => ({
    step: r.step,
    metrics: Object.fromEntries(Object.entries(r.metrics).filter(([k]) => !k.startsWith('timing'))),
  }));
}

test('SIGKILL mid-run and restart with the same command: same metrics as an uninterrupted run', { timeout: 240_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-resume-'));
  try {
    const val = await smallValSet(tmp);
    const straight = spawnSync(process.execPath, args(join(tmp, 'A'), val), { encoding: 'utf8' });
    assert.equal(straight.status, 0, straight.stderr);

    const runB = join(tmp, 'B');
    const child = spawn(process.execPath, args(runB, val), { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    // Kill as soon as the step-2 checkpoint is complete (renamed into place).
    while (!existsSync(join(runB, 'global_step_2', 'trainer_state.json')) && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL', 'the first run was interrupted');
    assert.ok(!existsSync(join(runB, 'global_step_4')), 'the interrupted run did not finish');

    const resumed = spawnSync(process.execPath, args(runB, val), { encoding: 'utf8' });
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, /resumed from .*global_step_2 \(step 2\)/);

    const a = withoutTiming(join(tmp, 'A'));
    const b = withoutTiming(runB);
    assert.deepEqual(b.map((r) => r.step), [0, 1, 2, 3, 4]);
    assert.deepEqual(b, a);
    // max_actor_ckpt_to_keep = 1: only the newest checkpoint is left, and no temporary folder.
    assert.deepEqual(readdirSync(runB).filter((n) => n.includes('global_step')), ['global_step_4']);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
