// Matmul with f16 weights beside f32 weights at decoding shapes (x @ W^T, Qwen2.5-0.5B's MLP
// widths, m = 1..64 rows), for two builds side by side in one process: 1 thread each, interleaved
// rounds, the least CPU time per call (process.cpuUsage), which a machine shared with other jobs
// moves much less than the wall clock. `f32/f16` above 1: the f16 weights are faster.
// Usage: node scripts/bench-half-compare.mjs OLD_DIST_SRC NEW_DIST_SRC (see scripts/bench-compare.mjs)
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [oldRoot, newRoot] = process.argv.slice(2, 4).map((p) => pathToFileURL(resolve(p)).href);
if (!oldRoot || !newRoot) {
  console.error('usage: node scripts/bench-half-compare.mjs OLD_DIST_SRC NEW_DIST_SRC');
  process.exit(2);
}
const roots = { old: oldRoot, new: newRoot };
const shapes = [[1, 4864, 896], [1, 896, 4864], [4, 4864, 896], [16, 4864, 896], [64, 4864, 896]];
const { f32ArrayToF16 } = await import(`${roots.new}/models/dtype.js`);
const bes = {};
for (const [tag, root] of Object.entries(roots)) bes[tag] = await (await import(`${root}/backend/cpu/index.js`)).CpuBackend.create({ threads: 1 });
for (const [m, n, k] of shapes) {
  const data = Float32Array.from({ length: n * k }, () => Math.random() - 0.5);
  const xs = Float32Array.from({ length: m * k }, () => Math.random() - 0.5);
  const cs = [];
  for (const [tag, be] of Object.entries(bes)) {
    const a = be.alloc(m * k * 4); be.write(a, xs);
    const o = be.alloc(m * n * 4);
    const b32 = be.alloc(n * k * 4); be.write(b32, data);
    const b16 = be.alloc(n * k * 2); be.write(b16, f32ArrayToF16(data));
    const args = { batch: 1, m, n, k, transA: false, transB: true, aBatchStride: 0, bBatchStride: 0, accumulate: false };
    cs.push([`${tag} f32`, () => be.matmul(a, b32, o, args)], [`${tag} f16`, () => be.matmul(a, b16, o, { ...args, bDtype: 'f16' })]);
  }
  const reps = Math.max(1, Math.round(2e8 / (m * n * k)));
  const best = cs.map(() => Infinity);
  for (let r = 0; r < 12; r++) cs.forEach(([, f], i) => { const c0 = process.cpuUsage(); for (let j = 0; j < reps; j++) f(); const c = process.cpuUsage(c0); if (r > 0) best[i] = Math.min(best[i], (c.user + c.system) / reps / 1000); });
  console.log(`${m}x${n}x${k}: ` + cs.map(([l], i) => `${l} ${best[i].toFixed(3)} ms`).join(', ') + `; f32/f16 old ${(best[0] / best[1]).toFixed(2)} new ${(best[2] / best[3]).toFixed(2)}`);
}
for (const be of Object.values(bes)) be.destroy();
