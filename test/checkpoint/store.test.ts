// The checkpoint store and the run folder's lock: complete checkpoints only, pruning, stale
// temporaries of killed saves, a write error (a real ENOSPC from /dev/full) naming the file and
// leaving the earlier checkpoints alone, and one process per folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { acquireRunLock, CheckpointStore, LOCK_FILE } from '../../src/checkpoint/index.js';
import { writeFileAtomic, writeFully } from '../../src/util/atomic-file.js';

const STATE = 'state.json';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'tinyzero-store-'));
}

async function saveStep(store: CheckpointStore, step: number, keep: number | null = null): Promise<string> {
  return store.save(step, async (dir) => {
    writeFileAtomic(join(dir, 'weights.bin'), `weights of step ${step}`);
    writeFileAtomic(join(dir, STATE), JSON.stringify({ step }));
  }, keep);
}

test('save renames a complete checkpoint into place, points latest at it and prunes the oldest beyond keep', async () => {
  const root = tempDir();
  try {
    const store = new CheckpointStore(root, STATE);
    for (const step of [1, 2, 3]) await saveStep(store, step, 2);
    assert.deepEqual(store.list().map((c) => c.step), [2, 3]);
    assert.equal(readFileSync(join(root, 'latest_checkpointed_iteration.txt'), 'utf8'), '3\n');
    // A folder without the state file is not a checkpoint.
    mkdirSync(join(root, 'global_step_9'));
    assert.equal(store.latest()?.step, 3);
    // Saving that step replaces the incomplete folder.
    await saveStep(store, 9);
    assert.equal(readFileSync(join(root, 'global_step_9', 'weights.bin'), 'utf8'), 'weights of step 9');
    assert.deepEqual(readdirSync(root).filter((n) => n.startsWith('.')), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a writer that leaves out the state file fails the save, and nothing is renamed into place', async () => {
  const root = tempDir();
  try {
    const store = new CheckpointStore(root, STATE);
    await assert.rejects(store.save(1, async (dir) => writeFileAtomic(join(dir, 'weights.bin'), 'x'), null), /did not write state\.json/);
    assert.deepEqual(readdirSync(root), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('ENOSPC during a save names the checkpoint and the file, removes the partial folder and keeps the earlier checkpoint', { skip: !existsSync('/dev/full') }, async () => {
  const root = tempDir();
  try {
    const store = new CheckpointStore(root, STATE);
    await saveStep(store, 1);
    const full = openSync('/dev/full', 'w');
    try {
      await assert.rejects(store.save(2, async (dir) => {
        writeFileAtomic(join(dir, STATE), '{}');
        // The bytes of model.safetensors go to /dev/full: the kernel answers ENOSPC.
        writeFileAtomic(join(dir, 'model.safetensors'), () => writeFully(full, new Uint8Array(4096)));
      }, null), (e: NodeJS.ErrnoException) => {
        assert.equal(e.code, 'ENOSPC');
        assert.match(e.message, /saving checkpoint .*global_step_2 failed \(the disk is full/);
        assert.match(e.message, /model\.safetensors/);
        assert.match(e.message, /earlier checkpoints in .* are intact/);
        return true;
      });
    } finally {
      closeSync(full);
    }
    assert.deepEqual(store.list().map((c) => c.step), [1]);
    assert.equal(readFileSync(join(root, 'latest_checkpointed_iteration.txt'), 'utf8'), '1\n');
    assert.deepEqual(readdirSync(root).sort(), ['global_step_1', 'latest_checkpointed_iteration.txt']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('cleanStaleTemps removes the temporary folders and files of other processes, not this one\'s', async () => {
  const root = tempDir();
  try {
    const store = new CheckpointStore(root, STATE);
    await saveStep(store, 1);
    for (const name of ['.global_step_2.tmp-999991', `.global_step_3.tmp-${process.pid}`]) {
      mkdirSync(join(root, name, 'actor'), { recursive: true });
      writeFileSync(join(root, name, 'actor', 'model.safetensors'), 'partial');
    }
    writeFileSync(join(root, '.latest_checkpointed_iteration.txt.tmp-999991-abc123'), '2\n');
    writeFileSync(join(root, '.config.yaml.999991.1700000000000.tmp'), 'x');
    writeFileSync(join(root, 'notes.tmp'), 'the user\'s own file');
    const removed = store.cleanStaleTemps().sort();
    assert.deepEqual(removed, ['.config.yaml.999991.1700000000000.tmp', '.global_step_2.tmp-999991', '.latest_checkpointed_iteration.txt.tmp-999991-abc123']);
    assert.deepEqual(readdirSync(root).sort(), [`.global_step_3.tmp-${process.pid}`, 'global_step_1', 'latest_checkpointed_iteration.txt', 'notes.tmp']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the lock: a live holder is named in the error, a dead one is taken over, release removes it', async () => {
  const root = tempDir();
  const moduleUrl = pathToFileURL(join(import.meta.dirname, '../../src/checkpoint/index.js')).href;
  // A second process takes the lock and waits until told to stop.
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    import { acquireRunLock } from ${JSON.stringify(moduleUrl)};
    acquireRunLock(${JSON.stringify(root)}, 'tinyzero train');
    process.stdout.write('locked\\n');
    setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('locked')) resolve(); });
      child.on('exit', () => reject(new Error('the child exited before locking')));
    });
    assert.throws(() => acquireRunLock(root, 'tinyzero sft'), (e: Error) => {
      assert.match(e.message, new RegExp(`in use by another run: process ${child.pid} .*tinyzero train`));
      assert.match(e.message, /run\.lock/);
      return true;
    });
    child.kill('SIGKILL');
    await exited;
    // Its PID is gone: the lock is stale and taken over.
    const lock = acquireRunLock(root, 'tinyzero sft');
    assert.equal(JSON.parse(readFileSync(join(root, LOCK_FILE), 'utf8')).pid, process.pid);
    // Held by this process: a second claim from here is refused too.
    assert.throws(() => acquireRunLock(root, 'tinyzero sft'), /in use by another run/);
    lock.release();
    assert.ok(!existsSync(join(root, LOCK_FILE)));
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  }
});
