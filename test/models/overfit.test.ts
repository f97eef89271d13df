// A 2-layer Llama-style transformer (grouped KV heads, Qwen2 biases) memorises a small batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import { parseModelConfig } from '../../src/models/config.js';
import { CausalLM } from '../../src/models/llama.js';
import { AdamW } from '../../src/nn/index.js';
import * as T from '../../src/tensor/index.js';
import { Rng } from '../helpers/rng.js';

export function tinyConfig(modelType: 'llama' | 'qwen2' = 'qwen2') {
  return parseModelConfig({
    model_type: modelType, vocab_size: 16, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 10000, max_position_embeddings: 64,
    tie_word_embeddings: false,
  });
}

test('a 2-layer transformer overfits a small batch to near-zero loss', () => {
  const backend = new ReferenceBackend();
  T.setBackend(backend);
  const model = new CausalLM(tinyConfig(), { seed: 3 });
  const opt = new AdamW(model, { lr: 1e-2, weightDecay: 0 });
  const rng = new Rng(5);
  const [B, L] = [4, 12];
  const ids = Int32Array.from({ length: B * L }, () => rng.int(16));
  const positions = Int32Array.from({ length: B * (L - 1) }, (_, i) => i % (L - 1));
  const losses: number[] = [];
  const base = backend.memoryStats().liveBuffers;
  for (let step = 0; step < 120; step++) {
    const loss = T.tidy(() => {
      const all = T.tensor(ids, [B, L]);
      const input = T.contiguous(T.slice(all, 1, 0, L - 1));
      const target = T.contiguous(T.slice(all, 1, 1, L));
      const logits = model.forward(input, { positions: T.tensor(positions, [B, L - 1]) });
      const { logp } = T.logprobEntropy(logits, target);
      const nll = T.neg(T.mean(logp));
      nll.backward();
      return nll.item();
    });
    opt.step();
    model.zeroGrad();
    losses.push(loss);
    if (step > 0) assert.equal(backend.memoryStats().liveBuffers, base + 2 * model.parameters().length, 'only parameters and moments stay alive');
  }
  assert.ok(losses[0]! > 2, `initial loss ${losses[0]} should be near ln(16) = 2.77`);
  assert.ok(losses[losses.length - 1]! < 0.05, `final loss ${losses[losses.length - 1]} should be near zero`);
  model.dispose();
});
