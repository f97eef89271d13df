import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aggLoss, aggWeights, lossAggModes } from '../../src/rl/agg.js';
import type { LossAggMode } from '../../src/rl/types.js';
import { assertClose, maskFromLengths, rng, uniform } from './helpers.js';

const T = 4;
const lens = [4, 0, 2, 1];
const m = maskFromLengths(lens, T);
const x = uniform(rng(11), m.length, -2, 3);

/** The four formulas of docs/verl-compat.md#loss-aggregation written out per row; fully masked rows are left out of the seq means. */
function ref(mode: LossAggMode, lossMat: ArrayLike<number>, mask: ArrayLike<number>, L: number): number {
  const rows = mask.length / L;
  const rowSum: number[] = [];
  const rowCnt: number[] = [];
  for (let i = 0; i < rows; i++) {
    let s = 0, c = 0;
    for (let t = 0; t < L; t++) { s += lossMat[i * L + t]! * mask[i * L + t]!; c += mask[i * L + t]!; }
    rowSum.push(s); rowCnt.push(c);
  }
  const live = rowCnt.map((c, i) => (c > 0 ? i : -1)).filter((i) => i >= 0);
  const total = rowSum.reduce((a, b) => a + b, 0);
  switch (mode) {
    case 'token-mean': return total / rowCnt.reduce((a, b) => a + b, 0);
    case 'seq-mean-token-sum': return live.reduce((a, i) => a + rowSum[i]!, 0) / live.length;
    case 'seq-mean-token-mean': return live.reduce((a, i) => a + rowSum[i]! / rowCnt[i]!, 0) / live.length;
    case 'seq-mean-token-sum-norm': return total / L;
  }
}

for (const mode of lossAggModes) {
  test(`aggLoss ${mode} matches the per-row reference with a fully masked row`, () => {
    assertClose(aggLoss(x, m, T, mode), ref(mode, x, m, T), 1e-12, 1e-12, mode);
  });
}

test('hand values: token-mean weighs long answers more, seq-mean-token-mean does not', () => {
  const lossMat = new Float64Array([1, 1, 1, 1, 5, 0, 0, 0]);
  const mask = maskFromLengths([4, 1], 4);
  assert.equal(aggLoss(lossMat, mask, 4, 'token-mean'), 9 / 5);
  assert.equal(aggLoss(lossMat, mask, 4, 'seq-mean-token-mean'), 3);
  assert.equal(aggLoss(lossMat, mask, 4, 'seq-mean-token-sum'), 4.5);
  assert.equal(aggLoss(lossMat, mask, 4, 'seq-mean-token-sum-norm'), 9 / 4);
  assert.equal(aggLoss(lossMat, mask, 4, 'seq-mean-token-sum-norm', { lossScaleFactor: 10 }), 0.9);
});

test('micro-batches with the mini-batch totals add up to the mini-batch loss', () => {
  const tokens = lens.reduce((a, b) => a + b, 0);
  const seqs = lens.filter((l) => l > 0).length;
  for (const mode of lossAggModes) {
    const whole = aggLoss(x, m, T, mode);
    const opts = { batchNumTokens: tokens, globalBatchSize: seqs };
    const parts = aggLoss(x.slice(0, 2 * T), m.slice(0, 2 * T), T, mode, opts) + aggLoss(x.slice(2 * T), m.slice(2 * T), T, mode, opts);
    assertClose(parts, whole, 1e-12, 1e-12, mode);
  }
});

test('an all-masked batch aggregates to 0 and unknown modes throw', () => {
  for (const mode of lossAggModes) assert.equal(aggLoss(x, new Float64Array(m.length), T, mode), 0);
  assert.throws(() => aggWeights(m, T, 'token-sum' as LossAggMode), /unknown loss_agg_mode/);
  assert.throws(() => aggWeights(m, 3, 'token-mean'), /multiple of responseLength/);
});
