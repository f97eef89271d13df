// Stopping: close() lets the running generation answer, fails queued requests with 503 and refuses
// new ones; the `tinyzero serve` command stops the same way on SIGTERM and exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { baseModelDir, post, startFixture } from './fixture.js';

test('close() answers the running generation, fails the queued request with 503, then refuses connections', async () => {
  // One row per batch: the second request cannot join the running one and waits in the queue.
  const f = await startFixture({ maxBatchRows: 1 });
  const url = f.server.url;
  try {
    let settled = false;
    const running = post(`${url}/v1/completions`, JSON.stringify({ prompt: '1+1=', max_tokens: 100, temperature: 0, ignore_eos: true })).finally(() => { settled = true; });
    while (!f.server.stats.running && !settled) await new Promise((r) => setTimeout(r, 1));
    const queued = post(`${url}/v1/completions`, JSON.stringify({ prompt: '2+2=', max_tokens: 4, temperature: 1 }));
    while (f.server.stats.queuedRows === 0 && !settled) await new Promise((r) => setTimeout(r, 1));
    assert.ok(!settled, 'the first request is still generating');
    const closing = f.server.close();
    const [a, b] = await Promise.all([running, queued]);
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.usage.completion_tokens, 100);
    assert.equal(b.status, 503, b.text);
    assert.match(b.json.error.message, /shutting down/);
    await closing;
    await assert.rejects(fetch(`${url}/health`));
  } finally {
    await f.close();
  }
});

test('tinyzero serve prints its URL, answers, and exits 0 on SIGTERM', async () => {
  const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const child = spawn(process.execPath, [main, 'serve', '--model', baseModelDir, '--port', '0', '--threads', '1', '--served-model-name', 'base'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /serve: base on (http:\/\/127\.0\.0\.1:\d+) /.exec(stderr);
        if (m) resolve(m[1]!);
      });
      void exited.then((code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
    });
    const r = await post(`${url}/v1/completions`, JSON.stringify({ model: 'base', prompt: '1+1=', max_tokens: 3 }));
    assert.equal(r.status, 200, r.text);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /stopping/);
  } finally {
    child.kill('SIGKILL');
  }
});

test('tinyzero serve refuses bad options with a message naming them', async () => {
  const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const run = (...args: string[]) => new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const c = spawn(process.execPath, [main, 'serve', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    c.on('exit', (code) => resolve({ code, stderr }));
  });
  assert.match((await run()).stderr, /serve: --model DIR is required/);
  assert.match((await run('--model', baseModelDir, '--port', '70000')).stderr, /--port' must be 0\.\.65535, got 70000/);
  assert.match((await run('--model', baseModelDir, '--max-batch-rows', '0')).stderr, /--max-batch-rows' must be at least 1/);
  assert.match((await run('--model', '/no/such/model')).stderr, /\/no\/such\/model/);
});
