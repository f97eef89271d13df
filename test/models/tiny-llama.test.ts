// veRL's tiny Llama fixture: loading, logits against an independent float64 forward pass, greedy
// generation token for token, KV-cache decoding against full recomputation, save/load bit-exact.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import type { Backend } from '../../src/backend/backend.js';
import { generate } from '../../src/generation/index.js';
import { loadModelConfig } from '../../src/models/config.js';
import { loadCausalLM, loadValueModel, saveModel } from '../../src/models/load.js';
import { openWeights } from '../../src/models/safetensors-sharded.js';
import { CharTokenizer } from '../../src/tokenizer/index.js';
import * as T from '../../src/tensor/index.js';
import { llamaLogitsF64 } from '../helpers/llama-f64.js';
import { tinyLlamaDir } from '../helpers/assets.js';

const dir = tinyLlamaDir;
const weights = openWeights(dir);
const config = loadModelConfig(dir);
const f64 = (n: string): Float64Array | null => (weights.has(n) ? Float64Array.from(weights.readFloat32(n)) : null);

function logitsOf(backend: Backend, ids: number[]): Float32Array {
  T.setBackend(backend);
  const model = loadCausalLM(dir);
  try {
    return T.tidy(() => T.noGrad(() => model.forward(T.tensor(Int32Array.from(ids), [1, ids.length]), {
      positions: T.tensor(Int32Array.from(ids, (_, i) => i), [1, ids.length]),
    }).dataSync() as Float32Array));
  } finally {
    model.dispose();
  }
}

describe('tiny-llama fixture', () => {
  let cpu: CpuBackend;
  before(async () => { cpu = await CpuBackend.create({}); });
  after(() => cpu.destroy());

  const tokenizer = CharTokenizer.load(dir);
  const ids = tokenizer.encode('8,3:9,4');

  test('loads with 795,776 parameters', () => {
    T.setBackend(new ReferenceBackend());
    const model = loadCausalLM(dir);
    assert.equal(model.numParameters(), 795_776);
    model.dispose();
  });

  test('logits match a float64 reference within 1e-4 (reference and CPU backends)', (t) => {
    const expected = llamaLogitsF64(config, f64, ids);
    for (const backend of [new ReferenceBackend(), cpu]) {
      const got = logitsOf(backend, ids);
      let scale = 0;
      let err = 0;
      expected.forEach((row, t) => row.forEach((v, j) => {
        scale = Math.max(scale, Math.abs(v));
        err = Math.max(err, Math.abs(got[t * row.length + j]! - v));
      }));
      t.diagnostic(`${backend.name}: max |error| / max |logit| = ${(err / scale).toExponential(2)}`);
      assert.ok(err / scale <= 1e-4, `${backend.name}: max error ${err} relative to max |logit| ${scale}`);
    }
  });

  test('greedy generation matches the float64 reference token for token', async () => {
    T.setBackend(cpu);
    const model = loadCausalLM(dir);
    const out = await generate(model, [ids], { maxNewTokens: 12, temperature: 0, ignoreEos: true });
    const seq = ids.slice();
    for (let t = 0; t < 12; t++) {
      const row = llamaLogitsF64(config, f64, seq).at(-1)!;
      const next = row.indexOf(Math.max(...row));
      assert.equal(out.responseIds[t], next, `token ${t}`);
      seq.push(next);
    }
    model.dispose();
  });

  test('save then load is bit-exact (BF16 and F32); the critic loads from the causal-LM folder', async () => {
    T.setBackend(cpu);
    const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-save-'));
    try {
      const model = loadCausalLM(dir);
      for (const dtype of ['BF16', 'F32'] as const) {
        await saveModel(model, join(tmp, dtype), { dtype, tokenizerFrom: dir });
        const again = loadCausalLM(join(tmp, dtype));
        const a = await model.stateDict();
        const b = await again.stateDict();
        for (const [name, { data }] of a) assert.deepEqual(b.get(name)!.data, data, name);
        assert.ok(CharTokenizer.load(join(tmp, dtype)).encode('1,2').length === 3);
        again.dispose();
      }
      const critic = loadValueModel(dir, { seed: 1 });
      const values = T.tidy(() => T.noGrad(() => critic.forward(T.tensor(Int32Array.from(ids), [1, ids.length]), {
        positions: T.tensor(Int32Array.from(ids, (_, i) => i), [1, ids.length]),
      }).dataSync()));
      assert.equal(values.length, ids.length);
      assert.ok(values.every(Number.isFinite));
      await saveModel(critic, join(tmp, 'critic'), { dtype: 'F32' });
      const critic2 = loadValueModel(join(tmp, 'critic'));
      assert.deepEqual((await critic2.stateDict()).get('score.weight')!.data, (await critic.stateDict()).get('score.weight')!.data);
      critic.dispose();
      critic2.dispose();
      model.dispose();
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

