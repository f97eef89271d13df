// AdamW against a float64 loop reference written here, and the optimizer state round trip.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import { AdamW, Linear, Module, createParameter, normalInit, type AdamWState } from '../../src/nn/index.js';
import { Prng } from '../../src/util/prng.js';
import { keep, setBackend, tensor, type Tensor } from '../../src/tensor/index.js';

setBackend(new ReferenceBackend());

interface Hyper { lr: number[]; b1: number; b2: number; eps: number; wd: number }

/** PyTorch AdamW, step by step, in float64. lr[t] is the LR of step t + 1. */
function adamwReference(p0: Float32Array, grads: Float32Array[], h: Hyper): Float64Array {
  const p = Float64Array.from(p0);
  const m = new Float64Array(p.length);
  const v = new Float64Array(p.length);
  grads.forEach((g, t) => {
    const step = t + 1;
    const lr = h.lr[t]!;
    for (let i = 0; i < p.length; i++) {
      p[i] = p[i]! - lr * h.wd * p[i]!;
      m[i] = h.b1 * m[i]! + (1 - h.b1) * g[i]!;
      v[i] = h.b2 * v[i]! + (1 - h.b2) * g[i]! * g[i]!;
      const mHat = m[i]! / (1 - h.b1 ** step);
      const vHat = v[i]! / (1 - h.b2 ** step);
      p[i] = p[i]! - lr * mHat / (Math.sqrt(vHat) + h.eps);
    }
  });
  return p;
}

function setGrad(p: Tensor, values: Float32Array): void {
  p.grad?.dispose();
  p.grad = keep(tensor(values, p.shape));
}

/** Runs fn with `backend` as the default, restoring a float32 reference backend even when fn throws. */
function withBackend<T>(backend: ReferenceBackend, fn: () => T): T {
  setBackend(backend);
  try {
    return fn();
  } finally {
    setBackend(new ReferenceBackend());
  }
}

/** Full-precision values (float64 on the float64 backend). */
function values(t: Tensor): Float64Array {
  return (t.backend as ReferenceBackend).readF64(t.buffer, t.offset, t.size);
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1e-3, Math.abs(b[i]!)));
  return worst;
}

function runCase(backend: ReferenceBackend, h: Hyper, steps: number): { got: Float64Array; want: Float64Array } {
  return withBackend(backend, () => runCaseOn(h, steps));
}

function runCaseOn(h: Hyper, steps: number): { got: Float64Array; want: Float64Array } {
  const rng = new Prng(7);
  const p = createParameter([3, 5], normalInit(rng, 1));
  const p0 = p.dataSync() as Float32Array;
  // Gradients of mixed scale, with some exact zeros, so m/v and eps all matter.
  const grads = Array.from({ length: steps }, (_, t) => rng.fillNormal(new Float32Array(15), t % 2 === 0 ? 1 : 1e-3).map((x, i) => (i % 7 === 0 ? 0 : x)));
  const opt = new AdamW([['w', p]], { lr: h.lr[0]!, betas: [h.b1, h.b2], eps: h.eps, weightDecay: h.wd });
  for (let t = 0; t < steps; t++) {
    opt.lr = h.lr[t]!;
    setGrad(p, grads[t]!);
    opt.step();
  }
  const got = values(p);
  opt.dispose();
  p.grad?.dispose();
  p.dispose();
  return { got, want: adamwReference(p0, grads, h) };
}

