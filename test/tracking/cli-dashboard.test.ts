import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SseClient } from './sse-client.js';

const MAIN = join(import.meta.dirname, '../../src/cli/main.js');

test('tinyzero dashboard --run DIR follows metrics.jsonl and exits cleanly on SIGTERM', { timeout: 20_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tz-cli-dash-'));
  const metrics = join(dir, 'metrics.jsonl');
  writeFileSync(metrics, '{"step":1,"critic/rewards/mean":0.1,"time":"2025-01-01T00:00:00.000Z"}\n');
  const child = spawn(process.execPath, [MAIN, 'dashboard', '--run', dir, '--port', '0', '--poll-ms', '50'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let sse: SseClient | null = null;
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed; stderr: ${stderr}`)), 10_000);
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (c: string) => {
        stderr += c;
        const m = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/) \(run .*, 1 steps so far/.exec(stderr);
        if (m) { clearTimeout(timer); resolve(m[1]!); }
      });
      child.on('exit', () => reject(new Error(`exited early; stderr: ${stderr}`)));
    });
    const history = await (await fetch(`${url}metrics`, { signal: AbortSignal.timeout(5000) })).json() as { step: number }[];
    assert.deepEqual(history.map((r) => r.step), [1]);
    sse = await SseClient.connect(`${url}events`);
    appendFileSync(metrics, '{"step":2,"critic/rewards/mean":0.3,"time":"2025-01-01T00:00:01.000Z"}\n');
    const live = JSON.parse((await sse.waitFor((m) => m.event === 'metrics')).data) as Record<string, number>;
    assert.equal(live.step, 2);
    assert.equal(live['critic/rewards/mean'], 0.3);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    sse?.close();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tinyzero dashboard without --run or with a missing folder fails with a message', { timeout: 20_000 }, async () => {
  const run = (args: string[]): Promise<{ code: number | null; stderr: string }> => new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, 'dashboard', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => { stderr += c; });
    child.on('exit', (code) => resolve({ code, stderr }));
  });
  const noRun = await run([]);
  assert.equal(noRun.code, 1);
  assert.match(noRun.stderr, /--run DIR is required/);
  const missing = await run(['--run', join(tmpdir(), 'tz-no-such-run-folder')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /does not exist/);
});
