import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { commands } from '../../src/cli/commands.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });
/** The same, without waiting: the 33 runs below start a process each, one per core at a time (at most 4). */
const cliAsync = (args: string[]) => new Promise<{ status: number; stdout: string; stderr: string }>((resolve, reject) => {
  execFile(process.execPath, [MAIN, ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
    // err.code is the exit status when the process ran; anything else (no process, a signal) fails the test.
    if (err === null) resolve({ status: 0, stdout, stderr });
    else if (typeof err.code === 'number') resolve({ status: err.code, stdout, stderr });
    else reject(err);
  });
});

test('every command answers --help, -h and `tinyzero help CMD` with its usage and exit code 0', async () => {
  const names = Object.keys(commands);
  assert.deepEqual(names.sort(), ['bench', 'dashboard', 'data', 'demo', 'generate', 'init-model', 'merge-lora', 'score', 'serve', 'sft', 'train']);
  const runs = names.flatMap((name) => [[name, '--help'], [name, '-h'], ['help', name]].map((args) => ({ name, args })));
  const parallel = Math.max(1, Math.min(4, availableParallelism()));
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < runs.length) {
      const { name, args } = runs[next++]!;
      const r = await cliAsync(args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^usage: tinyzero ${name}\\b`), args.join(' '));
      assert.equal(r.stderr, '', args.join(' '));
    }
  }));
});

test('--help after other arguments still prints the usage instead of running', () => {
  const r = cli('train', '--config', 'no-such-file.yaml', 'trainer.total_training_steps=1', '--help');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^usage: tinyzero train \[--config FILE\.yaml\]/);
  assert.match(r.stdout, /--quiet/);
  const data = cli('data', 'countdown', '--help');
  assert.equal(data.status, 0);
  assert.match(data.stdout, /--train-size VALUE +training rows/);
});

test('the option lists in --help are the options the parser accepts', () => {
  const usage = cli('generate', '--help').stdout;
  for (const opt of ['--model', '--prompt-ids', '--temperature', '--weight-dtype', '--logprobs']) assert.match(usage, new RegExp(`${opt}\\b`));
  assert.match(cli('generate', '--bogus').stderr, /unknown option '--bogus'/);
});

test('tinyzero --help and tinyzero help list the commands; unknown ones fail with a pointer', () => {
  for (const args of [['--help'], ['-h'], ['help']]) {
    const r = cli(...args);
    assert.equal(r.status, 0);
    for (const name of Object.keys(commands)) assert.match(r.stdout, new RegExp(`^  ${name} `, 'm'));
    assert.match(r.stdout, /tinyzero help <command>/);
  }
  const none = cli();
  assert.equal(none.status, 1);
  const unknown = cli('help', 'nope');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /expected one command name .*got 'nope'/);
  assert.match(cli('trian').stderr, /unknown command 'trian'/);
});

test('sft names itself in its argument errors', () => {
  const r = cli('sft', '--bogus');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^tinyzero: sft: unknown option '--bogus'.*tinyzero sft --help/);
  assert.match(cli('sft', '--config').stderr, /sft: --config needs a file/);
  assert.match(cli('train', '--bogus').stderr, /train: unknown option '--bogus'/);
});