describe('AdamW', () => {
  const h: Hyper = { lr: [1e-2, 2e-2, 5e-3, 1e-2, 3e-2, 1e-2], b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.01 };

  test('matches the float64 reference over several steps with a changing lr (float32 backend)', () => {
    const { got, want } = runCase(new ReferenceBackend(), h, 6);
    assert.ok(maxRelDiff(got, want) < 1e-5, `max rel diff ${maxRelDiff(got, want)}`);
  });

  test('matches the float64 reference tightly on the float64 backend, other hyperparameters', () => {
    const h2: Hyper = { lr: [0.1, 0.05, 0.1, 0.2], b1: 0.8, b2: 0.95, eps: 1e-6, wd: 0.3 };
    const { got, want } = runCase(new ReferenceBackend({ float64: true }), h2, 4);
    assert.ok(maxRelDiff(got, want) < 1e-13, `max rel diff ${maxRelDiff(got, want)}`);
  });

  test('defaults are veRL/torch: betas 0.9/0.999, eps 1e-8, weight decay 0.01', () => {
    const p = createParameter([2], normalInit(new Prng(1)));
    const opt = new AdamW([['p', p]], { lr: 1e-3 });
    assert.deepEqual([opt.beta1, opt.beta2, opt.eps, opt.weightDecay], [0.9, 0.999, 1e-8, 0.01]);
    p.dispose();
  });

  test('weight decay is decoupled: a zero gradient only shrinks p by (1 - lr*wd)', () => withBackend(new ReferenceBackend({ float64: true }), () => {
    const p = createParameter([4], normalInit(new Prng(3), 1));
    const before = Array.from(values(p));
    const opt = new AdamW([['p', p]], { lr: 0.1, weightDecay: 0.5 });
    setGrad(p, new Float32Array(4));
    opt.step();
    const after = Array.from(values(p));
    // L2-style decay (wd*p added to the gradient) would move p by about lr per element instead.
    after.forEach((x, i) => assert.ok(Math.abs(x - before[i]! * 0.95) < 1e-12, `${x} vs ${before[i]! * 0.95}`));
  }));

  test('bias correction: the first step moves every element by lr against the sign of its gradient', () => withBackend(new ReferenceBackend({ float64: true }), () => {
    const p = createParameter([5], normalInit(new Prng(4), 1));
    const before = Array.from(values(p));
    const opt = new AdamW([['p', p]], { lr: 0.01, weightDecay: 0 });
    const g = Float32Array.from([3, -0.5, 1e-3, -20, 0.25]);
    setGrad(p, g);
    opt.step();
    // m_hat = g, v_hat = g^2 on step 1, so the update is lr * g / (|g| + eps); without the
    // correction it would be lr * 0.1 g / (sqrt(0.001) |g|), about 3.2x larger.
    const after = Array.from(values(p));
    after.forEach((x, i) => {
      const expected = before[i]! - 0.01 * g[i]! / (Math.abs(g[i]!) + 1e-8);
      assert.ok(Math.abs(x - expected) < 1e-12, `element ${i}: ${x} vs ${expected}`);
    });
  }));

  test('parameters without a gradient are skipped and keep their own step count', () => withBackend(new ReferenceBackend({ float64: true }), () => {
    const rng = new Prng(5);
    const a = createParameter([3], normalInit(rng, 1));
    const b = createParameter([3], normalInit(rng, 1));
    const b0 = b.dataSync() as Float32Array; // exact: initial values are float32
    const opt = new AdamW([['a', a], ['b', b]], { lr: 0.05 });
    setGrad(a, Float32Array.from([1, 2, 3]));
    opt.step();
    assert.deepEqual(Array.from(values(b)), Array.from(b0), 'b had no gradient and must not change (not even decay)');
    // b's first update must use step-1 bias correction although the optimizer is on step 2.
    const gb = Float32Array.from([0.5, -1, 2]);
    setGrad(b, gb);
    a.grad!.dispose();
    a.grad = null;
    opt.step();
    assert.equal(opt.stepCount, 2);
    const want = adamwReference(b0, [gb], { lr: [0.05], b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.01 });
    assert.ok(maxRelDiff(values(b), want) < 1e-13);
  }));

  test('rejects bad hyperparameters and non-dense gradients', () => {
    const p = createParameter([2, 2], normalInit(new Prng(1)));
    assert.throws(() => new AdamW([['p', p]], { lr: -1 }), /invalid learning rate/);
    assert.throws(() => new AdamW([['p', p]], { lr: 1, betas: [1, 0.9] }), /invalid beta1/);
    assert.throws(() => new AdamW([['p', p], ['p', p]], { lr: 1 }), /given twice/);
    const opt = new AdamW([['p', p]], { lr: 1 });
    const g = keep(tensor([1, 2, 3, 4], [2, 2]));
    p.grad = keep(g.transpose());
    assert.throws(() => opt.step(), /gradient of p must be a dense f32 tensor/);
    p.grad.dispose();
    p.grad = null;
    g.dispose();
    p.dispose();
  });
});

