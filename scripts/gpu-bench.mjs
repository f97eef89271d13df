// WebGPU benchmarks: adapter report, matmul GFLOP/s, and one Qwen2.5-0.5B-sized decoder layer
// (hidden 896, 14 heads, 2 KV heads, head dim 64, intermediate 4864; random weights) forward and
// forward+backward in GFLOP/s; where the adapter has them, matmul with f16 weights (shader-f16) and
// the row kernels with subgroup reductions against the workgroup-memory path (subgroups); products
// with few tiles (decoding's projections, a LoRA weight gradient) whole and split along K; the
// matmul kernels with and without prefetching the next step of K.
// The layer's passes are also profiled kernel by kernel where the device has timestamp-query.
// Prints one JSON object (also written to --out FILE).
// Usage: npm run build && node scripts/gpu-bench.mjs [--small] [--backend vulkan|opengles] [--out FILE]
//   --small: sizes a software rasteriser finishes in seconds (to test the script, not to measure).
import { writeFileSync } from 'node:fs';
import { createNodeWebGpuBackend } from '../dist/src/backend/webgpu/node.js';
import { parseModelConfig } from '../dist/src/models/config.js';
import { f32ArrayToF16 } from '../dist/src/util/float16.js';
import { DecoderModel } from '../dist/src/models/llama.js';
import * as T from '../dist/src/tensor/index.js';

const argv = process.argv.slice(2);
const opt = (name) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const small = argv.includes('--small');
// Timestamps at full resolution for the kernel profiles (Dawn may round them to 100 µs otherwise).
const be = await createNodeWebGpuBackend({ backend: opt('backend'), flags: ['disable-dawn-features=timestamp_quantization'] });
if (!be) {
  console.error('gpu-bench: no WebGPU adapter');
  process.exit(2);
}
const result = { adapter: be.adapter, matmul: [], matmulF16: [], skinny: [], rows: [], layer: null };
console.error(`adapter: ${JSON.stringify({ ...be.adapter, limits: undefined })}`);

/**
 * Best wall time in seconds of `fn` over `reps` runs, each waited for on the device. The warm-up
 * compiles pipelines, fills the buffer pool and runs for at least half a second, so a GPU that sat
 * idle (its clocks low) is up to speed before the timed runs.
 */
