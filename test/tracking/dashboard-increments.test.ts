import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DashboardServer, FileMetricsLog, JsonlTail, METRICS_CHUNK_BYTES, MemoryMetricsLog, PrefixedMetricsLog, RunFolderWatcher, completeLinesEnd, joinObjectLines,
  type MetricsLog,
} from '../../src/tracking/index.js';
import { MetricsCursor, MetricsTable, parseIncrement } from '../../src/tracking/dashboard-client/model.js';
import { SseClient } from './sse-client.js';

const TIMEOUT = { timeout: 30_000 };
const line = (step: number, extra = ''): string => `{"step":${step},"critic/score/mean":${step / 10}${extra},"time":"2025-01-01T00:00:00.000Z"}`;

function withDir<T>(run: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'tz-dash-inc-'));
  return run(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

async function getJson(url: string): Promise<{ status: number; body: unknown; text: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let body: unknown = null;
  try { body = JSON.parse(text); } catch { /* not JSON: an error message */ }
  return { status: res.status, body, text };
}

/** What a page does: follows `next` until `more` is false; returns the steps and the requests made. */
async function catchUp(url: string, cursor: MetricsCursor, table: MetricsTable): Promise<number> {
  let requests = 0;
  for (;;) {
    requests++;
    const r = await getJson(`${url}metrics?${cursor.query()}`);
    assert.equal(r.status, 200, r.text);
    if (!cursor.apply(parseIncrement(r.body), table)) return requests;
  }
}

test('/metrics?from= serves increments across appends, holding back a partly written last line', TIMEOUT, () => withDir(async (dir) => {
  const path = join(dir, 'metrics.jsonl');
  writeFileSync(path, `${line(1)}\n${line(2)}\n{"step":3,"critic/sc`);
  const server = await DashboardServer.start({ port: 0, metrics: new FileMetricsLog(path) });
  try {
    const first = parseIncrement((await getJson(`${server.url}metrics?from=0`)).body);
    assert.deepEqual(first.rows.map((r) => (r as { step: number }).step), [1, 2]);
    assert.equal(first.next, Buffer.byteLength(`${line(1)}\n${line(2)}\n`));
    assert.equal(first.more, false);
    assert.equal(first.reset, false);
    // The writer finishes line 3 and adds line 4: the next increment is exactly those two.
    appendFileSync(path, `ore/mean":0.3,"time":"2025-01-01T00:00:00.000Z"}\n${line(4)}\n`);
    const second = parseIncrement((await getJson(`${server.url}metrics?from=${first.next}&generation=${first.generation}`)).body);
    assert.deepEqual(second.rows, [{ step: 3, 'critic/score/mean': 0.3, time: '2025-01-01T00:00:00.000Z' }, JSON.parse(line(4))]);
    const third = parseIncrement((await getJson(`${server.url}metrics?from=${second.next}`)).body);
    assert.deepEqual([third.rows, third.next, third.more], [[], second.next, false]);
    // The whole history in one array, as before.
    assert.deepEqual(((await getJson(`${server.url}metrics`)).body as { step: number }[]).map((r) => r.step), [1, 2, 3, 4]);
    // Cursors that are not line starts, or not offsets, are refused with the reason.
    const mid = await getJson(`${server.url}metrics?from=5`);
    assert.equal(mid.status, 400);
    assert.match(mid.text, /from=5 is not at the start of a line of .*metrics\.jsonl/);
    assert.match((await getJson(`${server.url}metrics?from=99999`)).text, /past the end/);
    assert.match((await getJson(`${server.url}metrics?from=-1`)).text, /'from' must be a byte offset \(an integer >= 0\), got '-1'/);
  } finally {
    await server.close();
  }
}));

test('a long history comes in bounded chunks, and a replaced file restarts stale cursors', TIMEOUT, () => withDir(async (dir) => {
  const path = join(dir, 'metrics.jsonl');
  const pad = `,"pad":"${'x'.repeat(2000)}"`;
  const steps = Math.ceil((2.5 * METRICS_CHUNK_BYTES) / line(1, pad).length);
  writeFileSync(path, Array.from({ length: steps }, (_, i) => `${line(i + 1, pad)}\n`).join(''));
  const server = await DashboardServer.start({ port: 0, metrics: new FileMetricsLog(path) });
  try {
    const cursor = new MetricsCursor();
    const table = new MetricsTable();
    assert.equal(await catchUp(server.url, cursor, table), 3, 'three chunks of at most 1 MiB');
    assert.deepEqual(table.rows.map((r) => r.step), Array.from({ length: steps }, (_, i) => i + 1));
    const all = (await getJson(`${server.url}metrics`)).body as { step: number }[];
    assert.equal(all.length, steps);

    // A resume rewrites the file with fewer steps (rename over it); the watcher resets the server.
    writeFileSync(`${path}.tmp`, `${line(1)}\n${line(2)}\n`);
    renameSync(`${path}.tmp`, path);
    server.reset(true, null);
    const stale = parseIncrement((await getJson(`${server.url}metrics?${cursor.query()}`)).body);
    assert.equal(stale.reset, true);
    assert.equal(stale.from, 0);
    assert.equal(cursor.apply(stale, table), false);
    assert.deepEqual(table.rows.map((r) => r.step), [1, 2]);
  } finally {
    await server.close();
  }
}));

test('in memory and after a file prefix, offsets continue as if the lines were in the file', TIMEOUT, () => withDir(async (dir) => {
  const path = join(dir, 'metrics.jsonl');
  writeFileSync(path, `${line(1)}\n${line(2)}\n{"step":`);
  const prefixEnd = await completeLinesEnd(path);
  assert.equal(prefixEnd, Buffer.byteLength(`${line(1)}\n${line(2)}\n`));
  const prefixed = new PrefixedMetricsLog(path, prefixEnd);
  prefixed.live.append(line(3, ',"note":"é"'));
  prefixed.live.append(line(4));
  // The same lines in a file give the same offsets.
  const whole = join(dir, 'whole.jsonl');
  writeFileSync(whole, [line(1), line(2), line(3, ',"note":"é"'), line(4)].map((l) => `${l}\n`).join(''));
  const readAll = async (log: MetricsLog, maxBytes: number): Promise<[number[], number[]]> => {
    const offsets: number[] = [];
    const steps: number[] = [];
    for (let from = 0, more = true; more;) {
      const chunk = await log.read(from, maxBytes);
      offsets.push(chunk.next);
      const rows = JSON.parse(`[${chunk.body.toString('utf8')}]`) as { step: number }[];
      assert.equal(rows.length, chunk.count);
      steps.push(...rows.map((r) => r.step));
      ({ more } = chunk);
      from = chunk.next;
    }
    return [steps, offsets];
  };
  const one = line(1).length; // every chunk holds one line
  assert.deepEqual(await readAll(prefixed, one), await readAll(new FileMetricsLog(whole), one));
  const memory = new MemoryMetricsLog();
  for (const l of [line(1), line(2), line(3, ',"note":"é"'), line(4)]) memory.append(l);
  assert.deepEqual(await readAll(memory, 1e9), await readAll(new FileMetricsLog(whole), 1e9));
  await assert.rejects(memory.read(3, 100), /from=3 is not at the start of a line/);
}));

test('joinObjectLines keeps the object lines, trimmed, comma-separated', () => {
  const { body, count } = joinObjectLines(Buffer.from('{"a":1}\r\n  {"b":"é"} \n\n[1]\n{"c":\n{}\n'));
  assert.equal(body.toString('utf8'), '{"a":1},{"b":"é"},{}');
  assert.equal(count, 3);
});

test('JsonlTail.readChunk reads bounded pieces of whole lines', () => withDir(async (dir) => {
  const path = join(dir, 'x.jsonl');
  writeFileSync(path, 'aaaa\nbb\ncccccccc\nd');
  const tail = new JsonlTail(path);
  assert.deepEqual(tail.readChunk(6), { reset: false, lines: ['aaaa'], more: true, bytes: 5 });
  assert.deepEqual(tail.readChunk(6), { reset: false, lines: ['bb'], more: true, bytes: 3 });
  assert.deepEqual(tail.readChunk(6), { reset: false, lines: ['cccccccc'], more: false, bytes: 9 }, 'a line longer than the chunk still comes whole');
  assert.deepEqual(tail.readChunk(6), { reset: false, lines: [], more: false, bytes: 0 }, 'the partial last line waits');
  appendFileSync(path, '\n');
  assert.deepEqual(tail.read(), { reset: false, lines: ['d'] });
}));

test('the watcher announces a large backlog instead of sending it step by step, and sends small increments live', TIMEOUT, () => withDir(async (dir) => {
  const path = join(dir, 'metrics.jsonl');
  const pad = `,"pad":"${'x'.repeat(1000)}"`;
  writeFileSync(path, Array.from({ length: 400 }, (_, i) => `${line(i + 1, pad)}\n`).join(''));
  const server = await DashboardServer.start({ port: 0, metrics: new FileMetricsLog(path) });
  const sse = await SseClient.connect(`${server.url}events`);
  try {
    const watcher = new RunFolderWatcher(dir, server);
    assert.equal(watcher.poll(), 400);
    await sse.waitFor((m) => m.event === 'more');
    appendFileSync(path, `${line(401)}\n`);
    assert.equal(watcher.poll(), 1);
    const live = JSON.parse((await sse.waitFor((m) => m.event === 'metrics')).data) as { step: number };
    assert.equal(live.step, 401);
    assert.equal(sse.messages.filter((m) => m.event === 'metrics').length, 1, 'the backlog was not sent as events');
  } finally {
    sse.close();
    await server.close();
  }
}));
