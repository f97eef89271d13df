// Memory and time of `tinyzero score` on a large input (docs/benchmarks.md, "Dashboard and score at scale"):
//   node scripts/bench-score.mjs [--main dist/src/cli/main.js] [--mb 200] [--dir DIR]
// Writes about --mb megabytes of Countdown lines {data_source, solution_str, ground_truth} (kept
// in --dir for the next run), runs `score --input IN --output OUT` and reports its wall time and
// peak RSS (the child's maxRSS from the kernel). --main points at another build to compare.
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: {
  main: { type: 'string', default: 'dist/src/cli/main.js' },
  mb: { type: 'string', default: '200' },
  dir: { type: 'string', default: join(tmpdir(), 'tinyzero-bench-score') },
} });
const mb = Number(values.mb);
const dir = resolve(values.dir);
const input = join(dir, `countdown-${mb}mb.jsonl`);
const output = join(dir, 'scored.jsonl');

if (!existsSync(input) || statSync(input).size < mb * 1e6) {
  mkdirSync(dir, { recursive: true });
  const out = createWriteStream(input);
  for (let i = 0, bytes = 0; bytes < mb * 1e6; i++) {
    const [a, b, c] = [i % 97 + 1, (i * 7) % 89 + 1, (i * 13) % 83 + 1];
    const line = `${JSON.stringify({
      data_source: 'countdown',
      solution_str: `Assistant: <think> ${a}+${b}=${a + b}, ${a + b}-${c}=${a + b - c} </think>\n<answer>(${a} + ${b}) - ${c}</answer>`,
      ground_truth: { target: a + b - c, numbers: [a, b, c] },
      id: i,
    })}\n`;
    bytes += line.length;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}
// spawnSync does not report the child's peak RSS; /usr/bin/time -v does, when it is installed.
const timer = existsSync('/usr/bin/time') ? ['/usr/bin/time', '-v'] : [];
const started = performance.now();
const [cmd, ...args] = [...timer, process.execPath, values.main, 'score', '--input', input, '--output', output];
const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
const seconds = (performance.now() - started) / 1000;
const wrote = existsSync(output) ? statSync(output).size : 0;
rmSync(output, { force: true });
const rssKb = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1];
const stderr = r.stderr.replace(/\n\tCommand being timed[\s\S]*$/, '');
console.log(JSON.stringify({
  main: values.main, inputMB: +(statSync(input).size / 1e6).toFixed(1), status: r.status, seconds: +seconds.toFixed(1),
  outputMB: +(wrote / 1e6).toFixed(1), maxRssMB: rssKb ? Math.round(Number(rssKb) / 1024) : null, stderrTail: stderr.slice(-300),
}, null, 1));
