// One update micro-batch (forward + backward of the log-prob/entropy surrogate) at a model's shape,
// random weights, with the memory options off and on: enable_gradient_checkpointing (each layer's
// output kept, the rest recomputed in the backward) and use_fused_kernels (the output layer in
// chunks). Prints one JSON line per variant: seconds and the CPU backend's peak bytes above what the
// weights and gradients hold (the second pass of each, so that the gradients exist by then).
// Usage: npm run build && node scripts/bench-memory-options.mjs [--config qwen2.5-0.5b] [--tokens 512]
//   [--lora-rank 16] [--threads 2] [--variants plain,fused,checkpointed,both] [--passes 2] [--layers N]
// The model is built from init-model's named shapes (src/models/init-config.ts); with --lora-rank > 0
// its base is frozen in f16 and adapters sit on every projection (`all-linear`).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CpuBackend } from '../dist/src/backend/cpu/index.js';
import { CausalLM } from '../dist/src/models/llama.js';
import { LoraModel } from '../dist/src/models/lora.js';
import { resolveInitConfig } from '../dist/src/models/init-config.js';
import * as T from '../dist/src/tensor/index.js';
import { fusedChunkRows } from '../dist/src/trainer/forward.js';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const name = opt('config', 'qwen2.5-0.5b');
const N = Number(opt('tokens', '512'));
const rank = Number(opt('lora-rank', '16'));
const threads = Number(opt('threads', '2'));
const variants = opt('variants', 'plain,fused,checkpointed,both').split(',');
const passes = Number(opt('passes', '2'));

// Each variant in a process of its own: the CPU backend's allocator keeps freed blocks by size, so
// one variant's blocks would crowd the next one's out of the 4 GiB (and an out-of-memory pass
// leaves its blocks behind).
if (variants.length > 1) {
  const self = fileURLToPath(import.meta.url);
  const rest = argv.filter((_, i) => argv[i] !== '--variants' && argv[i - 1] !== '--variants');
  for (const variant of variants) {
    process.stdout.write(execFileSync(process.execPath, [self, ...rest, '--variants', variant], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
  }
  process.exit(0);
}

const layers = opt('layers', null);
const { config } = resolveInitConfig(name, 'f32', layers === null ? undefined : Number(layers));
const be = await CpuBackend.create({ threads, ...(rank > 0 ? { weightDtype: 'f16' } : {}) });
T.setBackend(be);
const model = new CausalLM(config, { seed: 1, ...(rank > 0 ? { weightDtype: 'f16' } : {}) });
if (rank > 0) new LoraModel(model, { rank, alpha: 2 * rank, targetModules: 'all-linear' }, 2);
const ids = Int32Array.from({ length: N + 1 }, (_, i) => (i * 7919 + 13) % config.vocab_size);
const chunk = fusedChunkRows(config.vocab_size);

for (const variant of variants) {
  model.model.gradientCheckpointing = variant === 'checkpointed' || variant === 'both';
  const chunkRows = variant === 'fused' || variant === 'both' ? chunk : 0;
  for (let pass = 0; pass < passes; pass++) {
    const before = be.memoryStats().bytesInUse;
    be.resetPeak();
    const t0 = performance.now();
    let error = null;
    try {
      await T.tidyAsync(async () => {
        const hidden = model.model.forward(T.tensor(ids.subarray(0, N), [1, N], 'i32'), { positions: T.tensor(Int32Array.from({ length: N }, (_, i) => i), [1, N], 'i32') });
        const { logp, entropy } = model.logprobEntropy(hidden, T.tensor(ids.subarray(1), [1, N], 'i32'), 1, chunkRows);
        T.add(T.sum(logp), T.sum(T.mul(entropy, 0.01))).backward();
        await logp.data();
      });
    } catch (err) {
      // Out of memory is a result here.
      error = String(err.message ?? err).split('\n')[0];
    }
    if (pass === passes - 1 || error) {
      console.log(JSON.stringify({ config: name, tokens: N, loraRank: rank, threads, variant, seconds: +((performance.now() - t0) / 1000).toFixed(2),
        peakMiB: +((be.memoryStats().peakBytesInUse - before) / 2 ** 20).toFixed(1), ...(error ? { error } : {}) }));
    }
    if (error) break;
  }
  for (const p of model.parameters()) if (p.grad) { p.grad.dispose(); p.grad = null; }
}
be.destroy();
