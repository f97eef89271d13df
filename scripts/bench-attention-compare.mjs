// Fused attention, forward and backward, of several builds or thread counts side by side in one
// process: each contender is a build's dist folder, optionally with @N threads (default --threads),
// each on its own CPU backend; interleaved rounds (src/bench/timing.js), on the shapes of
// src/bench/attention.ts plus decoding (one query row per sequence against a KV cache). Prints ms
// per call (best round) and, for each contender after the first, its speed-up over the first: the
// median over rounds of the ratio within a round, with its 95% confidence interval (a machine whose
// speed drifts moves both sides of a round together).
// Usage: npm run build && node scripts/bench-attention-compare.mjs OLD/dist dist [dist@1 ...] [--threads 2] [--rounds 9]
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const value = argv[i + 1];
  argv.splice(i, 2);
  return value;
};
const threadsDefault = Number(opt('threads', '2'));
const rounds = Number(opt('rounds', '9'));
if (argv.length === 0) {
  console.error('usage: node scripts/bench-attention-compare.mjs DIST[@THREADS] [DIST[@THREADS] ...] [--threads N] [--rounds N]');
  process.exit(2);
}
const { ATTENTION_SHAPES, packedKeyStart } = await import(pathToFileURL(path.resolve('dist/src/bench/attention.js')).href);
const { pairedSpeedupText, raceRounds } = await import(pathToFileURL(path.resolve('dist/src/bench/timing.js')).href);
// Decoding: 64 sequences with 40-103 cached positions each, one query row each (the countdown base's heads).
const DECODE = { name: 'countdown-base decode x64', B: 64, T: 1, H: 4, Hkv: 4, D: 32, past: 104 };

const contenders = [];
for (const spec of argv) {
  const [dir, t] = spec.split('@');
  const { CpuBackend } = await import(pathToFileURL(path.resolve(dir, 'src/backend/cpu/index.js')).href);
  const threads = Number(t ?? threadsDefault);
  contenders.push({ label: `${dir}@${threads}`, be: await CpuBackend.create({ threads, split: threads > 1 ? 'always' : 'auto' }) });
}

let seed = 7;
const random = () => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed / 2 ** 32 - 0.5;
};
function buffer(be, count, values) {
  const buf = be.alloc(Math.max(count, 1) * 4);
  be.write(buf, values ?? Float32Array.from({ length: count }, random));
  return buf;
}

/** The calls of one shape on one backend: forward and backward (or forward alone for decoding). */
function calls(be, s) {
  const past = s.past ?? 0, Tk = past + s.T;
  const qe = s.B * s.T * s.H * s.D, kve = s.B * Tk * s.Hkv * s.D;
  const q = buffer(be, qe), k = buffer(be, kve), v = buffer(be, kve), dOut = buffer(be, qe);
  const out = be.alloc(qe * 4), lse = be.alloc(s.B * s.H * s.T * 4), dq = be.alloc(qe * 4), dk = be.alloc(kve * 4), dv = be.alloc(kve * 4);
  const keyStart = s.lengths ? buffer(be, s.T, packedKeyStart(s.lengths)) : null;
  // Decoding: each sequence's own cached length, through the key bias (0, or -1e9 on the slots past it).
  const bias = past ? buffer(be, s.B * Tk, Float32Array.from({ length: s.B * Tk }, (_, i) => (i % Tk < 40 + ((i / Tk) | 0) % 64 ? 0 : -1e9))) : null;
  const args = { B: s.B, Tq: s.T, H: s.H, Hkv: s.Hkv, D: s.D, pastLen: past, kvBatchStride: Tk * s.Hkv * s.D, scale: 1 / Math.sqrt(s.D), keyStart };
  be.attention(q, k, v, bias, out, lse, args);
  const sync = () => be.read(out, 'f32', 0, 1);
  const list = [['fwd', () => be.attention(q, k, v, bias, out, lse, args)]];
  if (!past) list.push(['bwd', () => be.attentionBackward(q, k, v, bias, out, lse, dOut, dq, dk, dv, args)]);
  return list.map(([dir, run]) => ({ dir, run, sync }));
}

console.log(`ms per call (best of ${rounds} rounds); x: speed-up over the first contender (median over rounds of the ratio within a round, 95% interval)`);
console.log(['shape', 'dir', ...contenders.map((c) => c.label)].join('\t'));
for (const shape of [...ATTENTION_SHAPES, DECODE]) {
  const made = contenders.map((c) => calls(c.be, shape));
  for (let d = 0; d < made[0].length; d++) {
    const calls = made.map((m) => m[d]);
    // A few calls first: each pool learns from its first calls whether splitting this kernel pays (SplitPolicy).
    for (const c of calls) {
      for (let i = 0; i < 4; i++) c.run();
      await c.sync();
    }
    const times = await raceRounds(calls, { rounds, minMs: 100 });
    const cols = times.map((ts, i) => {
      const best = (Math.min(...ts) * 1000).toFixed(3);
      return i === 0 ? best : `${best} (x${pairedSpeedupText(times, i, 0)})`;
    });
    console.log([shape.name, made[0][d].dir, ...cols].join('\t'));
  }
}
for (const c of contenders) c.be.destroy();
process.exit(0);
