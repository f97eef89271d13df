import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { JsonlTail, JsonlTracker, latestPerStep, readEventsJsonl, readMetricsJsonl } from '../../src/tracking/index.js';

const fixedNow = (): Date => new Date('2025-01-02T03:04:05.000Z');

function tempRun(): string {
  return mkdtempSync(join(tmpdir(), 'tz-jsonl-'));
}

test('metrics.jsonl holds one {"step", ...metrics, "time"} object per line, read back exactly', async () => {
  const dir = tempRun();
  try {
    const t = new JsonlTracker({ runDir: dir, now: fixedNow, fsync: false });
    t.log({ 'critic/score/mean': 0.5, 'actor/pg_loss': -0.125 }, 1);
    t.log({ 'critic/score/mean': 0.75, 'actor/grad_norm': NaN, 'critic/vf_loss': Infinity }, 2);
    await t.close();
    const text = readFileSync(join(dir, 'metrics.jsonl'), 'utf8');
    assert.equal(text.split('\n')[0], '{"step":1,"critic/score/mean":0.5,"actor/pg_loss":-0.125,"time":"2025-01-02T03:04:05.000Z"}');
    const records = readMetricsJsonl(join(dir, 'metrics.jsonl'));
    assert.equal(records.length, 2);
    assert.deepEqual(records[0], { step: 1, time: '2025-01-02T03:04:05.000Z', metrics: { 'critic/score/mean': 0.5, 'actor/pg_loss': -0.125 } });
    assert.ok(Number.isNaN(records[1]!.metrics['actor/grad_norm']));
    assert.equal(records[1]!.metrics['critic/vf_loss'], Infinity);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('events go to events.jsonl with kind and time', async () => {
  const dir = tempRun();
  try {
    const t = new JsonlTracker({ runDir: dir, now: fixedNow, fsync: false });
    t.event('run_start', { config: { trainer: { total_epochs: 2 } }, totalSteps: 10 });
    t.event('samples', { step: 3, samples: [{ prompt: '1,2:9,3', response: '3,4,5', score: 1 }] });
    await t.close();
    const events = readEventsJsonl(join(dir, 'events.jsonl'));
    assert.deepEqual(events.map((e) => e.kind), ['run_start', 'samples']);
    assert.deepEqual(events[0]!.config, { trainer: { total_epochs: 2 } });
    assert.equal(events[1]!.step, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the reader drops a truncated last line but reports a corrupt middle line by number', () => {
  const dir = tempRun();
  try {
    const path = join(dir, 'metrics.jsonl');
    writeFileSync(path, '{"step":1,"a":1,"time":"t"}\n{"step":2,"a":2,"ti');
    assert.deepEqual(readMetricsJsonl(path).map((r) => r.step), [1]);
    writeFileSync(path, '{"step":1,"a":1,"time":"t"}\n{"step":2,"a\n{"step":3,"a":3,"time":"t"}\n');
    assert.throws(() => readMetricsJsonl(path), /metrics\.jsonl:2:/);
    assert.deepEqual(readMetricsJsonl(join(dir, 'missing.jsonl')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reopening after a crash trims the partial line, so the next append starts clean', async () => {
  const dir = tempRun();
  try {
    const path = join(dir, 'metrics.jsonl');
    writeFileSync(path, '{"step":1,"a":1,"time":"t"}\n{"step":2,"a":');
    const t = new JsonlTracker({ runDir: dir, fsync: false });
    t.log({ a: 2 }, 2);
    await t.close();
    assert.deepEqual(readMetricsJsonl(path).map((r) => [r.step, r.metrics.a]), [[1, 1], [2, 2]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a resumed run appends: the interrupted run\'s lines past the checkpoint stay, and the last line of each step wins', async () => {
  const dir = tempRun();
  try {
    const first = new JsonlTracker({ runDir: dir, fsync: false });
    first.event('run_start', { config: {} });
    for (let s = 1; s <= 5; s++) {
      first.log({ a: s }, s);
      first.event('samples', { step: s, samples: [] });
    }
    await first.close();
    // Resumed from the step-3 checkpoint: steps 4 and 5 are logged again.
    const resumed = new JsonlTracker({ runDir: dir, fsync: false });
    resumed.log({ a: 40 }, 4);
    resumed.log({ a: 50 }, 5);
    resumed.log({ a: 60 }, 6);
    await resumed.close();
    const all = readMetricsJsonl(join(dir, 'metrics.jsonl'));
    assert.deepEqual(all.map((r) => [r.step, r.metrics.a]), [[1, 1], [2, 2], [3, 3], [4, 4], [5, 5], [4, 40], [5, 50], [6, 60]]);
    assert.deepEqual(latestPerStep(all).map((r) => [r.step, r.metrics.a]), [[1, 1], [2, 2], [3, 3], [4, 40], [5, 50], [6, 60]]);
    assert.equal(readEventsJsonl(join(dir, 'events.jsonl')).length, 6);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a process killed with SIGKILL right after logging keeps every logged line', () => {
  const dir = tempRun();
  try {
    const moduleUrl = pathToFileURL(join(import.meta.dirname, '../../src/tracking/index.js')).href;
    const script = `
      import { JsonlTracker } from ${JSON.stringify(moduleUrl)};
      const t = new JsonlTracker({ runDir: ${JSON.stringify(dir)}, fsync: false });
      for (let s = 1; s <= 3; s++) t.log({ 'critic/rewards/mean': s / 10 }, s);
      process.kill(process.pid, 'SIGKILL');`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 });
    assert.equal(child.signal, 'SIGKILL', child.stderr.toString());
    assert.deepEqual(readMetricsJsonl(join(dir, 'metrics.jsonl')).map((r) => r.metrics['critic/rewards/mean']), [0.1, 0.2, 0.3]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a metric named "step" or "time" is refused instead of corrupting the line', async () => {
  const dir = tempRun();
  try {
    const t = new JsonlTracker({ runDir: dir, fsync: false });
    assert.throws(() => t.log({ time: 1 }, 1), /reserved/);
    await t.close();
    assert.throws(() => t.log({ a: 1 }, 2), /after close/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('JsonlTail returns whole new lines only, and resets when the file is rewritten', () => {
  const dir = tempRun();
  try {
    const path = join(dir, 'metrics.jsonl');
    const tail = new JsonlTail(path);
    assert.deepEqual(tail.read(), { reset: false, lines: [] }); // missing file
    writeFileSync(path, 'a\nb');
    assert.deepEqual(tail.read(), { reset: false, lines: ['a'] });
    appendFileSync(path, 'c\nd\n');
    assert.deepEqual(tail.read(), { reset: false, lines: ['bc', 'd'] });
    assert.deepEqual(tail.read(), { reset: false, lines: [] });
    writeFileSync(path, 'x\n');
    assert.deepEqual(tail.read(), { reset: true, lines: ['x'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a write error while appending (a full disk) names metrics.jsonl and keeps the error code', async () => {
  const dir = tempRun();
  const t = new JsonlTracker({ runDir: dir, now: fixedNow, fsync: false });
  // /dev/full answers every write with ENOSPC, as a full disk does.
  const full = openSync('/dev/full', 'w');
  const fields = t as unknown as { metricsFd: number | null };
  const own = fields.metricsFd!;
  fields.metricsFd = full;
  try {
    assert.throws(() => t.log({ 'critic/score/mean': 0.5 }, 1), (e: NodeJS.ErrnoException) =>
      e.code === 'ENOSPC' && e.message.includes(join(dir, 'metrics.jsonl')));
  } finally {
    fields.metricsFd = own;
    closeSync(full);
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
