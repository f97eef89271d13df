import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maskedMean, maskedRowMean, maskedSum, maskedVar, maskedWhiten } from '../../src/rl/masked.js';
import { assertAllClose, assertClose, rng, uniform } from './helpers.js';

test('maskedSum and maskedMean skip padded positions, even NaN ones', () => {
  const x = new Float64Array([1, 2, NaN, 4, 5, 6]);
  const m = new Float64Array([1, 1, 0, 1, 0, 1]);
  assert.equal(maskedSum(x, m), 13);
  assert.equal(maskedMean(x, m), 13 / 4);
});

test('maskedMean of an empty mask is 0, not NaN', () => {
  assert.equal(maskedMean(new Float64Array([3, 4]), new Float64Array([0, 0])), 0);
});

test('maskedRowMean: per row, fully masked row gives 0', () => {
  const x = new Float64Array([1, 2, 3, 7, 8, 9, 4, 5, 6]);
  const m = new Float64Array([1, 1, 0, 0, 0, 0, 1, 1, 1]);
  assertAllClose(maskedRowMean(x, m, 3), [1.5, 0, 5], 0, 0);
});

test('maskedVar applies the Bessel factor and refuses Σm of 0 or 1', () => {
  const x = new Float64Array([1, 2, 4, 100]);
  const m = new Float64Array([1, 1, 1, 0]);
  // mean 7/3; Σ(x−mean)² = 16/9 + 1/9 + 25/9 = 42/9; unbiased /2, biased /3
  assertClose(maskedVar(x, m), 42 / 9 / 2, 1e-12);
  assertClose(maskedVar(x, m, false), 42 / 9 / 3, 1e-12);
  assert.throws(() => maskedVar(x, new Float64Array(4)), /at least one/);
  assert.throws(() => maskedVar(x, new Float64Array([0, 1, 0, 0])), /sums to one/);
});

test('maskedWhiten matches a float64 loop reference', () => {
  const rand = rng(1);
  const x = uniform(rand, 24, -3, 5);
  const m = Float64Array.from({ length: 24 }, (_, i) => (i % 5 === 3 ? 0 : 1));
  const got = maskedWhiten(x, m);
  let n = 0, s = 0;
  for (let i = 0; i < 24; i++) if (m[i]) { n++; s += x[i]!; }
  const mean = s / n;
  let ss = 0;
  for (let i = 0; i < 24; i++) if (m[i]) ss += (x[i]! - mean) ** 2;
  const sd = Math.sqrt(ss / (n - 1) + 1e-8);
  for (let i = 0; i < 24; i++) assertClose(got[i]!, (x[i]! - mean) / sd, 1e-12, 1e-12, `whiten[${i}]`);
  const unshifted = maskedWhiten(x, m, false);
  for (let i = 0; i < 24; i++) assertClose(unshifted[i]!, (x[i]! - mean) / sd + mean, 1e-12, 1e-12);
});
