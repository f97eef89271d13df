// Linear, Embedding and RMSNorm forward against float64 references; initialisers; parameters and scopes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import { Embedding, Linear, RMSNorm, asParameter, createParameter, normalInit, onesInit, uninitialized, zerosInit } from '../../src/nn/index.js';
import { Prng } from '../../src/util/prng.js';
import { getBackend, setBackend, tensor, tidy } from '../../src/tensor/index.js';

setBackend(new ReferenceBackend());

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i]! - want[i]!) <= tol * (1 + Math.abs(want[i]!)), `element ${i}: ${got[i]} vs ${want[i]}`);
  }
}

describe('Linear', () => {
  test('forward is x @ W^T + b with W [out, in] (float64 reference)', () => {
    const rng = new Prng(11);
    const lin = new Linear(5, 3, { init: normalInit(rng, 0.5), biasInit: normalInit(rng, 0.5) });
    assert.deepEqual(lin.weight.shape, [3, 5]);
    assert.deepEqual(lin.bias!.shape, [3]);
    const W = lin.weight.dataSync();
    const b = lin.bias!.dataSync();
    const xs = rng.fillNormal(new Float32Array(2 * 4 * 5), 1);
    const y = tidy(() => lin.forward(tensor(xs, [2, 4, 5])));
    assert.deepEqual(y.shape, [2, 4, 3]);
    const want = new Float64Array(2 * 4 * 3);
    for (let r = 0; r < 8; r++) {
      for (let o = 0; o < 3; o++) {
        let acc = b[o]!;
        for (let i = 0; i < 5; i++) acc += xs[r * 5 + i]! * W[o * 5 + i]!;
        want[r * 3 + o] = acc;
      }
    }
    assertClose(y.dataSync(), want, 1e-6);
    y.dispose();
    lin.dispose();
  });

  test('without bias, and HF default init: weights normal(0, std), bias zeros', () => {
    const noBias = new Linear(4, 2, { init: zerosInit(), bias: false });
    assert.equal(noBias.bias, null);
    assert.deepEqual(noBias.namedParameters().map(([n]) => n), ['weight']);
    noBias.dispose();
    const lin = new Linear(200, 100, { init: normalInit(new Prng(3), 0.02) });
    assert.deepEqual(Array.from(lin.bias!.dataSync()), new Array(100).fill(0));
    const w = Array.from(lin.weight.dataSync());
    const mean = w.reduce((a, x) => a + x, 0) / w.length;
    const std = Math.sqrt(w.reduce((a, x) => a + (x - mean) ** 2, 0) / w.length);
    assert.ok(Math.abs(mean) < 0.02 * 0.05, `mean ${mean}`);
    assert.ok(Math.abs(std - 0.02) < 0.02 * 0.03, `std ${std}`);
    lin.dispose();
  });
});

describe('Embedding', () => {
  test('forward gathers rows by id', () => {
    const emb = new Embedding(6, 3, normalInit(new Prng(5), 1));
    const table = emb.weight.dataSync();
    const ids = [5, 0, 2, 2, 1, 5];
    const out = tidy(() => emb.forward(tensor(Int32Array.from(ids), [2, 3])));
    assert.deepEqual(out.shape, [2, 3, 3]);
    const want = ids.flatMap((id) => Array.from(table.subarray(id * 3, id * 3 + 3)));
    assert.deepEqual(Array.from(out.dataSync()), want);
    out.dispose();
    emb.dispose();
  });
});

describe('RMSNorm', () => {
  test('forward is x * w / sqrt(mean(x^2) + eps) per row (float64 reference)', () => {
    const rng = new Prng(8);
    const eps = 1e-5;
    const norm = new RMSNorm(7, eps, normalInit(rng, 1));
    const w = norm.weight.dataSync();
    const xs = rng.fillNormal(new Float32Array(3 * 7), 2);
    const y = tidy(() => norm.forward(tensor(xs, [3, 7])));
    const want = new Float64Array(xs.length);
    for (let r = 0; r < 3; r++) {
      let ss = 0;
      for (let i = 0; i < 7; i++) ss += xs[r * 7 + i]! ** 2;
      const rstd = 1 / Math.sqrt(ss / 7 + eps);
      for (let i = 0; i < 7; i++) want[r * 7 + i] = xs[r * 7 + i]! * rstd * w[i]!;
    }
    assertClose(y.dataSync(), want, 1e-6);
    y.dispose();
    norm.dispose();
  });

  test('defaults: weight of ones, eps 1e-6', () => {
    const norm = new RMSNorm(4);
    assert.equal(norm.eps, 1e-6);
    assert.deepEqual(Array.from(norm.weight.dataSync()), [1, 1, 1, 1]);
    norm.dispose();
  });
});

describe('initialisers and parameters', () => {
  test('normal init is deterministic for a seed and differs across seeds', () => {
    const draw = (seed: number): number[] => {
      const p = createParameter([50], normalInit(new Prng(seed), 1));
      const v = Array.from(p.dataSync());
      p.dispose();
      return v;
    };
    assert.deepEqual(draw(42), draw(42));
    assert.notDeepEqual(draw(42), draw(43));
    assert.notDeepEqual(draw(1), draw(1 + 2 ** 32), 'seeds differing above 2^32 differ');
  });

  test('Prng state round trip resumes the same stream, spare normal included', () => {
    const a = new Prng(9);
    a.normal();
    const saved = a.getState();
    const rest = [a.normal(), a.normal(), a.uniform()];
    const b = new Prng(0);
    b.setState(saved);
    assert.deepEqual([b.normal(), b.normal(), b.uniform()], rest);
  });

  test('parameters require grad, outlive scopes, and ones/zeros fill', () => {
    const before = getBackend().memoryStats().liveBuffers;
    let p = createParameter([1], onesInit());
    let q = p;
    tidy(() => {
      p.dispose();
      // Created inside a scope and not returned: keep() inside createParameter must save them.
      p = createParameter([2, 2], onesInit());
      q = createParameter([3], zerosInit());
      tensor([1, 2, 3]); // a temporary, freed by the scope
    });
    assert.equal(getBackend().memoryStats().liveBuffers, before + 2);
    assert.equal(p.requiresGrad, true);
    assert.deepEqual(Array.from(p.dataSync()), [1, 1, 1, 1]);
    assert.deepEqual(Array.from(q.dataSync()), [0, 0, 0]);
    p.dispose();
    q.dispose();
    assert.equal(getBackend().memoryStats().liveBuffers, before);
  });

  test('asParameter accepts only dense, history-free f32 tensors; uninitialized makes the right shape', () => {
    const base = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    assert.throws(() => asParameter(base.slice(1, 0, 2)), /is a view; parameters must own a dense buffer/);
    assert.throws(() => asParameter(tensor(Int32Array.from([1]))), /parameters are f32, got i32/);
    const leaf = createParameter([2], onesInit());
    const doubled = leaf.mul(2);
    assert.throws(() => asParameter(doubled), /has autograd history \(made by \w+\); detach it first/);
    const p = asParameter(base);
    assert.equal(p.requiresGrad, true);
    const u = createParameter([3, 2], uninitialized());
    assert.deepEqual(u.shape, [3, 2]);
    for (const t of [p, leaf, u, doubled]) t.dispose();
  });
});
