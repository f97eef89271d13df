// The output layer + log-probs/entropies at Qwen2.5-0.5B's head (896 x 151,936, random weights),
// whole logits (logprobEntropy(linear(h, W))) against chunks (linearLogprobEntropy,
// use_fused_kernels), with and without gradients: seconds and the CPU backend's peak bytes above
// what was in use before each pass. One JSON line per pass; each pass runs --repeat times (the first
// of a process also grows the WebAssembly memory and settles the matmul's split policy: read the later ones).
// Usage: npm run build && node scripts/bench-fused-head.mjs [--rows N] [--threads N] [--modes whole,fused] [--grad false,true] [--repeat 2]
import { CpuBackend } from '../dist/src/backend/cpu/index.js';
import * as T from '../dist/src/tensor/index.js';
import { fusedChunkRows } from '../dist/src/trainer/forward.js';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const N = Number(opt('rows', '512'));
const threads = Number(opt('threads', '2'));
const modes = opt('modes', 'whole,fused').split(',');
const grads = opt('grad', 'false,true').split(',').map((x) => x === 'true');
const repeat = Number(opt('repeat', '2'));

const be = await CpuBackend.create({ threads });
T.setBackend(be);
const D = 896, V = 151936;
const w = T.tensor(Float32Array.from({ length: V * D }, (_, i) => Math.sin(i) * 0.02), [V, D]);
w.requiresGrad = true;
const hv = Float32Array.from({ length: N * D }, (_, i) => Math.cos(i));
const ids = T.tensor(Int32Array.from({ length: N }, (_, i) => (i * 7919) % V), [N], 'i32');
const chunk = fusedChunkRows(V);
for (let r = 0; r < repeat; r++) for (const mode of modes) {
  for (const grad of grads) {
    be.resetPeak();
    const base = be.memoryStats().bytesInUse;
    const t0 = performance.now();
    let error = null;
    try {
      await T.tidyAsync(async () => {
        const h = T.tensor(hv, [N, D]);
        h.requiresGrad = grad;
        const run = () => (mode === 'whole' ? T.logprobEntropy(T.linear(h, w), ids, 1) : T.linearLogprobEntropy(h, w, ids, 1, chunk));
        const { logp, entropy } = grad ? run() : T.noGrad(run);
        if (grad) T.add(T.sum(logp), T.sum(entropy)).backward();
        await logp.data();
        if (grad) {
          await h.grad.data();
          h.grad.dispose();
          w.grad.dispose();
          w.grad = null;
        }
      });
    } catch (err) {
      error = String(err.message ?? err).split('\n')[0];
    }
    const seconds = +((performance.now() - t0) / 1000).toFixed(2);
    const peakMiB = +((be.memoryStats().peakBytesInUse - base) / 2 ** 20).toFixed(0);
    console.log(JSON.stringify({ repeat: r, mode, grad, rows: N, chunkRows: mode === 'fused' ? chunk : N, threads, seconds, peakMiB, ...(error ? { error } : {}) }));
  }
}
be.destroy();
