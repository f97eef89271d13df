import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DashboardServer, DashboardTracker, FileMetricsLog, JsonlTracker, RunFolderWatcher, runStateOf, type EventRecord } from '../../src/tracking/index.js';
import { statusLabel } from '../../src/tracking/dashboard-client/model.js';
import { SseClient } from './sse-client.js';

const TIMEOUT = { timeout: 30_000 };
const ev = (kind: string, extra: Record<string, unknown> = {}): EventRecord => ({ kind, time: '2025-01-01T00:00:00.000Z', ...extra });

test('the run phase follows run_start and run_end in file order', () => {
  assert.deepEqual(runStateOf([]), { phase: 'unknown' });
  assert.deepEqual(runStateOf([ev('run_start'), ev('samples', { step: 1 })]), { phase: 'running' });
  assert.deepEqual(runStateOf([ev('run_start'), ev('run_end', { step: 5, status: 'completed' })]), { phase: 'finished', status: 'completed', step: 5 });
  assert.deepEqual(runStateOf([ev('run_start'), ev('run_end', { step: 2, status: 'failed', message: 'out of memory' })]),
    { phase: 'stopped', status: 'failed', step: 2, message: 'out of memory' });
  // A resume after the end runs again.
  assert.deepEqual(runStateOf([ev('run_start'), ev('run_end', { step: 2, status: 'failed' }), ev('run_start')]), { phase: 'running' });
});

test('the badge never says live for an ended run, connected or not', () => {
  for (const connection of ['connecting', 'open', 'down'] as const) {
    assert.deepEqual(statusLabel({ phase: 'finished', status: 'completed' }, connection), { text: 'finished', cls: 'done' });
    assert.deepEqual(statusLabel({ phase: 'stopped', status: 'interrupted' }, connection), { text: 'stopped (interrupted)', cls: 'down' });
  }
  assert.deepEqual(statusLabel({ phase: 'running' }, 'open'), { text: 'live', cls: 'live' });
  assert.deepEqual(statusLabel({ phase: 'running' }, 'down'), { text: 'reconnecting\u2026', cls: 'down' });
  assert.deepEqual(statusLabel({ phase: 'unknown' }, 'open'), { text: 'connected', cls: '' });
});

test('a finished run folder is served as finished; a resume in the same folder makes it running', TIMEOUT, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tz-dash-state-'));
  const server = await DashboardServer.start({ port: 0, metrics: new FileMetricsLog(join(dir, 'metrics.jsonl')) });
  let sse: SseClient | null = null;
  try {
    const jsonl = new JsonlTracker({ runDir: dir, fsync: false });
    jsonl.event('run_start', { config: {} });
    jsonl.log({ a: 1 }, 1);
    jsonl.event('run_end', { step: 1, status: 'completed' });
    await jsonl.close();
    const watcher = new RunFolderWatcher(dir, server);
    watcher.poll();
    assert.equal(server.runState.phase, 'finished');
    sse = await SseClient.connect(`${server.url}events`);
    const status = JSON.parse((await sse.waitFor((m) => m.event === 'status')).data) as { phase: string; status: string };
    assert.deepEqual(status, { phase: 'finished', status: 'completed', step: 1 });

    appendFileSync(join(dir, 'events.jsonl'), `${JSON.stringify(ev('run_start', { config: {} }))}\n`);
    watcher.poll();
    assert.equal(server.runState.phase, 'running');
    await sse.waitFor((m) => m.event === 'status' && (JSON.parse(m.data) as { phase: string }).phase === 'running');
  } finally {
    sse?.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the in-process dashboard reports the end its trainer logs', TIMEOUT, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tz-dash-state2-'));
  writeFileSync(join(dir, 'metrics.jsonl'), '');
  const dash = await DashboardTracker.start({ port: 0, runDir: dir });
  try {
    dash.event('run_start', { config: {} });
    assert.equal(dash.server.runState.phase, 'running');
    dash.event('run_end', { step: 3, status: 'interrupted' });
    assert.deepEqual(dash.server.runState, { phase: 'stopped', status: 'interrupted', step: 3 });
  } finally {
    await dash.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a run whose writer died without run_end is stopped; one on another host stays running', TIMEOUT, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tz-dash-killed-'));
  const server = await DashboardServer.start({ port: 0, metrics: new FileMetricsLog(join(dir, 'metrics.jsonl')) });
  try {
    // A trainer that logs its start and a step, then dies without closing anything.
    const moduleUrl = pathToFileURL(join(import.meta.dirname, '../../src/tracking/index.js')).href;
    const script = `
      import { JsonlTracker } from ${JSON.stringify(moduleUrl)};
      const t = new JsonlTracker({ runDir: ${JSON.stringify(dir)}, fsync: false });
      t.event('run_start', { config: {} });
      t.log({ a: 1 }, 1);
      process.exit(9);`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(child.status, 9, child.stderr);
    const watcher = new RunFolderWatcher(dir, server);
    watcher.poll();
    assert.equal(server.runState.phase, 'stopped');
    assert.match(server.runState.message ?? '', new RegExp(`pid ${child.pid}\\) exited without logging run_end`));

    // The same on another host cannot be checked: it stays running. A live writer stays running.
    server.pushEvent(ev('run_start', { pid: child.pid, host: `${hostname()}-elsewhere` }));
    assert.equal(server.checkWriter(() => false), false);
    server.pushEvent(ev('run_start', { pid: process.pid, host: hostname() }));
    assert.equal(server.checkWriter(), false);
    assert.equal(server.runState.phase, 'running');
    assert.equal(server.checkWriter(() => false), true);
    assert.equal(server.runState.phase, 'stopped');
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
