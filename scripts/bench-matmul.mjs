// Matmul throughput of the CPU backend: GFLOP/s for a few shapes, 1 and 2 threads, each SIMD variant.
// Usage: npm run build && node scripts/bench-matmul.mjs [--variant auto|relaxed|simd] [--threads 1,2]
import { CpuBackend } from '../dist/src/backend/cpu/index.js';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const variants = opt('variant', 'auto,simd').split(',');
const threadCounts = opt('threads', '1,2').split(',').map(Number);
const shapes = [
  { m: 256, n: 4864, k: 896, transB: false },
  { m: 256, n: 4864, k: 896, transB: true },
  { m: 1024, n: 1024, k: 1024, transB: false },
  { m: 1, n: 4864, k: 896, transB: true },
];

for (const variant of variants) {
  for (const threads of threadCounts) {
    const be = await CpuBackend.create({ threads, variant });
    for (const { m, n, k, transB } of shapes) {
      const a = be.alloc(m * k * 4);
      const b = be.alloc(k * n * 4);
      const out = be.alloc(m * n * 4);
      be.write(a, Float32Array.from({ length: m * k }, () => Math.random() - 0.5));
      be.write(b, Float32Array.from({ length: k * n }, () => Math.random() - 0.5));
      const args = { batch: 1, m, n, k, transA: false, transB, aBatchStride: 0, bBatchStride: 0, accumulate: false };
      be.matmul(a, b, out, args); // warm-up: compiles, grows scratch
      const flops = 2 * m * n * k;
      const reps = Math.max(3, Math.ceil(2e9 / flops));
      let best = Infinity;
      for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        be.matmul(a, b, out, args);
        best = Math.min(best, performance.now() - t0);
      }
      console.log(`${be.kernelVariant.padEnd(7)} threads=${threads} ${m}x${n}x${k}${transB ? ' transB' : ''}: `
        + `${(flops / best / 1e6).toFixed(1)} GFLOP/s (best of ${reps}, ${best.toFixed(2)} ms)`);
      for (const x of [a, b, out]) be.free(x);
    }
    be.destroy();
  }
}