async function bestTime(fn, reps) {
  const warm = performance.now();
  do {
    fn();
    await be.sync();
  } while (performance.now() - warm < 500);
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    await be.sync();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

/** A, B (random) and out of one f32 product, with its matmul arguments. */
function product(m, n, k, transA, transB) {
  const [a, b, out] = [be.alloc(m * k * 4), be.alloc(k * n * 4), be.alloc(m * n * 4)];
  be.write(a, Float32Array.from({ length: m * k }, () => Math.random() - 0.5));
  be.write(b, Float32Array.from({ length: k * n }, () => Math.random() - 0.5));
  return { a, b, out, args: { batch: 1, m, n, k, transA, transB, aBatchStride: 0, bBatchStride: 0, accumulate: false } };
}

const shapes = small
  ? [{ m: 128, n: 128, k: 128, transB: false }, { m: 256, n: 256, k: 256, transB: true }]
  : [
    { m: 1024, n: 1024, k: 1024, transB: false },
    { m: 4096, n: 4096, k: 4096, transB: false },
    { m: 4096, n: 4864, k: 896, transB: true }, // an MLP up-projection of 8x512 tokens (weights stored [out, in])
  ];
// Products with few tiles, whole and split along K (the backend's splitKPlan), side by side:
// Qwen2.5-0.5B's projections in decoding (64 rows, weights [out, in]) and a LoRA weight gradient
// (dA = dY^T X over 4096 tokens).
const skinny = small
  ? [{ m: 8, n: 64, k: 1024, transA: false, transB: true }]
  : [
    { m: 64, n: 896, k: 896, transA: false, transB: true },
    { m: 64, n: 128, k: 896, transA: false, transB: true },
    { m: 64, n: 4864, k: 896, transA: false, transB: true },
    { m: 64, n: 896, k: 4864, transA: false, transB: true },
    { m: 16, n: 896, k: 4096, transA: true, transB: false },
  ];
for (const { m, n, k, transA, transB } of skinny) {
  const { a, b, out, args } = product(m, n, k, transA, transB);
  const iters = small ? 2 : 50;
  const row = { m, n, k, transA, transB };
  for (const split of [false, true]) {
    be.splitK = split;
    const s = await bestTime(() => { for (let i = 0; i < iters; i++) be.matmul(a, b, out, args); }, 3);
    row[split ? 'splitMs' : 'wholeMs'] = +((s / iters) * 1e3).toFixed(4);
  }
  be.splitK = true;
  row.speedup = +(row.wholeMs / row.splitMs).toFixed(2);
  result.skinny.push(row);
  console.error(`skinny ${m}x${n}x${k} tA=${transA} tB=${transB}: whole ${row.wholeMs} ms, split ${row.splitMs} ms (${row.speedup}x)`);
  for (const x of [a, b, out]) be.free(x);
}

// The matmul kernels with the next step of K read while the current one is multiplied, and without
// (the backend's matmulPrefetch), alternating: the large shapes above, the update's products of
// 1,024 tokens (x W^T, dX = dY W split along K, dW = X^T dY) and a decoding projection.
const prefetchShapes = small
  ? [{ m: 128, n: 128, k: 128, transA: false, transB: false }, { m: 8, n: 64, k: 1024, transA: false, transB: true }]
  : [
    ...shapes.map((s) => ({ ...s, transA: false })),
    { m: 1024, n: 4864, k: 896, transA: false, transB: true },
    { m: 1024, n: 896, k: 4864, transA: false, transB: false },
    { m: 896, n: 4864, k: 1024, transA: true, transB: false },
    { m: 64, n: 4864, k: 896, transA: false, transB: true },
  ];
result.prefetch = [];
for (const { m, n, k, transA, transB } of prefetchShapes) {
  const { a, b, out, args } = product(m, n, k, transA, transB);
  const iters = small ? 2 : 20;
  const best = { on: Infinity, off: Infinity };
  for (let round = 0; round < 2; round++) {
    for (const on of [true, false]) {
      be.matmulPrefetch = on;
      const s = await bestTime(() => { for (let i = 0; i < iters; i++) be.matmul(a, b, out, args); }, 3);
      best[on ? 'on' : 'off'] = Math.min(best[on ? 'on' : 'off'], s / iters);
    }
  }
  be.matmulPrefetch = true;
  const tflops = (s) => +((2 * m * n * k) / s / 1e12).toFixed(2);
  const row = { m, n, k, transA, transB, prefetchMs: +(best.on * 1e3).toFixed(4), plainMs: +(best.off * 1e3).toFixed(4),
    prefetchTflops: tflops(best.on), plainTflops: tflops(best.off), speedup: +(best.off / best.on).toFixed(3) };
  result.prefetch.push(row);
  console.error(`prefetch ${m}x${n}x${k} tA=${transA} tB=${transB}: ${row.prefetchTflops} against ${row.plainTflops} TFLOP/s (${row.speedup}x)`);
  for (const x of [a, b, out]) be.free(x);
}

// f16 B (frozen weights) where the adapter has shader-f16: the same shapes, half the B traffic.
for (const half of be.halfStorage ? [false, true] : [false]) {
  for (const { m, n, k, transB } of shapes) {
    const a = be.alloc(m * k * 4);
    const b = be.alloc(k * n * (half ? 2 : 4));
    const out = be.alloc(m * n * 4);
    be.write(a, Float32Array.from({ length: m * k }, () => Math.random() - 0.5));
    const bValues = Float32Array.from({ length: k * n }, () => Math.random() - 0.5);
    be.write(b, half ? f32ArrayToF16(bValues) : bValues);
    const args = { batch: 1, m, n, k, transA: false, transB, aBatchStride: 0, bBatchStride: 0, accumulate: false, bDtype: half ? 'f16' : 'f32' };
    const iters = small ? 2 : 10;
    const s = await bestTime(() => { for (let i = 0; i < iters; i++) be.matmul(a, b, out, args); }, 3);
    const gflops = (2 * m * n * k * iters) / s / 1e9;
    (half ? result.matmulF16 : result.matmul).push({ m, n, k, transB, ms: (s / iters) * 1e3, gflops: +gflops.toFixed(1) });
    console.error(`matmul ${m}x${n}x${k} transB=${transB}${half ? ' f16 B' : ''}: ${(s / iters * 1e3).toFixed(2)} ms, ${gflops.toFixed(0)} GFLOP/s`);
    for (const x of [a, b, out]) be.free(x);
  }
}

// Row kernels over a vocabulary-wide row (Qwen2.5's 151936) with subgroup reductions and with the
// workgroup-memory tree, on two devices of the same adapter.
if (be.subgroups) {
  const tree = await createNodeWebGpuBackend({ backend: opt('backend'), subgroups: false });
  const [rows, cols] = small ? [16, 1000] : [1024, 151936];
  for (const [name, dev] of [['subgroups', be], ['tree', tree]]) {
    const x = dev.alloc(rows * cols * 4);
    const y = dev.alloc(rows * cols * 4);
    const ids = dev.alloc(rows * 4);
    const r = [dev.alloc(rows * 4), dev.alloc(rows * 4), dev.alloc(rows * 4)];
    dev.write(x, Float32Array.from({ length: rows * cols }, () => Math.random() * 4 - 2));
    dev.write(ids, Int32Array.from({ length: rows }, (_, i) => (i * 7919) % cols));
    const time = async (fn) => {
      fn();
      await dev.sync();
      let best = Infinity;
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        fn();
        await dev.sync();
        best = Math.min(best, performance.now() - t0);
      }
      return +best.toFixed(3);
    };
    const entry = {
      reductions: name, rows, cols,
      softmaxMs: await time(() => dev.softmax(x, y, rows, cols)),
      logprobEntropyMs: await time(() => dev.logprobEntropy(x, ids, r[0], r[1], r[2], rows, cols, 1)),
      reduceSumMs: await time(() => dev.reduce('sum', x, r[0], rows, cols, 1)),
    };
    result.rows.push(entry);
    console.error(`rows ${rows}x${cols} (${name}): softmax ${entry.softmaxMs} ms, logprobEntropy ${entry.logprobEntropyMs} ms, sum ${entry.reduceSumMs} ms`);
    for (const b of [x, y, ids, ...r]) dev.free(b);
  }
  tree.destroy();
}

