// Variable-length attention's definition through the tensor layer: sequences packed into one row
// with keyStart give what each sequence gives on its own, outputs and gradients, on the reference
// backend in float64 (so the two paths agree to float32 rounding).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import * as T from '../../src/tensor/index.js';
import { Rng } from '../helpers/rng.js';

test('packed sequences with keyStart = the same sequences one by one (outputs, dq, dk, dv); lengths 3, 1, 5, 2', () => {
  T.setBackend(new ReferenceBackend({ float64: true }));
  const rng = new Rng(77);
  const lengths = [3, 1, 5, 2];
  const [H, Hkv, D] = [4, 2, 3];
  const N = lengths.reduce((a, b) => a + b, 0);
  const q = rng.floats(N * H * D), k = rng.floats(N * Hkv * D), v = rng.floats(N * Hkv * D), g = rng.floats(N * H * D);
  const keyStart: number[] = [];
  let start = 0;
  for (const L of lengths) {
    for (let i = 0; i < L; i++) keyStart.push(start);
    start += L;
  }
  T.tidy(() => {
    const leaf = (data: Float32Array, shape: number[]): T.Tensor => {
      const t = T.tensor(data, shape);
      t.requiresGrad = true;
      return t;
    };
    // Packed: one [1, N] row.
    const [qp, kp, vp] = [leaf(q, [1, N, H, D]), leaf(k, [1, N, Hkv, D]), leaf(v, [1, N, Hkv, D])];
    const outPacked = T.attention(qp, kp, vp, { keyStart: T.tensor(Int32Array.from(keyStart), [1, N], 'i32') });
    T.sum(T.mul(outPacked, T.tensor(g, [1, N, H, D]))).backward();
    // One by one.
    let offset = 0;
    for (const L of lengths) {
      const part = (data: Float32Array, heads: number): Float32Array => data.slice(offset * heads * D, (offset + L) * heads * D);
      const [qs, ks, vs] = [leaf(part(q, H), [1, L, H, D]), leaf(part(k, Hkv), [1, L, Hkv, D]), leaf(part(v, Hkv), [1, L, Hkv, D])];
      const out = T.attention(qs, ks, vs);
      T.sum(T.mul(out, T.tensor(part(g, H), [1, L, H, D]))).backward();
      const pairs: [T.Tensor, T.Tensor, number, string][] = [
        [out, outPacked, H, 'out'], [qs.grad!, qp.grad!, H, 'dq'], [ks.grad!, kp.grad!, Hkv, 'dk'], [vs.grad!, vp.grad!, Hkv, 'dv'],
      ];
      for (const [alone, packed, heads, name] of pairs) {
        const a = alone.dataSync() as Float32Array;
        const p = (packed.dataSync() as Float32Array).slice(offset * heads * D, (offset + L) * heads * D);
        for (let i = 0; i < a.length; i++) {
          assert.ok(Math.abs(a[i]! - p[i]!) <= 1e-6 * (1 + Math.abs(a[i]!)), `sequence at ${offset} (length ${L}): ${name}[${i}] ${p[i]} packed vs ${a[i]} alone`);
        }
      }
      offset += L;
    }
  });
});

test('keyStart must be i32 [B, Tq]', () => {
  T.setBackend(new ReferenceBackend());
  T.tidy(() => {
    const q = T.zeros([1, 3, 1, 2]);
    assert.throws(() => T.attention(q, q, q, { keyStart: T.tensor(Int32Array.from([0, 0]), [1, 2], 'i32') }), /attention: keyStart \[1, 2\] must hold \[B, Tq\] = \[1, 3\]/);
    assert.throws(() => T.attention(q, q, q, { keyStart: T.zeros([1, 3]) }), /attention: keyStart must be i32/);
  });
});
