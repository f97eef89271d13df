// A 1,000-step training loop on the WebAssembly CPU backend: memory in use, peak per step and the
// reserved wasm memory stay flat (nothing grows with the number of steps).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { parseModelConfig } from '../../src/models/config.js';
import { CausalLM } from '../../src/models/llama.js';
import { AdamW, clipGradNorm } from '../../src/nn/index.js';
import * as T from '../../src/tensor/index.js';

test('1,000 training steps: flat memory on the CPU backend', async (t) => {
  const backend = await CpuBackend.create({});
  T.setBackend(backend);
  const config = parseModelConfig({
    model_type: 'llama', vocab_size: 16, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2,
    num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 32, tie_word_embeddings: true,
  });
  const model = new CausalLM(config, { seed: 1 });
  const opt = new AdamW(model, { lr: 3e-3 });
  const [B, L] = [2, 9];
  const ids = Int32Array.from({ length: B * L }, (_, i) => (i * 5 + 1) % 16);
  const positions = Int32Array.from({ length: B * (L - 1) }, (_, i) => i % (L - 1));
  const peaks: number[] = [];
  const inUse: number[] = [];
  const reserved: number[] = [];
  for (let step = 0; step < 1000; step++) {
    backend.resetPeak();
    T.tidy(() => {
      const all = T.tensor(ids, [B, L]);
      const logits = model.forward(T.contiguous(T.slice(all, 1, 0, L - 1)), { positions: T.tensor(positions, [B, L - 1]) });
      const { logp, entropy } = T.logprobEntropy(logits, T.contiguous(T.slice(all, 1, 1, L)));
      T.sub(T.neg(T.mean(logp)), T.mul(T.mean(entropy), 0.01)).backward();
    });
    clipGradNorm(model.parameters(), 1.0);
    opt.step();
    model.zeroGrad();
    const stats = backend.memoryStats();
    peaks.push(stats.peakBytesInUse);
    inUse.push(stats.bytesInUse);
    reserved.push(stats.bytesReserved);
  }
  // From the second step on (the optimizer's moments exist), every figure repeats exactly.
  for (let s = 2; s < 1000; s++) {
    assert.equal(inUse[s], inUse[1], `bytes in use at step ${s}`);
    assert.equal(peaks[s], peaks[1], `peak bytes at step ${s}`);
    assert.equal(reserved[s], reserved[1], `reserved bytes at step ${s}`);
  }
  t.diagnostic(`memory: in use ${inUse[999]} B, peak per step ${peaks[999]} B, reserved ${reserved[999]} B`);
  model.dispose();
  opt.dispose();
  backend.destroy();
});
