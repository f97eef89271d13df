// Load test of the standalone dashboard's /metrics (docs/benchmarks.md, "Dashboard and score at scale"):
//   node scripts/bench-dashboard.mjs [--main dist/src/cli/main.js] [--mb 100] [--parallel 25] [--dir DIR]
// Writes a metrics.jsonl of about --mb megabytes (veRL-like lines of 60 metrics; kept in --dir for
// the next run), starts `tinyzero dashboard --run DIR`, then sends --parallel simultaneous GET
// /metrics (the whole history) while timing GET / every 100 ms, and reports the server's peak RSS
// (VmHWM, Linux) and the times. With a dashboard that has /metrics?from= it then does the same with
// --parallel pages catching up by increments. --main points at another build to compare.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: {
  main: { type: 'string', default: 'dist/src/cli/main.js' },
  mb: { type: 'string', default: '100' },
  parallel: { type: 'string', default: '25' },
  dir: { type: 'string', default: join(tmpdir(), 'tinyzero-bench-dashboard') },
} });
const mb = Number(values.mb);
const parallel = Number(values.parallel);
const dir = resolve(values.dir, `${mb}mb`);
const metricsPath = join(dir, 'metrics.jsonl');

function makeMetrics() {
  mkdirSync(dir, { recursive: true });
  const keys = Array.from({ length: 60 }, (_, i) => `group_${i % 6}/metric_name_${i}/mean`);
  const chunks = [];
  let bytes = 0;
  for (let step = 1; bytes < mb * 1e6; step++) {
    const row = { step };
    for (const [i, k] of keys.entries()) row[k] = Math.sin(step / 50 + i) * 10 ** ((i % 7) - 3);
    row.time = new Date(Date.UTC(2025, 0, 1) + step * 1000).toISOString();
    const line = `${JSON.stringify(row)}\n`;
    chunks.push(line);
    bytes += line.length;
  }
  writeFileSync(metricsPath, chunks.join(''));
}
if (!existsSync(metricsPath) || Math.abs(statSync(metricsPath).size - mb * 1e6) > 1e5) makeMetrics();
console.error(`bench-dashboard: ${metricsPath} ready`);
const size = statSync(metricsPath).size;

const child = spawn(process.execPath, [values.main, 'dashboard', '--run', dir, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
// The server must not outlive a failed bench.
process.on('exit', () => child.kill('SIGTERM'));
const log = (m) => console.error(`bench-dashboard: ${m}`);
const vm = (field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
let stderr = '';
const startedAt = performance.now();
const url = await new Promise((ok, fail) => {
  child.stderr.setEncoding('utf8').on('data', (c) => {
    stderr += c;
    const m = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr);
    if (m) ok(m[1]);
  });
  child.on('exit', () => fail(new Error(`dashboard exited: ${stderr}`)));
});
const ready = performance.now() - startedAt;
const idleRss = vm('VmRSS');

async function burst(makeRequest) {
  let worstPage = 0;
  let pageErrors = 0;
  let done = false;
  const pageTimer = (async () => {
    while (!done) {
      const t = performance.now();
      try {
        await (await fetch(url)).text();
      } catch {
        pageErrors++; // a reused keep-alive socket the server had just closed; not a timing
        continue;
      }
      worstPage = Math.max(worstPage, performance.now() - t);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const t0 = performance.now();
  const results = await Promise.allSettled(Array.from({ length: parallel }, makeRequest));
  const seconds = (performance.now() - t0) / 1000;
  done = true;
  await pageTimer;
  const failed = results.filter((r) => r.status === "rejected").map((r) => `${r.reason} (${r.reason?.cause?.code ?? r.reason?.cause})`);
  return { seconds: +seconds.toFixed(2), worstPageMs: Math.round(worstPage), failed: failed.length, firstFailure: failed[0], pageErrors, peakRssMB: Math.round(vm('VmHWM')) };
}

// The clients count bytes instead of parsing: the figures are the server's, not this process's.
async function drain(res) {
  if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
  let bytes = 0;
  for await (const chunk of res.body) bytes += chunk.length;
  return bytes;
}
log(`dashboard ready after ${(ready / 1000).toFixed(1)} s; ${parallel} x GET /metrics`);
const all = await burst(async () => drain(await fetch(`${url}metrics`)));
log(`${JSON.stringify(all)}; ${parallel} pages catching up by /metrics?from=`);
let increments = null;
const probe = await fetch(`${url}metrics?from=0`);
if (probe.ok && (await probe.text()).startsWith('{')) {
  increments = await burst(async () => {
    let query = 'from=0';
    let requests = 0;
    for (;;) {
      const text = await (await fetch(`${url}metrics?${query}`)).text();
      const head = /^\{"generation":(\d+),"from":\d+,"next":(\d+),"more":(true|false)/.exec(text);
      if (!head) throw new Error(`not an increment: ${text.slice(0, 200)}`);
      requests++;
      query = `from=${head[2]}&generation=${head[1]}`;
      if (head[3] === 'false') return requests;
    }
  });
}
child.kill('SIGTERM');
console.log(JSON.stringify({ main: values.main, fileMB: +(size / 1e6).toFixed(1), parallel, readySeconds: +(ready / 1000).toFixed(2), idleRssMB: Math.round(idleRss), wholeArray: all, increments }, null, 1));
