// generate() with sampleOn 'device' (Backend.sample) against sampleOn 'host' (sampler.ts, float64):
// the same seed gives the same tokens. On the reference backend, whose op is the host's arithmetic,
// everything is bit-identical; on the CPU backend (float32 sums) the tokens are identical for
// these fixed seeds and the log-probs agree within 1e-5. Rows stop at eos at different steps, so
// the uniforms skipped for finished rows are exercised too.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../src/backend/backend.js';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import { generate, type GenerateOptions } from '../../src/generation/index.js';
import { parseModelConfig } from '../../src/models/config.js';
import { CausalLM } from '../../src/models/llama.js';
import * as T from '../../src/tensor/index.js';

// 301: not a multiple of the SIMD width nor of the CPU kernel's 256-logit blocks.
const config = parseModelConfig({
  model_type: 'qwen2', vocab_size: 301, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2,
  num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, tie_word_embeddings: true,
  eos_token_id: 1, pad_token_id: 0,
});
const prompts = [[5, 9, 200, 17], [44, 3], [300, 299, 7, 8, 120, 6]];
const SETTINGS: Partial<GenerateOptions>[] = [
  { temperature: 0 },
  { temperature: 1 },
  { temperature: 0.7, topK: 20 },
  { temperature: 1, topP: 0.8 },
  { temperature: 0.9, topK: 50, topP: 0.9 },
  { temperature: 1, topK: 1 },
  { temperature: 1, topP: 1e-9 },
  { temperature: 1e-7 },
];

async function both(backend: Backend, options: Partial<GenerateOptions>, seed: number) {
  T.setBackend(backend);
  const model = new CausalLM(config, { seed: 3 });
  // Forty stop ids, so that rows finish at different steps.
  const opts = { maxNewTokens: 10, n: 2, seed, eosTokenIds: Array.from({ length: 40 }, (_, i) => i + 1), ...options };
  const host = await generate(model, prompts, { ...opts, sampleOn: 'host' });
  const device = await generate(model, prompts, { ...opts, sampleOn: 'device' });
  return { host, device };
}

const cpu = await CpuBackend.create({ threads: 2 });
after(() => cpu.destroy());

describe('generate: device sampling', () => {
  test('on the reference backend: bit-identical to the host sampler', async () => {
    for (const [s, options] of SETTINGS.entries()) {
      const { host, device } = await both(new ReferenceBackend(), options, 40 + s);
      assert.deepEqual(device, host, JSON.stringify(options));
    }
  });

  test('on the CPU backend: the host sampler\'s tokens, log-probs within 1e-5', async () => {
    let finishedEarly = 0;
    for (const [s, options] of SETTINGS.entries()) {
      const { host, device } = await both(cpu, options, 40 + s);
      const label = JSON.stringify(options);
      assert.deepEqual(Array.from(device.responseIds), Array.from(host.responseIds), `${label}: tokens`);
      assert.deepEqual(device.lengths, host.lengths, `${label}: lengths`);
      assert.deepEqual(device.responseMask, host.responseMask, `${label}: mask`);
      for (let i = 0; i < host.logprobs.length; i++) {
        assert.ok(Math.abs(device.logprobs[i]! - host.logprobs[i]!) <= 1e-5 * Math.max(1, Math.abs(host.logprobs[i]!)),
          `${label}: log-prob ${i}: ${device.logprobs[i]} against ${host.logprobs[i]}`);
      }
      finishedEarly += host.lengths.filter((l) => l < 10).length;
    }
    // Otherwise the uniforms that finished rows skip would go untested.
    assert.ok(finishedEarly >= 3, `only ${finishedEarly} rows finished before max_new_tokens`);
  });

  test('sampleOn is checked', async () => {
    T.setBackend(new ReferenceBackend());
    const model = new CausalLM(config, { seed: 3 });
    await assert.rejects(generate(model, prompts, { maxNewTokens: 2, sampleOn: 'gpu' as 'host' }), /sampleOn must be 'host' or 'device', got gpu/);
  });
});
