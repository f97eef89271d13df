// Decoding through the fused backend calls (Backend.linearGroup for q/k/v, o_proj + residual,
// gate/up + SwiGLU, down_proj + residual; Backend.ropeKvWrite for the rotation and cache write):
// used where no gradient is recorded, they give the logits of the unfused ops bit for bit, leave
// LoRA layers to the unfused path, and cut a decoding step to 8 kernel calls per layer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../src/backend/backend.js';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import { parseModelConfig } from '../../src/models/config.js';
import { KVCache } from '../../src/models/kv-cache.js';
import { CausalLM } from '../../src/models/llama.js';
import { LoraModel } from '../../src/models/lora.js';
import * as T from '../../src/tensor/index.js';
import { Rng } from '../helpers/rng.js';

let cpu: CpuBackend;
before(async () => {
  cpu = await CpuBackend.create({ threads: 2, split: 'always' });
});
after(() => cpu.destroy());

const config = parseModelConfig({
  model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], vocab_size: 50, hidden_size: 32, intermediate_size: 40,
  num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, rope_theta: 10000, rms_norm_eps: 1e-6,
  tie_word_embeddings: true, max_position_embeddings: 64, torch_dtype: 'float32',
});

function makeModel(be: Backend): CausalLM {
  T.setBackend(be);
  const model = new CausalLM(config, { seed: 7, backend: be });
  const rng = new Rng(11);
  for (const [name, p] of model.namedParameters()) {
    if (name.endsWith('.bias')) model.loadParameter(name, rng.floats(p.size, 0.3));
  }
  return model;
}

/** Logits of a prefill of `prompt` rows and then `steps` one-token steps, each step's as a Float32Array. */
function decode(model: CausalLM, be: Backend, prompt: number[][], steps: number, fused: boolean): Float32Array[] {
  const B = prompt.length;
  const L = prompt[0]!.length;
  const cache = new KVCache(config.num_hidden_layers, B, L + steps, config.num_key_value_heads, config.head_dim, be);
  const out: Float32Array[] = [];
  try {
    let ids = prompt.flat();
    for (let s = 0; s <= steps; s++) {
      const T_ = s === 0 ? L : 1;
      const start = cache.length;
      const run = (): Float32Array => T.tidy(() => model.forward(T.tensor(Int32Array.from(ids), [B, T_]), {
        positions: T.tensor(Int32Array.from({ length: B * T_ }, (_, i) => start + (i % T_)), [B, T_]),
        cache,
      }).dataSync() as Float32Array);
      // Parameters require gradients: with recording on, every layer runs the unfused ops.
      const logits = fused ? T.noGrad(run) : run();
      out.push(logits);
      ids = Array.from({ length: B }, (_, b) => (b * 7 + s * 3 + 1) % config.vocab_size);
    }
  } finally {
    cache.dispose();
  }
  return out;
}

for (const [name, make] of [['cpu', () => cpu], ['reference', () => new ReferenceBackend()]] as const) {
  for (const B of [1, 3, 6]) {
    test(`${name}, batch ${B}: fused decoding gives the unfused logits bit for bit`, () => {
      const be = make();
      const model = makeModel(be);
      try {
        const prompt = Array.from({ length: B }, (_, b) => [3 + b, 9, 14 + b, 2]);
        const fused = decode(model, be, prompt, 3, true);
        const plain = decode(model, be, prompt, 3, false);
        fused.forEach((l, s) => assert.deepEqual(l, plain[s], `step ${s}`));
      } finally {
        model.dispose();
      }
    });
  }
}

test('layers with a LoRA adapter on keep the unfused path (their update is applied)', () => {
  const model = makeModel(cpu);
  try {
    const lora = new LoraModel(model, { rank: 2, alpha: 4, targetModules: ['q_proj', 'up_proj', 'o_proj'] }, 3);
    const rng = new Rng(5);
    for (const a of lora.adapters.values()) {
      const b = a.lora_B.weight;
      b.backend.write(b.buffer, rng.floats(b.size, 0.5), b.offset);
    }
    const prompt = [[4, 8, 15], [16, 23, 42]];
    const withLora = decode(model, cpu, prompt, 2, true);
    assert.deepEqual(withLora, decode(model, cpu, prompt, 2, false));
    const base = lora.switch.withoutAdapters(() => decode(model, cpu, prompt, 2, true));
    assert.notDeepEqual(withLora[0], base[0], 'the adapters change the logits');
  } finally {
    model.dispose();
  }
});

test('a one-token decoding step is 8 kernel calls per layer (plus embedding, final norm and lm_head)', () => {
  const model = makeModel(cpu);
  const cache = new KVCache(config.num_hidden_layers, 2, 8, config.num_key_value_heads, config.head_dim, cpu);
  const calls: string[] = [];
  const host = new Set(['alloc', 'free', 'write', 'read', 'readSync', 'memoryStats', 'resetPeak', 'destroy']);
  const own = cpu as unknown as Record<string, (...a: unknown[]) => unknown>;
  const names = Object.getOwnPropertyNames(CpuBackend.prototype).filter((k) => k !== 'constructor' && !host.has(k));
  let depth = 0;
  for (const k of names) {
    const f = own[k]!;
    own[k] = (...a: unknown[]) => {
      if (depth === 0) calls.push(k);
      depth++;
      try {
        return f.apply(cpu, a);
      } finally {
        depth--;
      }
    };
  }
  try {
    const ids = T.keep(T.tensor(Int32Array.from([5, 6]), [2, 1]));
    const positions = T.keep(T.tensor(Int32Array.from([0, 0]), [2, 1]));
    calls.length = 0;
    T.tidy(() => T.noGrad(() => model.forward(ids, { positions, cache })));
    const L = config.num_hidden_layers;
    const perLayer = ['rmsnorm', 'linearGroup', 'ropeKvWrite', 'attention', 'linearGroup', 'rmsnorm', 'linearGroup', 'linearGroup'];
    assert.deepEqual(calls, ['embedding', ...Array.from({ length: L }, () => perLayer).flat(), 'rmsnorm', 'matmul']);
    ids.dispose();
    positions.dispose();
  } finally {
    for (const k of names) delete own[k];
    cache.dispose();
    model.dispose();
  }
});
