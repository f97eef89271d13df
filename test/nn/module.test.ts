// Module parameter naming (HF dotted paths), loading by name with checks, grads, train/eval, dispose.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import { Embedding, Linear, Module, ModuleList, RMSNorm, normalInit } from '../../src/nn/index.js';
import { Prng } from '../../src/util/prng.js';
import { getBackend, setBackend, tensor, tidy } from '../../src/tensor/index.js';

setBackend(new ReferenceBackend());

class Attention extends Module {
  constructor(rng: Prng) {
    super();
    const init = normalInit(rng, 0.02);
    this.addModule('q_proj', new Linear(8, 8, { init }));
    this.addModule('o_proj', new Linear(8, 8, { init, bias: false }));
  }
}

class Block extends Module {
  constructor(rng: Prng) {
    super();
    this.addModule('self_attn', new Attention(rng));
    this.addModule('input_layernorm', new RMSNorm(8));
  }
}

class Inner extends Module {
  readonly embed: Embedding;
  constructor(rng: Prng) {
    super();
    this.embed = this.addModule('embed_tokens', new Embedding(10, 8, normalInit(rng, 0.02)));
    this.addModule('layers', new ModuleList([new Block(rng), new Block(rng)]));
    this.addModule('norm', new RMSNorm(8));
  }
}

class TinyLM extends Module {
  readonly model: Inner;
  constructor(seed: number, tie = false) {
    super();
    const rng = new Prng(seed);
    this.model = this.addModule('model', new Inner(rng));
    // Tied embeddings: lm_head.weight is the same tensor as model.embed_tokens.weight.
    if (tie) this.registerParameter('lm_head_weight', this.model.embed.weight);
  }
}

const names = [
  'model.embed_tokens.weight',
  'model.layers.0.self_attn.q_proj.weight',
  'model.layers.0.self_attn.q_proj.bias',
  'model.layers.0.self_attn.o_proj.weight',
  'model.layers.0.input_layernorm.weight',
  'model.layers.1.self_attn.q_proj.weight',
  'model.layers.1.self_attn.q_proj.bias',
  'model.layers.1.self_attn.o_proj.weight',
  'model.layers.1.input_layernorm.weight',
  'model.norm.weight',
];

describe('Module', () => {
  test('names parameters by HF dotted paths, in registration order', () => {
    const m = new TinyLM(1);
    assert.deepEqual(m.namedParameters().map(([n]) => n), names);
    assert.equal(m.parameters().length, names.length);
    assert.equal(m.numParameters(), 80 + 2 * (64 + 8 + 64 + 8) + 8);
    assert.equal(m.getParameter('model.layers.1.self_attn.o_proj.weight'), m.namedParameters()[7]![1]);
    assert.deepEqual(m.namedModules().map(([n]) => n).slice(0, 5), ['', 'model', 'model.embed_tokens', 'model.layers', 'model.layers.0']);
    m.dispose();
  });

  test('shared tensors appear once, under the first path; both paths resolve', () => {
    const m = new TinyLM(1, true);
    assert.equal(m.namedParameters().length, names.length);
    assert.equal(m.getParameter('lm_head_weight'), m.getParameter('model.embed_tokens.weight'));
    m.dispose();
  });

  test('loadParameter replaces values in place, with shape checks and clear errors', () => {
    const m = new TinyLM(1);
    const p = m.getParameter('model.norm.weight');
    const values = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    m.loadParameter('model.norm.weight', values, [8]);
    assert.deepEqual(Array.from(p.dataSync()), Array.from(values));
    assert.equal(m.getParameter('model.norm.weight'), p, 'same tensor object (optimizers keep working)');
    assert.throws(() => m.loadParameter('model.layers.0.self_attn.q_proj.weight', new Float32Array(32), [4, 8]),
      /load model\.layers\.0\.self_attn\.q_proj\.weight: expected shape \[8, 8\], got \[4, 8\]/);
    assert.throws(() => m.loadParameter('model.norm.weight', new Float32Array(7)), /expected 8 values for shape \[8\], got 7/);
    assert.throws(() => m.loadParameter('model.layers.0.self_attn.k_proj.weight', new Float32Array(64)),
      /no parameter 'model\.layers\.0\.self_attn\.k_proj\.weight' in TinyLM; parameters ending in 'weight': model\.embed_tokens\.weight/);
    assert.throws(() => m.getParameter('model.layers.7.input_layernorm.weight'), /no parameter/);
    m.dispose();
  });

  test('loadStateDict: strict by default, non-strict reports, bad shapes write nothing', async () => {
    const src = new TinyLM(1);
    const dst = new TinyLM(2);
    const sd = await src.stateDict();
    assert.deepEqual([...sd.keys()], names);
    assert.deepEqual(dst.loadStateDict(sd), { missing: [], unexpected: [] });
    for (const [n, p] of src.namedParameters()) assert.deepEqual(Array.from(dst.getParameter(n).dataSync()), Array.from(p.dataSync()), n);

    const partial = new Map(sd);
    partial.delete('model.norm.weight');
    partial.set('lm_head.weight', { shape: [10, 8], data: new Float32Array(80) });
    assert.throws(() => dst.loadStateDict(partial), /missing model\.norm\.weight; unexpected lm_head\.weight/);
    assert.deepEqual(dst.loadStateDict(partial, { strict: false }), { missing: ['model.norm.weight'], unexpected: ['lm_head.weight'] });

    const fresh = new TinyLM(3);
    const before = Array.from(fresh.getParameter('model.embed_tokens.weight').dataSync());
    const bad = new Map(sd);
    bad.set('model.norm.weight', { shape: [9], data: new Float32Array(9) });
    assert.throws(() => fresh.loadStateDict(bad), /model\.norm\.weight expects shape \[8\], got \[9\]/);
    assert.deepEqual(Array.from(fresh.getParameter('model.embed_tokens.weight').dataSync()), before, 'nothing written');
    for (const m of [src, dst, fresh]) m.dispose();
  });

  test('registration errors: bad or duplicate names', () => {
    class Bad extends Module {
      constructor(name: string, twice: boolean) {
        super();
        this.addModule(name, new RMSNorm(2));
        if (twice) this.addModule(name, new RMSNorm(2));
      }
    }
    assert.throws(() => new Bad('a.b', false), /invalid member name 'a\.b'/);
    assert.throws(() => new Bad('norm', true), /'norm' is already registered/);
  });

  test('zeroGrad frees gradients, train/eval reach every submodule, dispose frees everything', () => {
    const live = getBackend().memoryStats().liveBuffers;
    const m = new TinyLM(4);
    assert.equal(getBackend().memoryStats().liveBuffers, live + names.length);
    tidy(() => {
      const h = m.model.embed.forward(tensor(Int32Array.from([1, 2, 3]), [3]));
      h.sum().backward();
    });
    assert.ok(m.getParameter('model.embed_tokens.weight').grad);
    assert.equal(getBackend().memoryStats().liveBuffers, live + names.length + 1);
    m.zeroGrad();
    assert.equal(m.getParameter('model.embed_tokens.weight').grad, null);
    assert.equal(getBackend().memoryStats().liveBuffers, live + names.length);

    m.eval();
    assert.ok(m.namedModules().every(([, x]) => !x.training));
    m.train();
    assert.ok(m.namedModules().every(([, x]) => x.training));

    m.dispose();
    assert.equal(getBackend().memoryStats().liveBuffers, live);
  });
});