class TwoLayer extends Module {
  readonly a: Linear;
  readonly b: Linear;
  constructor(seed: number) {
    super();
    const rng = new Prng(seed);
    this.a = this.addModule('a', new Linear(3, 4, { init: normalInit(rng, 0.5) }));
    this.b = this.addModule('b', new Linear(4, 2, { init: normalInit(rng, 0.5), bias: false }));
  }
}

/** Deterministic fake gradients per step and parameter, so runs can be replayed exactly. */
function fakeStep(model: Module, opt: AdamW, step: number): void {
  for (const [name, p] of model.namedParameters()) {
    const rng = new Prng(1000 * step + name.length);
    setGrad(p, rng.fillNormal(new Float32Array(p.size), 1));
  }
  opt.step();
}

describe('AdamW state round trip', () => {
  test('save, rebuild, load: continuation is bit-identical', async () => {
    const m1 = new TwoLayer(1);
    const o1 = new AdamW(m1, { lr: 0.01 });
    for (let s = 0; s < 3; s++) fakeStep(m1, o1, s);
    const weights = await m1.stateDict();
    const state = await o1.stateDict();
    assert.equal(state.step, 3);
    assert.deepEqual(Object.keys(state.params), ['a.weight', 'a.bias', 'b.weight']);
    assert.equal(state.params['a.weight']!.step, 3);
    for (let s = 3; s < 6; s++) fakeStep(m1, o1, s);

    // A fresh model with different initial weights, restored from the checkpoint.
    const m2 = new TwoLayer(99);
    const o2 = new AdamW(m2, { lr: 0.5, weightDecay: 0 });
    m2.loadStateDict(weights);
    o2.loadStateDict(state);
    assert.equal(o2.lr, 0.01);
    assert.equal(o2.weightDecay, 0.01);
    for (let s = 3; s < 6; s++) fakeStep(m2, o2, s);
    for (const [name, p] of m1.namedParameters()) {
      assert.deepEqual(Array.from(m2.getParameter(name).dataSync()), Array.from(p.dataSync()), name);
    }
    const s1 = await o1.stateDict();
    const s2 = await o2.stateDict();
    assert.deepEqual(s2, s1);
  });

  test('loading without the state diverges (so the round trip test can fail)', async () => {
    const m1 = new TwoLayer(1);
    const o1 = new AdamW(m1, { lr: 0.01 });
    for (let s = 0; s < 3; s++) fakeStep(m1, o1, s);
    const weights = await m1.stateDict();
    fakeStep(m1, o1, 3);
    const m2 = new TwoLayer(1);
    const o2 = new AdamW(m2, { lr: 0.01 });
    m2.loadStateDict(weights);
    fakeStep(m2, o2, 3);
    assert.notDeepEqual(Array.from(m2.getParameter('a.weight').dataSync()), Array.from(m1.getParameter('a.weight').dataSync()));
  });

  test('mismatched names and shapes are rejected before anything changes', async () => {
    const m = new TwoLayer(1);
    const o = new AdamW(m, { lr: 0.01 });
    fakeStep(m, o, 0);
    const good = await o.stateDict();
    const renamed: AdamWState = { ...good, params: { ...good.params, 'c.weight': good.params['b.weight']! } };
    assert.throws(() => o.loadStateDict(renamed), /state has parameter 'c\.weight', which this optimizer does not have/);
    const reshaped: AdamWState = { ...good, params: { ...good.params, 'a.bias': { ...good.params['a.bias']!, shape: [5], m: new Float32Array(5), v: new Float32Array(5) } } };
    assert.throws(() => o.loadStateDict(reshaped), /a\.bias expects shape \[4\], state has \[5\]/);
    const badLr: AdamWState = { ...good, lr: Number.NaN };
    assert.throws(() => o.loadStateDict(badLr), /invalid learning rate/);
    // The failed loads left the optimizer as it was.
    assert.deepEqual(await o.stateDict(), good);
  });
});
