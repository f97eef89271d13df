import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aggLoss, lossAggModes } from '../../src/rl/agg.js';
import { computeValueLoss } from '../../src/rl/value-loss.js';
import { assertAllClose, assertClose, centralDiff, maskFromLengths, rng, uniform } from './helpers.js';

for (const mode of lossAggModes) {
  test(`value loss ${mode}: value, vf_clipfrac, vpred_mean and gradient`, () => {
    const T = 5;
    const lens = [5, 0, 2, 1, 4];
    const rand = rng(31);
    const m = maskFromLengths(lens, T);
    const values = uniform(rand, m.length, -1, 1);
    const vpreds = values.map((v) => v + (rand() * 2 - 1)); // moves of ±1 around the old values, c = 0.5
    const returns = uniform(rand, m.length, -2, 2);
    const c = 0.5;
    const args = { returns, values, responseMask: m, responseLength: T };
    const got = computeValueLoss({ ...args, vpreds }, { cliprangeValue: c, lossAggMode: mode });

    const per = Array.from(vpreds, (v, k) => {
      const vClip = Math.max(values[k]! - c, Math.min(values[k]! + c, v));
      const l1 = (v - returns[k]!) ** 2;
      const l2 = (vClip - returns[k]!) ** 2;
      return { loss: Math.max(l1, l2), clipped: l2 > l1 ? 1 : 0 };
    });
    const valid = lens.reduce((a, b) => a + b, 0);
    assertClose(got.vfLoss, 0.5 * aggLoss(per.map((p) => p.loss), m, T, mode), 1e-12, 1e-10, 'vf_loss');
    const clipfrac = per.reduce((s, p, k) => s + (m[k] ? p.clipped : 0), 0) / valid;
    assertClose(got.metrics.vf_clipfrac, clipfrac, 1e-12, 0, 'vf_clipfrac');
    assert.ok(clipfrac > 0 && clipfrac < 1, 'the fixture must exercise both branches');
    const vpredMean = Array.from(vpreds).reduce((s, v, k) => s + (m[k] ? v : 0), 0) / valid;
    assertClose(got.metrics.vpred_mean, vpredMean, 1e-12, 1e-10, 'vpred_mean');

    const f = (v: Float64Array) => computeValueLoss({ ...args, vpreds: v }, { cliprangeValue: c, lossAggMode: mode }).vfLoss;
    assertAllClose(got.dVpreds, centralDiff(f, vpreds), 1e-6, 1e-4, 'dVpreds');
  });
}

test('value loss hand values: a clipped prediction has zero gradient', () => {
  // old value 0, c = 0.5; vpred 2 with return 3 -> unclipped (2−3)² = 1, clipped (0.5−3)² = 6.25 wins
  const got = computeValueLoss(
    { vpreds: new Float64Array([2]), returns: new Float64Array([3]), values: new Float64Array([0]), responseMask: new Float64Array([1]), responseLength: 1 },
    { cliprangeValue: 0.5 },
  );
  assertClose(got.vfLoss, 0.5 * 6.25, 1e-12);
  assert.equal(got.metrics.vf_clipfrac, 1);
  assert.equal(got.dVpreds[0], 0);
});
