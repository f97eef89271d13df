// CpuBackend.linearGroup (several projections of one input, with an epilogue) beside the separate
// calls it replaces (src/backend/composed.ts: matmul, then the bias add, silu and mul or residual
// add), and beside other builds' linearGroup, timed side by side in one process in interleaved
// rounds. Prints each contender's time (best round) and the median over rounds of the ratio within
// a round, with its 95% confidence interval: src/bench/timing.js) over the separate calls and over each baseline.
// Usage: npm run build && node scripts/bench-linear-group.mjs [--threads N] [--rounds N] [--baseline DIST[,DIST]] [--rows 2300,600]
// Groups: the bundled countdown base's (hidden 128, MLP 512; q/k/v with biases, as Qwen2) and
// Qwen2.5-0.5B's (hidden 896, MLP 4864, k/v 128), at each --rows (m; past 256 rows, the log-probs
// and prefills, the CPU packs each weight once and runs the rows a chunk at a time).
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CpuBackend } from '../dist/src/backend/cpu/index.js';
import { linearGroupComposed } from '../dist/src/backend/composed.js';
import { pairedSpeedupText, raceRounds } from '../dist/src/bench/timing.js';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const threads = Number(opt('threads', '2'));
const rounds = Number(opt('rounds', '9'));
const rowsList = opt('rows', '2300,600').split(',').map(Number);
const baselines = opt('baseline', '') ? opt('baseline', '').split(',') : [];

const be = await CpuBackend.create({ threads });
const olds = [];
for (const dir of baselines) {
  const mod = await import(pathToFileURL(path.resolve(dir, 'src/backend/cpu/index.js')).href);
  olds.push(await mod.CpuBackend.create({ threads }));
}

const GROUPS = [
  { name: 'countdown gate/up swiglu', k: 128, n: [512, 512], bias: false, residual: false, epilogue: 'swiglu' },
  { name: 'countdown q/k/v + bias', k: 128, n: [128, 128, 128], bias: true, residual: false, epilogue: 'none' },
  { name: 'countdown down + residual', k: 512, n: [128], bias: false, residual: true, epilogue: 'none' },
  { name: 'qwen0.5b gate/up swiglu', k: 896, n: [4864, 4864], bias: false, residual: false, epilogue: 'swiglu' },
  { name: 'qwen0.5b q/k/v + bias', k: 896, n: [896, 128, 128], bias: true, residual: false, epilogue: 'none' },
];

function randomBuffer(backend, count) {
  const buf = backend.alloc(count * 4);
  backend.write(buf, Float32Array.from({ length: count }, () => Math.random() - 0.5));
  return buf;
}

/** One contender: the group on `backend`, fused (its linearGroup) or as the separate calls. */
function contender(backend, g, m, fused) {
  const x = randomBuffer(backend, m * g.k);
  const weights = g.n.map((n) => randomBuffer(backend, n * g.k));
  const biases = g.n.map((n) => (g.bias ? randomBuffer(backend, n) : null));
  const residual = g.residual ? randomBuffer(backend, m * g.n[0]) : null;
  const outs = (g.epilogue === 'swiglu' ? [g.n[0]] : g.n).map((n) => backend.alloc(m * n * 4));
  const args = { m, k: g.k, n: g.n, wDtype: g.n.map(() => 'f32'), epilogue: g.epilogue };
  const run = fused
    ? () => backend.linearGroup(x, weights, biases, residual, outs, args)
    : () => linearGroupComposed(backend, x, weights, biases, residual, outs, args);
  const bufs = [x, ...weights, ...biases, residual, ...outs].filter((b) => b);
  return { run, sync: () => backend.read(outs[0], 'f32', 0, 1), dispose: () => { for (const b of bufs) backend.free(b); } };
}

console.log(`threads ${threads}; ms per call (best of ${rounds} rounds); ratios: median over rounds of the ratio within a round (95% confidence interval)`);
console.log(['group', 'rows', 'separate calls', 'linearGroup', ...olds.map((_, i) => `baseline ${i + 1}`),
  'linearGroup over separate calls', ...olds.map((_, i) => `linearGroup over baseline ${i + 1}`)].join('\t'));
for (const m of rowsList) {
  for (const g of GROUPS) {
    const cs = [contender(be, g, m, false), contender(be, g, m, true), ...olds.map((old) => contender(old, g, m, true))];
    // A few calls first: the pool learns whether splitting each kernel pays at these sizes (SplitPolicy)
    // from its first calls, which would otherwise be the rounds of the largest products.
    for (const c of cs) {
      for (let i = 0; i < 6; i++) c.run();
      await c.sync();
    }
    const times = await raceRounds(cs, { rounds, minMs: 100 });
    for (const c of cs) c.dispose();
    const cols = [g.name, m, ...times.map((t) => (Math.min(...t) * 1000).toFixed(2))];
    cols.push(pairedSpeedupText(times, 1, 0));
    for (let i = 2; i < cs.length; i++) cols.push(pairedSpeedupText(times, 1, i));
    console.log(cols.join('\t'));
  }
}
be.destroy();
for (const old of olds) old.destroy();
