import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DASHBOARD_CLIENT_DIR, DASHBOARD_SCRIPT_PATH, DEFAULT_CHARTS, DashboardTracker, JsonlTracker } from '../../src/tracking/index.js';
import { SseClient } from './sse-client.js';

const TIMEOUT = { timeout: 15_000 };

function httpGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body, headers: res.headers }));
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

test('the page loads only its own script, the browser build of dashboard-client', TIMEOUT, async () => {
  const dash = await DashboardTracker.start({ port: 0 });
  try {
    assert.match(dash.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await httpGet(dash.url);
    assert.equal(page.status, 200);
    assert.match(page.type, /text\/html/);
    const srcs = [...page.body.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    assert.deepEqual(srcs, [DASHBOARD_SCRIPT_PATH], 'one script, from this server; no other assets');
    assert.match(page.body, new RegExp(`<script type="module" src="${DASHBOARD_SCRIPT_PATH}"></script>`));
    assert.doesNotMatch(page.body, /https?:\/\//, 'no URLs');
    assert.match(String(page.headers['content-security-policy']), /script-src 'self';/);

    const script = await httpGet(new URL(DASHBOARD_SCRIPT_PATH, dash.url).href);
    assert.equal(script.status, 200);
    assert.match(script.type, /^text\/javascript/);
    const built = join(DASHBOARD_CLIENT_DIR, 'browser', 'main.js');
    assert.equal(script.body, readFileSync(built, 'utf8'), 'served as built');
    // It is the compiled module: ES imports of the other client modules, each served too.
    const imports = [...script.body.matchAll(/from '(\.[^']+)'/g)].map((m) => m[1]!);
    assert.deepEqual(imports.sort(), ['../model.js', './chart.js']);
    for (const path of imports) {
      const dep = await httpGet(new URL(path, new URL(DASHBOARD_SCRIPT_PATH, dash.url)).href);
      assert.equal(dep.status, 200, path);
    }
    const check = spawnSync(process.execPath, ['--check', built], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    // The browser build of model.ts is the same code the Node tests exercise.
    const model = await import(pathToFileURL(join(DASHBOARD_CLIENT_DIR, 'model.js')).href) as { DEFAULT_CHARTS: string[] };
    assert.deepEqual(model.DEFAULT_CHARTS, DEFAULT_CHARTS);
    assert.equal((await httpGet(`${dash.url}client/../../package.json`)).status, 404);
    assert.equal((await httpGet(`${dash.url}client/browser/main.ts`)).status, 404);
  } finally {
    await dash.close();
  }
});

test('every answer forbids MIME sniffing and framing', TIMEOUT, async () => {
  const dash = await DashboardTracker.start({ port: 0 });
  try {
    for (const path of ['', 'metrics', 'metrics?from=0', DASHBOARD_SCRIPT_PATH.slice(1), 'nope', 'metrics?from=x']) {
      const r = await httpGet(`${dash.url}${path}`);
      assert.equal(r.headers['x-content-type-options'], 'nosniff', path);
      assert.equal(r.headers['x-frame-options'], 'DENY', path);
    }
    const page = await httpGet(dash.url);
    assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
    const events = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const req = request(`${dash.url}events`, (res) => { resolve(res.headers); req.destroy(); });
      req.on('error', reject);
      req.end();
    });
    assert.equal(events['x-content-type-options'], 'nosniff');
    assert.equal(events['x-frame-options'], 'DENY');
  } finally {
    await dash.close();
  }
});

test('/metrics serves the run folder history; /events delivers a logged step live', TIMEOUT, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tz-dash-'));
  try {
    const jsonl = new JsonlTracker({ runDir: dir, fsync: false });
    jsonl.log({ 'critic/score/mean': 0.1 }, 1);
    jsonl.event('samples', { step: 1, samples: [{ prompt: 'p', response: 'r', score: 0.5 }] });
    await jsonl.close();
    const dash = await DashboardTracker.start({ port: 0, runDir: dir });
    let sse: SseClient | null = null;
    try {
      const metrics = await httpGet(`${dash.url}metrics`);
      assert.equal(metrics.status, 200);
      const rows = JSON.parse(metrics.body) as Record<string, unknown>[];
      assert.deepEqual(rows.map((r) => [r.step, r['critic/score/mean']]), [[1, 0.1]]);

      sse = await SseClient.connect(`${dash.url}events`);
      // The latest event of each kind is replayed on connect.
      const replay = await sse.waitFor((m) => m.event === 'samples');
      assert.equal((JSON.parse(replay.data) as { step: number }).step, 1);
      dash.log({ 'critic/score/mean': 0.4, 'actor/grad_norm': NaN }, 2);
      dash.event('run_end', { step: 2, status: 'completed' });
      const live = JSON.parse((await sse.waitFor((m) => m.event === 'metrics')).data) as Record<string, unknown>;
      assert.equal(live.step, 2);
      assert.equal(live['critic/score/mean'], 0.4);
      assert.equal(live['actor/grad_norm'], 'NaN');
      await sse.waitFor((m) => m.event === 'run_end');
      const after = JSON.parse((await httpGet(`${dash.url}metrics`)).body) as Record<string, unknown>[];
      assert.deepEqual(after.map((r) => r.step), [1, 2]);
    } finally {
      sse?.close();
      await dash.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('foreign Host headers, unknown paths and writes are refused', TIMEOUT, async () => {
  const dash = await DashboardTracker.start({ port: 0 });
  try {
    assert.equal((await httpGet(dash.url, { host: 'evil.example:80' })).status, 403);
    assert.equal((await httpGet(`${dash.url}nope`)).status, 404);
    const port = dash.server.port;
    assert.equal((await httpGet(`http://127.0.0.1:${port}/metrics`, { host: `localhost:${port}` })).status, 200);
  } finally {
    await dash.close();
  }
});

test('close() ends open event streams and stops listening', TIMEOUT, async () => {
  const dash = await DashboardTracker.start({ port: 0 });
  const sse = await SseClient.connect(`${dash.url}events`);
  const started = Date.now();
  await dash.close();
  assert.ok(Date.now() - started < 2000);
  await assert.rejects(httpGet(dash.url), /ECONNREFUSED/);
  await dash.close(); // twice is fine
  sse.close();
});

test('a dashboard that is never closed does not keep the process alive', TIMEOUT, () => {
  const moduleUrl = pathToFileURL(join(import.meta.dirname, '../../src/tracking/index.js')).href;
  const script = `
    import { DashboardTracker } from ${JSON.stringify(moduleUrl)};
    import { get } from 'node:http';
    const dash = await DashboardTracker.start({ port: 0 });
    // An open /events subscriber from the same process must not hold it either.
    get(dash.url + 'events', (res) => { res.socket.unref(); res.on('data', () => {}); console.log('subscribed'); });`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000 });
  assert.equal(child.signal, null, 'the child had to be killed: something kept it alive');
  assert.equal(child.status, 0, child.stderr.toString());
  assert.match(child.stdout.toString(), /subscribed/);
});
