import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import * as T from '../../src/tensor/index.js';

const backend = new ReferenceBackend();

describe('bad calls name the op and the shapes', () => {
  test('shape mismatches', () => {
    T.setBackend(backend);
    T.tidy(() => {
      const a = T.zeros([2, 3]);
      const b = T.zeros([4, 5]);
      assert.throws(() => T.add(a, b), /add: shapes \[2, 3\] and \[4, 5\] do not broadcast/);
      assert.throws(() => T.matmul(a, b), /matmul: inner dimensions differ: \[2, 3\] @ \[4, 5\]/);
      assert.throws(() => T.reshape(a, [4, 2]), /reshape \[2, 3\]: cannot reshape 6 elements to \[4, 2\]/);
      assert.throws(() => T.rmsnorm(a, T.zeros([2]), 1e-6), /rmsnorm: weight \[2\] does not match the last axis of \[2, 3\]/);
      assert.throws(() => T.slice(a, 1, 2, 1), /slice: range \[2, 1\) is invalid for axis 1 of shape \[2, 3\]/);
      assert.throws(() => T.sum(a, 2), /sum: axis 2 is out of range for rank 2/);
      assert.throws(() => T.concat([a, b], 0), /concat: shapes \[2, 3\], \[4, 5\] differ outside axis 0/);
      assert.throws(() => T.attention(T.zeros([1, 2, 3, 4]), T.zeros([1, 2, 2, 4]), T.zeros([1, 2, 2, 4])), /attention: q \[1, 2, 3, 4\], k \[1, 2, 2, 4\]/);
    });
  });

  test('wrong dtypes', () => {
    T.setBackend(backend);
    T.tidy(() => {
      const ids = T.tensor(new Int32Array([0, 1]));
      const table = T.zeros([3, 2]);
      assert.throws(() => T.exp(ids), /exp: expected an f32 tensor, got i32 of shape \[2\]/);
      assert.throws(() => T.embedding(table, T.zeros([2])), /embedding: ids must be i32, got f32 of shape \[2\]/);
      assert.throws(() => T.embedding(T.tensor(new Int32Array(6), [3, 2]), ids), /embedding: table must be f32/);
    });
  });

  test('use after dispose', () => {
    T.setBackend(backend);
    const a = T.ones([2, 2]);
    a.dispose();
    assert.throws(() => T.exp(a), /exp: tensor #\d+ of shape \[2, 2\] was used after dispose\(\)/);
    assert.throws(() => a.dataSync(), /dataSync: tensor #\d+ of shape \[2, 2\] was used after dispose\(\)/);
  });

  test('backward from a non-scalar needs a gradient', () => {
    T.setBackend(backend);
    T.tidy(() => {
      const x = T.ones([3]);
      x.requiresGrad = true;
      assert.throws(() => T.exp(x).backward(), /backward: tensor of shape \[3\] is not a scalar/);
    });
    T.tidy(() => {
      const x = T.ones([3]);
      assert.throws(() => T.exp(x).sum().backward(), /does not require grad/);
    });
  });
});

describe('lifetimes', () => {
  test('tidy frees everything but its result; views keep their buffer alive', () => {
    T.setBackend(backend);
    const base = backend.memoryStats().liveBuffers;
    const kept = T.tidy(() => {
      const a = T.ones([4, 4]);
      const b = T.exp(a);
      T.mul(b, b);
      return T.transpose(b);
    });
    // b's buffer survives through the returned view; everything else is gone.
    assert.equal(backend.memoryStats().liveBuffers, base + 1);
    assert.ok(Math.abs(kept.dataSync()[0]! - Math.E) < 1e-6);
    kept.dispose();
    assert.equal(backend.memoryStats().liveBuffers, base);
  });

  test('keep() lets a tensor outlive its scope; errors inside tidy free the scope', () => {
    T.setBackend(backend);
    const base = backend.memoryStats().liveBuffers;
    let survivor: T.Tensor | null = null;
    T.tidy(() => {
      survivor = T.keep(T.full([3], 2));
      T.ones([10]);
    });
    assert.equal(backend.memoryStats().liveBuffers, base + 1);
    assert.throws(() => T.tidy(() => {
      T.ones([5]);
      throw new Error('boom');
    }), /boom/);
    assert.equal(backend.memoryStats().liveBuffers, base + 1);
    survivor!.dispose();
    assert.equal(backend.memoryStats().liveBuffers, base);
  });

  test('gradients accumulate across backward calls and noGrad records nothing', () => {
    T.setBackend(backend);
    const x = T.keep(T.tensor([1, 2, 3]));
    x.requiresGrad = true;
    T.tidy(() => T.mul(x, x).sum().backward());
    T.tidy(() => T.mul(x, 3).sum().backward());
    assert.deepEqual(Array.from(x.grad!.dataSync()), [5, 7, 9]);
    const y = T.noGrad(() => T.exp(x));
    assert.equal(y.requiresGrad, false);
    assert.equal(y.node, null);
    y.dispose();
    x.grad!.dispose();
    x.dispose();
  });

  test('a leaf\'s first gradient, made in the backward and held by nothing else, becomes its .grad without a copy', () => {
    T.setBackend(backend);
    const a = T.keep(T.tensor([1, 2, 3]));
    const b = T.keep(T.tensor([4, 5, 6]));
    a.requiresGrad = true;
    b.requiresGrad = true;
    const copies: boolean[] = [];
    const copyStrided = backend.copyStrided.bind(backend);
    backend.copyStrided = (src, dst, shape, accumulate) => {
      copies.push(accumulate);
      copyStrided(src, dst, shape, accumulate);
    };
    try {
      T.tidy(() => T.mul(a, b).sum().backward());
      assert.deepEqual(copies, [], 'a.grad and b.grad are the backward\'s own tensors');
      assert.deepEqual(Array.from(a.grad!.dataSync()), [4, 5, 6]);
      assert.deepEqual(Array.from(b.grad!.dataSync()), [1, 2, 3]);
      // add's backward hands one tensor to both inputs: the first leaf may not adopt what the second still holds.
      a.grad!.dispose();
      b.grad!.dispose();
      a.grad = null;
      b.grad = null;
      T.tidy(() => T.add(a, b).sum().backward());
      T.tidy(() => T.mul(a, 2).sum().backward());
      assert.deepEqual(Array.from(a.grad!.dataSync()), [3, 3, 3]);
      assert.deepEqual(Array.from(b.grad!.dataSync()), [1, 1, 1]);
      assert.ok(copies.length >= 2, 'one copy where the gradient was shared, one accumulation');
    } finally {
      backend.copyStrided = copyStrided;
    }
    for (const t of [a.grad!, b.grad!, a, b]) t.dispose();
  });

  test('a backward pass leaves no buffers behind inside tidy', () => {
    T.setBackend(backend);
    const w = T.keep(T.tensor([0.5, -0.25, 1, 2], [2, 2]));
    w.requiresGrad = true;
    const base = backend.memoryStats().liveBuffers;
    for (let i = 0; i < 3; i++) {
      T.tidy(() => {
        const x = T.tensor([1, 2, 3, 4, 5, 6], [3, 2]);
        const h = T.silu(T.linear(x, w));
        T.mean(T.square(T.logSoftmax(h))).backward();
      });
      assert.equal(backend.memoryStats().liveBuffers, base + 1, 'only the gradient of w remains');
    }
    w.grad!.dispose();
    w.dispose();
  });
});
