// A hand-made Qwen2-style model: q/k/v biases, grouped KV heads, tied embeddings, saved in shards,
// loaded back and checked against the float64 reference forward pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { parseModelConfig } from '../../src/models/config.js';
import { CausalLM } from '../../src/models/llama.js';
import { loadCausalLM, saveModel } from '../../src/models/load.js';
import * as T from '../../src/tensor/index.js';
import { llamaLogitsF64 } from '../helpers/llama-f64.js';
import { Rng } from '../helpers/rng.js';

test('a sharded Qwen2-style checkpoint loads and matches the float64 reference', async () => {
  const backend = await CpuBackend.create({});
  T.setBackend(backend);
  const config = parseModelConfig({
    model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], vocab_size: 40, hidden_size: 32, intermediate_size: 48,
    num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, rope_theta: 1000000, rms_norm_eps: 1e-6,
    tie_word_embeddings: true, max_position_embeddings: 128, torch_dtype: 'float32',
  });
  const model = new CausalLM(config, { seed: 4 });
  // Biases and norm weights start at 0 and 1: give them values so the check sees them.
  const rng = new Rng(9);
  for (const [name, p] of model.namedParameters()) {
    if (name.endsWith('.bias') || name.endsWith('norm.weight')) model.loadParameter(name, rng.floats(p.size, 0.5).map((v) => (name.endsWith('.bias') ? v : 1 + v)));
  }
  assert.equal(model.lm_head, null, 'tied embeddings: no lm_head');
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-qwen2-'));
  try {
    await saveModel(model, tmp, { dtype: 'F32', maxShardBytes: 40_000 });
    const shards = readdirSync(tmp).filter((f) => f.endsWith('.safetensors'));
    assert.ok(shards.length > 1 && existsSync(join(tmp, 'model.safetensors.index.json')), `sharded: ${shards.join(', ')}`);
    const loaded = loadCausalLM(tmp);
    const state = await model.stateDict();
    for (const [name, { data }] of await loaded.stateDict()) assert.deepEqual(data, state.get(name)!.data, name);

    const ids = [3, 17, 5, 39, 0, 22, 8];
    const expected = llamaLogitsF64(config, (n) => (state.has(n) ? Float64Array.from(state.get(n)!.data) : null), ids);
    const got = T.tidy(() => T.noGrad(() => loaded.forward(T.tensor(Int32Array.from(ids), [1, ids.length]), {
      positions: T.tensor(Int32Array.from(ids, (_, i) => i), [1, ids.length]),
    }).dataSync()));
    let err = 0;
    let scale = 0;
    expected.forEach((row, t) => row.forEach((v, j) => {
      scale = Math.max(scale, Math.abs(v));
      err = Math.max(err, Math.abs(got[t * row.length + j]! - v));
    }));
    assert.ok(err / scale <= 1e-4, `max error ${err} relative to ${scale}`);
    loaded.dispose();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    model.dispose();
    backend.destroy();
  }
});
