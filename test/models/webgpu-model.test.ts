// The model on the WebGPU backend against the CPU backend: tiny-llama logits, and one PPO-like
// training step (forward, log-prob/entropy, a clipped-ratio-free policy-gradient loss with an
// entropy bonus, backward, AdamW) compared on loss and every updated weight. Skipped with the
// reason where no WebGPU adapter exists.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../src/backend/backend.js';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { parseModelConfig } from '../../src/models/config.js';
import { CausalLM } from '../../src/models/llama.js';
import { loadCausalLM } from '../../src/models/load.js';
import { AdamW } from '../../src/nn/index.js';
import * as T from '../../src/tensor/index.js';
import { CharTokenizer } from '../../src/tokenizer/index.js';
import { modelLogits } from '../helpers/model-logits.js';
import { openWebGpu } from '../backend/webgpu-harness.js';
import { generate } from '../../src/generation/index.js';
import { Rng } from '../helpers/rng.js';
import { tinyLlamaDir } from '../helpers/assets.js';

const { gpu: maybeGpu, skip } = await openWebGpu();
const gpu = maybeGpu!;
after(() => maybeGpu?.destroy());

const dir = tinyLlamaDir;

/** max |a - b| / max |b|. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let scale = 1e-30;
  let diff = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  }
  return diff / scale;
}

interface StepResult { loss: number; entropy: number; params: Map<string, Float32Array>; grads: Map<string, Float32Array> }

/** One PPO-like step of a small Qwen2-style model from a fixed seed; returns the loss and the updated weights. */
async function trainStep(backend: Backend): Promise<StepResult> {
  T.setBackend(backend);
  const config = parseModelConfig({
    model_type: 'qwen2', vocab_size: 23, hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, tie_word_embeddings: false,
  });
  const model = new CausalLM(config, { seed: 7 });
  // eps 1e-4 rather than 1e-8: the first AdamW step is lr * g / (|g| + eps), so with a tiny eps a
  // gradient of 1e-9 (f32 noise of a 1e-2 gradient) that rounds differently moves a weight by up
  // to lr. With eps 1e-4 a gradient error e moves it by at most lr * e / eps.
  const opt = new AdamW(model, { lr: 1e-2, weightDecay: 0.01, eps: 1e-4 });
  const rng = new Rng(99);
  const [B, L] = [3, 12];
  const ids = Int32Array.from({ length: B * L }, () => rng.int(23));
  const targets = Int32Array.from({ length: B * L }, () => rng.int(23));
  const adv = Float32Array.from({ length: B * L }, () => rng.normal());
  const positions = Int32Array.from({ length: B * L }, (_, i) => i % L);
  const [loss, entropy] = T.tidy(() => {
    const logits = model.forward(T.tensor(ids, [B, L]), { positions: T.tensor(positions, [B, L]) });
    const le = T.logprobEntropy(logits, T.tensor(targets, [B, L]), 0.9);
    const pg = T.neg(T.mean(T.mul(le.logp, T.tensor(adv, [B, L]))));
    const ent = T.mean(le.entropy);
    const l = T.sub(pg, T.mul(ent, 0.01));
    l.backward();
    return [l, ent];
  });
  const grads = new Map<string, Float32Array>();
  for (const [name, p] of model.namedParameters()) grads.set(name, (await p.grad!.data()) as Float32Array);
  opt.step();
  const params = new Map<string, Float32Array>();
  for (const [name, p] of model.namedParameters()) params.set(name, (await p.data()) as Float32Array);
  const result = { loss: (await loss.data())[0]!, entropy: (await entropy.data())[0]!, params, grads };
  loss.dispose();
  entropy.dispose();
  opt.dispose();
  model.dispose();
  return result;
}

describe('models on webgpu', { skip }, () => {
  let cpu: CpuBackend;
  before(async () => { cpu = await CpuBackend.create({ threads: 2 }); });
  after(() => cpu?.destroy());

  test('tiny-llama logits match the CPU backend within 1e-4 of max |logit|', async (t) => {
    const ids = CharTokenizer.load(dir).encode('8,3:9,4');
    const want = await modelLogits(cpu, dir, ids);
    const got = await modelLogits(gpu, dir, ids);
    const err = relErr(got, want);
    t.diagnostic(`max |webgpu - cpu| / max |logit| = ${err.toExponential(2)}`);
    assert.ok(err <= 1e-4, `relative error ${err}`);
  });

  test('one PPO-like training step gives the CPU backend\'s loss and updated weights', async (t) => {
    const want = await trainStep(cpu);
    const got = await trainStep(gpu);
    t.diagnostic(`loss cpu ${want.loss} webgpu ${got.loss}; entropy cpu ${want.entropy} webgpu ${got.entropy}`);
    assert.ok(Math.abs(got.loss - want.loss) <= 1e-5 * Math.max(1, Math.abs(want.loss)), `loss ${got.loss} vs ${want.loss}`);
    assert.ok(Math.abs(got.entropy - want.entropy) <= 1e-5 * Math.abs(want.entropy));
    let worstGrad = 0;
    for (const [name, g] of want.grads) worstGrad = Math.max(worstGrad, relErr(got.grads.get(name)!, g));
    t.diagnostic(`largest gradient difference relative to its tensor's max |grad|: ${worstGrad.toExponential(2)}`);
    assert.ok(worstGrad <= 1e-5, `gradients differ by ${worstGrad}`);
    let worst = 0;
    let worstName = '';
    for (const [name, w] of want.params) {
      // Relative to the step's size: weights move by about lr = 1e-2 in one AdamW step.
      const g = got.params.get(name)!;
      const before = Math.max(...w.map(Math.abs));
      const err = relErr(g, w) * before;
      if (err > worst) {
        worst = err;
        worstName = name;
      }
    }
    t.diagnostic(`largest absolute weight difference ${worst.toExponential(2)} (${worstName}), step size 1e-2`);
    assert.ok(worst <= 1e-5, `weights differ by up to ${worst} in ${worstName}`);
  });

  test('decoding finds its bind groups made: after the first steps, a step makes at most one a layer', async (t) => {
    T.setBackend(gpu);
    const lm = loadCausalLM(dir, { backend: gpu, frozen: true });
    const layers = lm.config.num_hidden_layers;
    const made: number[] = [];
    const reused: number[] = [];
    let last = gpu.bindGroupStats;
    // Prompts of different lengths (padding, a key bias); every row runs to the end.
    await generate(lm, [[5, 6, 7, 8, 9], [10, 11, 12], [13, 14, 15, 2]], {
      maxNewTokens: 16, temperature: 1, ignoreEos: true, seed: 3,
      onStep: () => {
        const now = gpu.bindGroupStats;
        made.push(now.made - last.made);
        reused.push(now.reused - last.reused);
        last = now;
      },
    });
    lm.dispose();
    t.diagnostic(`bind groups made per step: ${made.join(' ')}; reused: ${reused.join(' ')}`);
    const later = made.slice(4);
    assert.ok(later.every((x) => x <= layers), `a later step made more than ${layers}: ${made.join(' ')}`);
    assert.ok(reused.slice(4).every((x) => x > 0));
  });
});
