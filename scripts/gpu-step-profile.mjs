// One training micro-batch of a causal LM on WebGPU, timed and then profiled kernel by kernel: the
// forward over B x T tokens, the log-probs of the next tokens (the actor's loss shape; with
// --fused, at most 441 rows of the vocabulary's logits at a time), the backward of their mean, the
// gradient norm (as the trainer clips) and one AdamW step. Says where an update's device time goes.
// Usage: npm run build && node scripts/gpu-step-profile.mjs --model DIR [--batch 4] [--seq 256]
//          [--fused] [--reps 3] [--dist DIR] [--out FILE]
// --dist DIR: another build's dist folder (a before/after pair in one lease).
import { writeFileSync } from 'node:fs';
import { flag, fromDist, opt } from './dist-options.mjs';

const { createNodeWebGpuBackend } = await fromDist('src/backend/webgpu/node.js');
const { loadCausalLM } = await fromDist('src/models/load.js');
const { fusedChunkRows } = await fromDist('src/trainer/forward.js');
const { AdamW, clipGradNormAsync } = await fromDist('src/nn/index.js');
const T = await fromDist('src/tensor/index.js');
const modelDir = opt('model');
if (!modelDir) {
  console.error('usage: node scripts/gpu-step-profile.mjs --model DIR [--batch 4] [--seq 256] [--fused] [--reps 3] [--out FILE]');
  process.exit(2);
}
const B = Number(opt('batch', '4'));
const L = Number(opt('seq', '256'));
const reps = Number(opt('reps', '3'));
const fused = flag('fused');
// Timestamps at full resolution (Dawn may round them to 100 µs otherwise).
const be = await createNodeWebGpuBackend({ flags: ['disable-dawn-features=timestamp_quantization'] });
if (!be) {
  console.error('gpu-step-profile: no WebGPU adapter');
  process.exit(2);
}
T.setBackend(be);
const lm = loadCausalLM(modelDir, { backend: be, forTraining: true });
const optimizer = new AdamW(lm, { lr: 1e-6, weightDecay: 0.01 });
const vocab = lm.config.vocab_size;
let seed = 1;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) % Math.min(vocab, 150000));
const ids = T.keep(T.tensor(Int32Array.from({ length: B * L }, rand), [B, L]));
const targets = T.keep(T.tensor(Int32Array.from({ length: B * L }, rand), [B, L]));
const positions = T.keep(T.tensor(Int32Array.from({ length: B * L }, (_, i) => i % L), [B, L]));
const chunkRows = fused ? fusedChunkRows(vocab) : 0;

async function step() {
  T.tidy(() => {
    const hidden = lm.model.forward(ids, { positions });
    const { logp } = lm.logprobEntropy(hidden, targets, 1, chunkRows);
    T.mul(T.mean(logp), -1).backward();
  });
  await clipGradNormAsync(lm, 1);
  optimizer.step();
  optimizer.zeroGrad();
  await be.sync();
}

await step(); // compiles the pipelines and fills the buffer pool
be.resetPeak(); // the peak of the timed steps, not of loading the model
const times = [];
for (let r = 0; r < reps; r++) {
  const t0 = performance.now();
  await step();
  times.push(performance.now() - t0);
}
// Profiled where the device has timestamp queries.
let kernels = [];
if (be.device.features.has('timestamp-query')) {
  be.profileKernels = true;
  await step();
  kernels = await be.takeKernelProfile();
  be.profileKernels = false;
}
const deviceMs = kernels.reduce((a, k) => a + k.ms, 0);
const params = lm.parameters().reduce((a, p) => a + p.size, 0);
const best = Math.min(...times);
// 6 FLOPs per parameter per token (forward and backward), the usual estimate.
const result = {
  adapter: { ...be.adapter, limits: undefined, features: undefined },
  dist: opt('dist') ?? 'dist', model: modelDir, parameters: params, batch: B, seq: L, fused, chunkRows,
  stepMs: times.map((t) => +t.toFixed(1)), bestStepMs: +best.toFixed(1),
  tflops: +((6 * params * B * L) / (best / 1e3) / 1e12).toFixed(2),
  profiledDeviceMs: +deviceMs.toFixed(2),
  kernels: kernels.map((k) => ({ kernel: k.kernel, count: k.count, ms: +k.ms.toFixed(3), share: +(k.ms / deviceMs).toFixed(3) })),
  memory: be.memoryStats(),
};
const text = JSON.stringify(result, null, 2);
console.log(text);
if (opt('out')) writeFileSync(opt('out'), text + '\n');
be.destroy();