// One decoder layer of Qwen2.5-0.5B's shape (a one-layer model with a tiny vocabulary, so the
// embedding and final norm cost next to nothing).
T.setBackend(be);
const cfg = small
  ? { hidden_size: 64, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 160, B: 2, L: 32 }
  : { hidden_size: 896, num_attention_heads: 14, num_key_value_heads: 2, intermediate_size: 4864, B: 8, L: 512 };
const config = parseModelConfig({
  model_type: 'qwen2', vocab_size: 64, hidden_size: cfg.hidden_size, intermediate_size: cfg.intermediate_size,
  num_hidden_layers: 1, num_attention_heads: cfg.num_attention_heads, num_key_value_heads: cfg.num_key_value_heads,
  max_position_embeddings: 4096, tie_word_embeddings: true,
});
const model = new DecoderModel(config, { seed: 0, maxPositions: cfg.L });
const { B, L } = cfg;
const ids = T.keep(T.tensor(Int32Array.from({ length: B * L }, (_, i) => (i * 7) % 64), [B, L]));
const positions = T.keep(T.tensor(Int32Array.from({ length: B * L }, (_, i) => i % L), [B, L]));
const probe = T.keep(T.tensor(Float32Array.from({ length: B * L * cfg.hidden_size }, () => Math.random() - 0.5), [B, L, cfg.hidden_size]));
const hd = cfg.hidden_size / cfg.num_attention_heads;
const kvDim = cfg.num_key_value_heads * hd;
// Matmul FLOPs per token (q, k, v, o, gate, up, down) plus causal attention (QK^T and PV, L/2 keys on average).
const perToken = 2 * (2 * cfg.hidden_size * cfg.hidden_size + 2 * cfg.hidden_size * kvDim + 3 * cfg.hidden_size * cfg.intermediate_size)
  + 2 * 2 * cfg.num_attention_heads * hd * (L / 2);
const fwdFlops = perToken * B * L;
const reps = small ? 2 : 5;
const forwardOnly = () => T.tidy(() => T.noGrad(() => { model.forward(ids, { positions }); }));
const forwardBackward = () => T.tidy(() => {
  const h = model.forward(ids, { positions });
  T.sum(T.mul(h, probe)).backward();
});
const fwd = await bestTime(forwardOnly, reps);
const fwdBwd = await bestTime(forwardBackward, reps);
// The forward again, after the backward: is the first one slow only for being first?
const fwdAgain = await bestTime(forwardOnly, reps);
// Where each pass's device time goes, kernel by kernel (one profiled run each; a pass per kernel).
const profiles = {};
if (be.device.features.has('timestamp-query')) {
  for (const [name, fn] of [['forward', forwardOnly], ['forwardBackward', forwardBackward]]) {
    be.profileKernels = true;
    fn();
    const times = await be.takeKernelProfile();
    be.profileKernels = false;
    const total = times.reduce((a, t) => a + t.ms, 0);
    profiles[name] = { deviceMs: +total.toFixed(3), kernels: times.map((t) => ({ kernel: t.kernel, count: t.count, ms: +t.ms.toFixed(3) })) };
  }
}
model.zeroGrad();
result.layer = {
  shape: { ...cfg, head_dim: hd },
  forwardGflop: +(fwdFlops / 1e9).toFixed(2),
  forwardMs: +(fwd * 1e3).toFixed(2),
  forwardGflops: +(fwdFlops / fwd / 1e9).toFixed(1),
  // Backward counted as twice the forward's FLOPs (the usual 3x for forward + backward).
  forwardBackwardMs: +(fwdBwd * 1e3).toFixed(2),
  forwardBackwardGflops: +((3 * fwdFlops) / fwdBwd / 1e9).toFixed(1),
  forwardAgainMs: +(fwdAgain * 1e3).toFixed(2),
  profiles,
  memory: be.memoryStats(),
};
console.error(`layer ${B}x${L}: forward ${(fwd * 1e3).toFixed(1)} ms (${result.layer.forwardGflops} GFLOP/s), ` +
  `forward+backward ${(fwdBwd * 1e3).toFixed(1)} ms (${result.layer.forwardBackwardGflops} GFLOP/s), ` +
  `forward again ${(fwdAgain * 1e3).toFixed(1)} ms`);
for (const [name, p] of Object.entries(profiles)) {
  console.error(`${name} profiled: ${p.deviceMs} ms on the device; ` +
    p.kernels.slice(0, 6).map((k) => `${k.kernel} ${k.ms} ms (${k.count})`).join(', '));
}
const json = JSON.stringify(result, null, 2);
console.log(json);
if (opt('out')) writeFileSync(opt('out'), json);
be.destroy();
