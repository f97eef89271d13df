// The weight-gradient matmul dW = X^T dY (TN: A stored transposed, k = tokens) beside the same
// shape in NN layout, timed side by side in one process: interleaved rounds (reversed every other
// round); GFLOP/s from each contender's best round, TN/NN as the median over rounds of the ratio
// within a round (steadier than best against best when the machine's speed drifts), with a 95%
// confidence interval for that median (pairedSpeedupInterval): a shape whose interval holds 1 is
// not shown to differ from NN by this run.
// Usage: npm run build && node scripts/bench-weight-grad.mjs [--threads N] [--baseline DIST] [--set NAME] [--only SUBSTR]
// --baseline DIST adds the TN path of another build's dist/ folder (an older commit) to the race, and a
// column of this build's TN speed over the baseline's (paired rounds, as TN/NN).
// --shapes '[[m,n,k],...]' races those shapes instead of a set.
// --set train (default): the shapes the trainer runs. m x n x k = in x out x tokens of a micro-batch:
//   countdown: the bundled countdown-base (hidden 128, MLP 512, tied 185-token vocabulary) packed
//     (use_remove_padding: k = the valid tokens of 64 rows, 2k-16k; 4-6k in npm start's steps);
//     countdown-384: the bundled base before 2026-12-03 (MLP 384, vocabulary 180), the shapes of earlier figures;
//   digit: veRL's tiny Llama (hidden 128, MLP 344, vocabulary 16) at 200 rows x 48 tokens;
//   qwen: Qwen2.5-0.5B's projections (hidden 896, k/v 128, MLP 4864) at k 512-4096, and its LoRA
//     factors (rank 16: dA is in x 16, dB is 16 x out).
// --set square: the earlier list (13312 tokens = 64 rows x 208, larger square layers).
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CpuBackend } from '../dist/src/backend/cpu/index.js';
import { pairedSpeedupText, raceRounds } from '../dist/src/bench/timing.js';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const threads = Number(opt('threads', '1'));
const baselineDir = opt('baseline', null);
const split = opt('split', 'auto');
// --clock cpu: the process's CPU seconds instead of wall seconds (1 thread: the one thread's own time,
// which a loaded machine inflates far less than the wall clock; with workers it counts their spinning).
const clock = opt('clock', 'wall');
const rounds = Number(opt('rounds', '9'));
const set = opt('set', 'train');
const only = opt('only', null);
const cross = (widths, ks) => ks.flatMap((k) => widths.map(([m, n]) => [m, n, k]));
const sets = {
  train: [
    ...cross([[128, 128], [128, 512], [512, 128], [128, 185]], [2048, 4096, 8192, 16384]).map((s) => ['countdown', ...s]),
    ...cross([[128, 384], [384, 128], [128, 180]], [2048, 4096, 8192, 16384]).map((s) => ['countdown-384', ...s]),
    ...cross([[128, 128], [128, 344], [344, 128], [128, 16]], [9600]).map((s) => ['digit', ...s]),
    ...cross([[896, 896], [896, 128], [896, 4864], [4864, 896]], [512, 1024, 4096]).map((s) => ['qwen', ...s]),
    ...cross([[896, 16], [16, 896], [4864, 16], [16, 4864]], [512, 4096]).map((s) => ['qwen-lora', ...s]),
  ],
  square: [
    [128, 128, 13312], [128, 384, 13312], [384, 128, 13312], [128, 180, 13312],
    [128, 344, 13312], [344, 128, 13312], [128, 16, 13312],
    [128, 384, 32768], [384, 128, 4096], [512, 512, 16384], [1024, 1024, 4096],
  ].map((s) => ['', ...s]),
};
const shapesArg = opt('shapes', null);
const shapes = shapesArg ? JSON.parse(shapesArg).map((s) => ['shapes', ...s]) : sets[set];
if (!shapes) throw new Error(`--set must be one of ${Object.keys(sets).join(', ')}, got ${set}`);

const be = await CpuBackend.create({ threads, split });
// --baseline A,B,...: several other builds, each a TN column.
const olds = [];
for (const dir of baselineDir ? baselineDir.split(',') : []) {
  const mod = await import(pathToFileURL(path.resolve(dir, 'src/backend/cpu/index.js')).href);
  olds.push(await mod.CpuBackend.create({ threads, split }));
}

function contender(backend, m, n, k, transA) {
  const a = backend.alloc(m * k * 4), b = backend.alloc(k * n * 4), out = backend.alloc(m * n * 4);
  backend.write(a, Float32Array.from({ length: m * k }, () => Math.random() - 0.5));
  backend.write(b, Float32Array.from({ length: k * n }, () => Math.random() - 0.5));
  const args = { batch: 1, m, n, k, transA, transB: false, aBatchStride: 0, bBatchStride: 0, accumulate: false };
  return { run: () => backend.matmul(a, b, out, args), dispose: () => { for (const x of [a, b, out]) backend.free(x); } };
}

/** The process's CPU time in ms (every thread's), for --clock cpu. */
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e3; };

console.log(`${clock} clock, split ${split}; `);
console.log(`threads ${threads}; GFLOP/s (2mnk / best round); TN/NN: median over ${rounds} rounds of the ratio within a round (its 95% confidence interval); m x n x k = in x out x tokens`);
console.log(['set', 'shape', 'NN', 'TN', ...olds.map((_, i) => `TN baseline ${i + 1}`), 'TN/NN', ...olds.map((_, i) => `baseline ${i + 1} TN/NN`),
  ...olds.map((_, i) => `TN/baseline ${i + 1} TN`)].join('\t'));
for (const [label, m, n, k] of shapes) {
  const name = `${m}x${n}x${k}`;
  if (only && !`${label} ${name}`.includes(only)) continue;
  const cs = [contender(be, m, n, k, false), contender(be, m, n, k, true)];
  for (const old of olds) cs.push(contender(old, m, n, k, true));
  const times = await raceRounds(cs, { rounds, minMs: 100, nowMs: clock === 'cpu' ? cpuMs : undefined });
  for (const c of cs) c.dispose();
  const g = times.map((t) => (2 * m * n * k) / Math.min(...t) / 1e9);
  const cols = [label, name, ...g.map((x) => x.toFixed(1))];
  for (let i = 1; i < g.length; i++) cols.push(pairedSpeedupText(times, i, 0));
  for (let i = 2; i < g.length; i++) cols.push(pairedSpeedupText(times, 1, i));
  console.log(cols.join('\t'));
}
be.destroy();
for (const old of olds) old.destroy();
