import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aggLoss, lossAggModes } from '../../src/rl/agg.js';
import { computeKlLoss, klPenalty, klPenaltyToken, klPenaltyTypes, type KlPenaltyType } from '../../src/rl/kl.js';
import { assertAllClose, assertClose, centralDiff, maskFromLengths, rng, uniform } from './helpers.js';

/** The estimators as docs/verl-compat.md#kl-estimators writes them. */
const ref: Record<string, (lp: number, r: number) => number> = {
  kl: (lp, r) => lp - r,
  abs: (lp, r) => Math.abs(lp - r),
  mse: (lp, r) => 0.5 * (lp - r) ** 2,
  low_var_kl: (lp, r) => Math.max(-10, Math.min(10, Math.exp(r - lp) - (r - lp) - 1)),
};
ref.k1 = ref.kl!; ref['k1+'] = ref.kl!; ref.k2 = ref.mse!; ref.k3 = ref.low_var_kl!; ref['k3+'] = ref.low_var_kl!;

const rand = rng(51);
const logp = uniform(rand, 12, -4, -0.05);
const refLp = logp.map((x) => x + (rand() * 3 - 1.5));

for (const type of klPenaltyTypes) {
  test(`kl penalty ${type}: value matches the formula`, () => {
    const got = klPenalty(logp, refLp, type);
    assertAllClose(got, Array.from(logp, (lp, k) => ref[type]!(lp, refLp[k]!)), 1e-12, 1e-12);
  });
}

test('kl penalty derivatives match finite differences; straight-through variants use k2\'s', () => {
  for (const type of klPenaltyTypes) {
    for (let k = 0; k < logp.length; k++) {
      const { grad } = klPenaltyToken(logp[k]!, refLp[k]!, type);
      const probe = type === 'k1+' || type === 'k3+' ? 'k2' : type;
      const h = 1e-6;
      const fd = (klPenaltyToken(logp[k]! + h, refLp[k]!, probe).value - klPenaltyToken(logp[k]! - h, refLp[k]!, probe).value) / (2 * h);
      assertClose(grad, fd, 1e-7, 1e-5, `${type}[${k}]`);
    }
  }
});

test('low_var_kl clamps to [−10, 10] with zero gradient there; full and unknown types throw', () => {
  const big = klPenaltyToken(-30, 0, 'low_var_kl'); // k = 30: exp(30) ≫ 10
  assert.equal(big.value, 10);
  assert.equal(big.grad, 0);
  const far = klPenaltyToken(0, -40, 'low_var_kl'); // k = −40: 40 − 1 = 39 -> 10
  assert.equal(far.value, 10);
  assert.equal(far.grad, 0);
  assert.ok(klPenaltyToken(-1, -1, 'low_var_kl').value === 0);
  assert.throws(() => klPenalty(logp, refLp, 'full' as KlPenaltyType), /not implemented/);
  assert.throws(() => klPenalty(logp, refLp, 'k4' as KlPenaltyType), /unknown kl penalty/);
});

for (const mode of lossAggModes) {
  test(`kl loss (low_var_kl, ${mode}): value and gradient`, () => {
    const T = 4;
    const m = maskFromLengths([4, 1, 0], T);
    const args = { refLogProb: refLp, responseMask: m, responseLength: T };
    const got = computeKlLoss({ ...args, logProb: logp }, 'low_var_kl', mode);
    assertClose(got.klLoss, aggLoss(Array.from(logp, (lp, k) => ref.low_var_kl!(lp, refLp[k]!)), m, T, mode), 1e-12, 1e-10);
    const f = (x: Float64Array) => computeKlLoss({ ...args, logProb: x }, 'low_var_kl', mode).klLoss;
    assertAllClose(got.dLogProb, centralDiff(f, logp), 1e-7, 1e-4);
  });
}
