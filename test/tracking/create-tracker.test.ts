import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MultiTracker, createTracker, readMetricsJsonl, resolveLoggers, type Tracker } from '../../src/tracking/index.js';

class Sink {
  text = '';
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

test('unknown logger names fail and list the supported ones', () => {
  assert.throws(() => resolveLoggers(['console', 'consle']), /unknown logger 'consle'\. Supported: console, jsonl, dashboard/);
});

test("veRL's online loggers are skipped with a warning; console is kept as a fallback", () => {
  assert.deepEqual(resolveLoggers(['console', 'wandb']).loggers, ['console']);
  const onlyWandb = resolveLoggers(['wandb']);
  assert.deepEqual(onlyWandb.loggers, ['console']);
  assert.match(onlyWandb.warnings[0]!, /'wandb' is not available/);
  assert.equal(onlyWandb.warnings.length, 2);
  assert.deepEqual(resolveLoggers('console').loggers, ['console']); // a bare string, as veRL allows
  assert.deepEqual(resolveLoggers(['tensorboard', 'jsonl', 'jsonl']).loggers, ['jsonl']);
});

test('createTracker fans out to console and metrics.jsonl; the dashboard starts when asked', { timeout: 15_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tz-create-'));
  try {
    const stdout = new Sink();
    const warnings: string[] = [];
    const tracker = await createTracker({ loggers: ['console', 'wandb'], runDir: dir, stdout, dashboardPort: 0, warn: (m) => warnings.push(m) });
    tracker.log({ 'critic/rewards/mean': 0.25 }, 1);
    tracker.event('run_end', { step: 1, status: 'completed' });
    await tracker.close();
    assert.equal(stdout.text, 'step:1 - critic/rewards/mean:0.250\n');
    assert.deepEqual(readMetricsJsonl(join(dir, 'metrics.jsonl')).map((r) => r.metrics), [{ 'critic/rewards/mean': 0.25 }]);
    assert.match(readFileSync(join(dir, 'events.jsonl'), 'utf8'), /"kind":"run_end"/);
    assert.ok(warnings.some((w) => /wandb/.test(w)));
    assert.ok(warnings.some((w) => /^dashboard: http:\/\/127\.0\.0\.1:\d+\/$/.test(w)));
    assert.equal(tracker.trackers.length, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("'jsonl' without a run folder is an error", async () => {
  await assert.rejects(createTracker({ loggers: ['jsonl'] }), /needs a run folder/);
});

test('MultiTracker calls every backend even when one throws, then rethrows', async () => {
  const seen: number[] = [];
  const ok: Tracker = { log: (_m, s) => { seen.push(s); }, event: () => {}, close: async () => {} };
  const bad: Tracker = { log: () => { throw new Error('disk full'); }, event: () => {}, close: async () => { throw new Error('close failed'); } };
  const multi = new MultiTracker([bad, ok]);
  assert.throws(() => multi.log({ a: 1 }, 3), /disk full/);
  assert.deepEqual(seen, [3]);
  assert.throws(() => multi.log({ a: 1 }, 1.5), /non-negative integer/);
  await assert.rejects(multi.close(), /close failed/);
});
