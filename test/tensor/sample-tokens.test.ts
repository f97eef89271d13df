// sampleTokens, the tensor-level wrapper of Backend.sample: shapes, strided inputs, and errors that
// name what is wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import * as T from '../../src/tensor/index.js';

const greedy = { temperature: 0, topK: -1, topP: 1 };

test('sampleTokens keeps the leading axes and reads strided logits', () => {
  T.setBackend(new ReferenceBackend());
  // [2, 2, 3] logits whose arg-max per row is known; the transposed view is not contiguous.
  const base = T.tensor(Float32Array.from([0, 5, 1, 9, 2, 3, 0, 0, 4, 1, 7, 2]), [2, 2, 3]);
  const { tokens, logprobs } = T.sampleTokens(base, T.tensor(new Int32Array(4), [2, 2]), greedy);
  assert.deepEqual(tokens.shape, [2, 2]);
  assert.deepEqual(Array.from(tokens.dataSync()), [1, 0, 2, 1]);
  const lse = Math.log(Math.exp(0) + Math.exp(5) + Math.exp(1));
  assert.ok(Math.abs(logprobs.dataSync()[0]! - (5 - lse)) < 1e-6);
  const swapped = T.transpose(base, 0, 1);
  const again = T.sampleTokens(swapped, T.tensor(new Int32Array(4), [2, 2]), greedy);
  // Rows in the view's order: (0, 0), (1, 0), (0, 1), (1, 1).
  assert.deepEqual(Array.from(again.tokens.dataSync()), [1, 2, 0, 1]);
});

test('sampleTokens names bad arguments', () => {
  T.setBackend(new ReferenceBackend());
  const z = T.tensor(new Float32Array(6), [2, 3]);
  const bits = T.tensor(new Int32Array(2), [2]);
  assert.throws(() => T.sampleTokens(z, T.tensor(new Int32Array(3), [3]), greedy), /uniformBits \[3\] must have the logits' rows \[2\]/);
  assert.throws(() => T.sampleTokens(z, T.tensor(new Float32Array(2), [2]), greedy), /uniformBits must be i32/);
  assert.throws(() => T.sampleTokens(z, bits, { temperature: -1, topK: -1, topP: 1 }), /temperature must be >= 0, got -1/);
  assert.throws(() => T.sampleTokens(z, bits, { temperature: 1, topK: 1.5, topP: 1 }), /top_k must be -1, 0 or a positive integer, got 1.5/);
  assert.throws(() => T.sampleTokens(z, bits, { temperature: 1, topK: -1, topP: 0 }), /top_p must be in \(0, 1\], got 0/);
  assert.throws(() => T.sampleTokens(T.tensor(new Float32Array(0), [2, 0]), bits, greedy), /empty vocabulary/);
});
