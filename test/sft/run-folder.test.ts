// `tinyzero sft` in a run folder that already holds a run: nothing of it is lost. Run twice, it
// reports the finished run; fewer steps or resume_mode=disable are refused with the choices; more
// steps continue and append; overwrite moves the old run aside; changed keys are reported, applied
// (LR) or refused (batch size); a kill -9 in the middle of a save resumes cleanly; two runs at once
// are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { saveConfig } from '../../src/config/index.js';
import { cosineWithWarmup } from '../../src/nn/index.js';
import { sft } from '../../src/sft/index.js';
import { latestPerStep, readEventsJsonl, readMetricsJsonl } from '../../src/tracking/index.js';
import { setup, sftConfig } from '../helpers/sft-fixture.js';

const quiet = { progress: false, log: () => {} };
const root = new URL('../../../', import.meta.url).pathname;

function read(path: string): string {
  return readFileSync(path, 'utf8');
}

test('sft run twice into one folder: finished, fewer steps and disable refused, more steps continue, overwrite moves the run aside', { timeout: 180_000 }, async () => {
  const tmp = setup();
  const run = join(tmp, 'run');
  try {
    await sft(sftConfig(tmp, ['sft.total_training_steps=4', 'sft.save_freq=2']), quiet);
    const metrics = read(join(run, 'metrics.jsonl'));
    const lines: string[] = [];
    const again = await sft(sftConfig(tmp, ['sft.total_training_steps=4', 'sft.save_freq=2']), { progress: false, log: (l) => lines.push(l) });
    assert.match(again.alreadyFinished ?? '', /already finished its 4 steps/);
    assert.deepEqual(again.losses, []);
    assert.ok(lines.some((l) => /nothing to train/.test(l)));
    assert.equal(read(join(run, 'metrics.jsonl')), metrics);

    await assert.rejects(sft(sftConfig(tmp, ['sft.total_training_steps=2']), quiet),
      /holds a run saved at step 4 .*asks for 2 steps .*Choices: continue that run \(trainer\.resume_mode=auto.*trainer\.default_local_dir=.*trainer\.resume_mode=disable trainer\.overwrite_run_dir=true/);
    await assert.rejects(sft(sftConfig(tmp, ['sft.total_training_steps=4', 'trainer.resume_mode=disable']), quiet),
      /already holds a run \(config\.yaml, metrics\.jsonl with 4 line\(s\), checkpoint\(s\) at step 2, 4\).*Choices/);
    await assert.rejects(sft(sftConfig(tmp, ['trainer.overwrite_run_dir=true']), quiet), /set trainer\.resume_mode=disable with it/);
    assert.equal(read(join(run, 'metrics.jsonl')), metrics);
    assert.ok(!existsSync(join(run, 'run.lock')), 'a refused run leaves no lock');

    const more = await sft(sftConfig(tmp, ['sft.total_training_steps=6', 'sft.save_freq=2']), quiet);
    assert.equal(more.resumedFrom, 4);
    const after = read(join(run, 'metrics.jsonl'));
    assert.ok(after.startsWith(metrics), 'the earlier lines are kept as they were');
    assert.deepEqual(readMetricsJsonl(join(run, 'metrics.jsonl')).map((r) => r.step), [1, 2, 3, 4, 5, 6]);

    const fresh = await sft(sftConfig(tmp, ['sft.total_training_steps=2', 'trainer.resume_mode=disable', 'trainer.overwrite_run_dir=true']), quiet);
    assert.equal(fresh.resumedFrom, null);
    const aside = readdirSync(tmp).filter((n) => n.startsWith('run.replaced-'));
    assert.equal(aside.length, 1);
    assert.equal(read(join(tmp, aside[0]!, 'metrics.jsonl')), after);
    assert.ok(existsSync(join(tmp, aside[0]!, 'global_step_6', 'sft_state.json')));
    assert.deepEqual(readMetricsJsonl(join(run, 'metrics.jsonl')).map((r) => r.step), [1, 2]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('sft resumed with a changed config: the LR change applies and is recorded, a batch size change is refused unless allowed', { timeout: 180_000 }, async () => {
  const tmp = setup();
  const run = join(tmp, 'run');
  try {
    await sft(sftConfig(tmp, ['sft.total_training_steps=2']), quiet);
    const firstConfig = read(join(run, 'config.yaml'));
    const lines: string[] = [];
    await sft(sftConfig(tmp, ['sft.total_training_steps=4', 'sft.optim.lr=5e-3']), { progress: false, log: (l) => lines.push(l) });
    assert.ok(lines.some((l) => l.includes('sft.optim.lr: 0.01 -> 0.005')), lines.join('\n'));
    assert.ok(lines.some((l) => l.includes('sft.total_training_steps: 2 -> 4')));
    // The step-3 LR is the new base LR on the 4-step schedule (warmup 5% of 4 = 0 steps, min 0.1).
    const step3 = latestPerStep(readMetricsJsonl(join(run, 'metrics.jsonl'))).find((r) => r.step === 3)!;
    assert.ok(Math.abs(step3.metrics['train/lr']! - 5e-3 * cosineWithWarmup(2, 0, 4, 0.1)) < 1e-12, `train/lr ${step3.metrics['train/lr']}`);
    assert.equal(read(join(run, 'config.yaml')), firstConfig, 'config.yaml stays the first run\'s');
    assert.match(read(join(run, 'config-resume-1.yaml')), /lr: 0\.005/);
    const start = readEventsJsonl(join(run, 'events.jsonl')).filter((e) => e.kind === 'run_start').at(-1)!;
    assert.equal(start.resumedFrom, 2);
    assert.deepEqual((start.configChanges as { key: string }[]).map((c) => c.key), ['sft.total_training_steps', 'sft.optim.lr']);

    const before = read(join(run, 'metrics.jsonl'));
    await assert.rejects(sft(sftConfig(tmp, ['sft.total_training_steps=6', 'sft.optim.lr=5e-3', 'sft.train_batch_size=4']), quiet),
      /against .*config-resume-1\.yaml\): sft\.train_batch_size: 8 -> 4\..*trainer\.resume_allow_changes=true/);
    assert.equal(read(join(run, 'metrics.jsonl')), before);
    const allowed = await sft(sftConfig(tmp, ['sft.total_training_steps=6', 'sft.optim.lr=5e-3', 'sft.train_batch_size=4', 'trainer.resume_allow_changes=true']), quiet);
    assert.equal(allowed.resumedFrom, 4);
    assert.ok(existsSync(join(run, 'config-resume-2.yaml')));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('sft killed with SIGKILL in the middle of a save, holding the lock: the next run removes the temporary folder and resumes exactly', { timeout: 180_000 }, async () => {
  const tmp = setup();
  const run = join(tmp, 'run');
  // A constant LR, so that 2 steps continued to 4 are the first 4 steps of one 4-step run.
  const constant = ['sft.optim.warmup_style=constant', 'sft.optim.lr_warmup_steps_ratio=0'];
  try {
    const fixture = pathToFileURL(join(import.meta.dirname, '../helpers/sft-fixture.js')).href;
    const sftUrl = pathToFileURL(join(import.meta.dirname, '../../src/sft/index.js')).href;
    const checkpointUrl = pathToFileURL(join(import.meta.dirname, '../../src/checkpoint/index.js')).href;
    const child = spawn(process.execPath, ['--input-type=module', '-e', `
      import { sftConfig } from ${JSON.stringify(fixture)};
      import { sft, saveSftCheckpoint } from ${JSON.stringify(sftUrl)};
      import { acquireRunLock, CheckpointStore } from ${JSON.stringify(checkpointUrl)};
      import { mkdirSync, writeFileSync } from 'node:fs';
      import { join } from 'node:path';
      const tmp = ${JSON.stringify(tmp)};
      await sft(sftConfig(tmp, ['sft.total_training_steps=2', 'sft.save_freq=1', ...${JSON.stringify(constant)}]), { progress: false, log: () => {} });
      // The step-3 save of a live run: it holds the lock and dies halfway through the model file.
      acquireRunLock(join(tmp, 'run'), 'tinyzero sft');
      await new CheckpointStore(join(tmp, 'run'), 'sft_state.json').save(3, async (dir) => {
        mkdirSync(join(dir, 'model'));
        writeFileSync(join(dir, 'model', 'model.safetensors'), new Uint8Array(1000));
        process.kill(process.pid, 'SIGKILL');
        await new Promise(() => {});
      }, null);`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, s) => resolve(s)));
    assert.equal(signal, 'SIGKILL', stderr);
    assert.ok(existsSync(join(run, `.global_step_3.tmp-${child.pid}`)), 'the killed save left its temporary folder');
    assert.equal(JSON.parse(read(join(run, 'run.lock'))).pid, child.pid, 'and its lock');

    const lines: string[] = [];
    const resumed = await sft(sftConfig(tmp, ['sft.total_training_steps=4', 'sft.save_freq=1', ...constant]), { progress: false, log: (l) => lines.push(l) });
    assert.ok(lines.some((l) => l.startsWith('removed 1 temporary file(s) of interrupted saves')), lines.join('\n'));
    assert.equal(resumed.resumedFrom, 2);
    assert.deepEqual(readdirSync(run).filter((n) => n.startsWith('.') || n === 'run.lock'), []);

    const straight = await sft(sftConfig(tmp, ['sft.total_training_steps=4', 'sft.save_freq=1', ...constant, `trainer.default_local_dir=${join(tmp, 'straight')}`]), quiet);
    assert.deepEqual(resumed.losses, straight.losses.slice(2));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('a second sft run on a folder another one is writing is refused, naming that process', { timeout: 180_000 }, async () => {
  const tmp = setup();
  const run = join(tmp, 'run');
  const overrides = sftArgs(tmp);
  const child = spawn(process.execPath, [join(root, 'dist/src/cli/main.js'), 'sft', '--quiet', ...overrides, 'sft.total_training_steps=2000'], { stdio: 'ignore' });
  try {
    while (!(existsSync(join(run, 'metrics.jsonl')) && read(join(run, 'metrics.jsonl')).length > 0) && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(child.exitCode, null, 'the first run is still training');
    await assert.rejects(sft(sftConfig(tmp, ['sft.total_training_steps=2000']), quiet),
      new RegExp(`is in use by another run: process ${child.pid} .*tinyzero sft`));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    // Each step is in the file once: only the first run wrote it.
    const steps = readMetricsJsonl(join(run, 'metrics.jsonl')).map((r) => r.step);
    assert.deepEqual(steps, steps.map((_, i) => i + 1));
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('a folder whose run failed before logging a step or saving a checkpoint starts fresh, whatever its config said', { timeout: 60_000 }, async () => {
  const tmp = setup();
  const run = join(tmp, 'run');
  mkdirSync(run);
  try {
    // What a run that failed while loading its model leaves: its config, a run_start and a failed run_end.
    saveConfig(sftConfig(tmp, ['sft.train_batch_size=4']), join(run, 'config.yaml'));
    writeFileSync(join(run, 'metrics.jsonl'), '');
    writeFileSync(join(run, 'events.jsonl'), '{"kind":"run_start","time":"2026-12-01T00:00:00.000Z","config":{}}\n{"kind":"run_end","time":"2026-12-01T00:00:01.000Z","step":0,"status":"failed"}\n');
    const fixed = await sft(sftConfig(tmp, ['sft.total_training_steps=2']), quiet);
    assert.equal(fixed.resumedFrom, null);
    assert.match(read(join(run, 'config.yaml')), /train_batch_size: 8/);
    assert.equal(readEventsJsonl(join(run, 'events.jsonl')).length, 4, 'events.jsonl was appended to (run_start, run_end)');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

/** The fixture's config as command-line overrides. */
function sftArgs(tmp: string): string[] {
  return [
    `sft.train_files=${join(tmp, 'train.jsonl')}`, `sft.val_files=${join(tmp, 'val.jsonl')}`, `sft.model.path=${join(tmp, 'init')}`,
    'sft.max_length=32', 'sft.train_batch_size=8', 'sft.micro_batch_size=4', 'sft.optim.lr=1e-2', 'sft.test_freq=5',
    `trainer.default_local_dir=${join(tmp, 'run')}`, "trainer.logger=['jsonl']", 'trainer.threads=1', 'sft.max_ckpt_to_keep=null',
  ];
}
