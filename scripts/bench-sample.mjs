// One decoding step's token draw at Qwen2.5's vocabulary (151,936), on the CPU backend: the device
// path (Backend.sample: only ids and log-probs are read back) against the host path it replaced
// (read the logits, then src/generation/sampler.ts per row), at batch 1 and 64, per sampling
// setting. Best of 3 after a warm-up; JSON lines out, with host / device as the speed-up. The host
// top-k/top-p path sorts the whole row, so it is timed at batch 1 only.
// Usage: npm run build && node scripts/bench-sample.mjs [--threads 2]
const dist = new URL('../dist/src/', import.meta.url).href;
const { CpuBackend } = await import(`${dist}backend/cpu/index.js`);
const { sampleToken } = await import(`${dist}generation/sampler.js`);
const { Prng } = await import(`${dist}util/prng.js`);

const ti = process.argv.indexOf('--threads');
const threads = ti > 0 ? Number(process.argv[ti + 1]) : 2;
const V = 151_936;
const SETTINGS = [
  { temperature: 0, topK: -1, topP: 1 },
  { temperature: 1, topK: -1, topP: 1 },
  { temperature: 1, topK: 50, topP: 0.9 },
  { temperature: 1, topK: -1, topP: 0.9 },
];
const bestMs = (fn) => {
  fn();
  let best = Infinity;
  for (let k = 0; k < 3; k++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
};

const be = await CpuBackend.create({ threads });
try {
  for (const rows of [1, 64]) {
    const rng = new Prng(rows);
    const logits = be.alloc(rows * V * 4), bits = be.alloc(rows * 4), tokens = be.alloc(rows * 4), logprobs = be.alloc(rows * 4);
    be.write(logits, Float32Array.from({ length: rows * V }, () => 2 * rng.normal()));
    be.write(bits, Int32Array.from({ length: rows }, () => rng.nextUint32() | 0));
    for (const args of SETTINGS) {
      const deviceMs = bestMs(() => {
        be.sample(logits, bits, tokens, logprobs, rows, V, args);
        be.readSync(tokens, 'i32', 0, rows);
        be.readSync(logprobs, 'f32', 0, rows);
      });
      const filtered = args.topK > 0 || args.topP < 1;
      const hostMs = filtered && rows > 1 ? null : bestMs(() => {
        const z = be.readSync(logits, 'f32', 0, rows * V);
        const draws = new Prng(7);
        for (let r = 0; r < rows; r++) sampleToken(z, r * V, V, args, draws);
      });
      console.log(JSON.stringify({ rows, vocab: V, threads, ...args, deviceMs: +deviceMs.toFixed(3), hostMs: hostMs === null ? null : +hostMs.toFixed(3),
        hostOverDevice: hostMs === null ? null : +(hostMs / deviceMs).toFixed(1) }));
    }
    for (const b of [logits, bits, tokens, logprobs]) be.free(b);
  }
} finally {
  be.destroy();
}
