import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdaptiveKLController, FixedKLController, getKlController } from '../../src/rl/kl-controller.js';
import { applyKlPenalty, klPenalizedRewards, updateKlController } from '../../src/rl/kl-reward.js';
import { assertAllClose, assertClose, maskFromLengths, rng, uniform } from './helpers.js';

test('fixed controller never moves; adaptive follows Ziegler et al. with the ±0.2 clip', () => {
  const fixed = new FixedKLController(0.001);
  fixed.update(5, 100);
  assert.equal(fixed.value, 0.001);

  const ctl = new AdaptiveKLController(0.1, 0.05, 100);
  ctl.update(0.1, 10); // error = min(0.1/0.05 − 1, 0.2) = 0.2
  assertClose(ctl.value, 0.1 * (1 + 0.2 * 10 / 100), 1e-15);
  ctl.update(0.045, 10); // error = −0.1
  assertClose(ctl.value, 0.1 * 1.02 * (1 - 0.1 * 10 / 100), 1e-15);
});

test('getKlController: fixed, adaptive, and the keys adaptive needs', () => {
  assert.ok(getKlController({ type: 'fixed', klCoef: 0.001 }) instanceof FixedKLController);
  const a = getKlController({ type: 'adaptive', klCoef: 0.2, horizon: 10000, targetKl: 6 });
  assert.ok(a instanceof AdaptiveKLController);
  assert.equal(a.value, 0.2);
  assert.throws(() => getKlController({ type: 'adaptive', klCoef: 0.2 }), /horizon.*target_kl/);
  assert.throws(() => getKlController({ type: 'adaptive', klCoef: 0.2, horizon: 0, targetKl: 6 }), /horizon must be > 0/);
});

test('applyKlPenalty: rewards = scores − β·KL·m, β read before the update, per-sequence mean KL', () => {
  const T = 4;
  const lens = [4, 2, 0];
  const m = maskFromLengths(lens, T);
  const rand = rng(61);
  const scores = new Float64Array(m.length);
  scores[3] = 1; scores[5] = 0.1; // outcome reward on the last valid token
  const old = uniform(rand, m.length, -3, -0.1);
  const refLp = uniform(rand, m.length, -3, -0.1);
  const ctl = new AdaptiveKLController(0.5, 0.01, 10);
  const got = applyKlPenalty({ tokenLevelScores: scores, oldLogProb: old, refLogProb: refLp, responseMask: m, responseLength: T }, ctl, 'kl');

  const expected = Array.from(scores, (s, k) => s - 0.5 * (old[k]! - refLp[k]!) * m[k]!);
  assertAllClose(got.tokenLevelRewards, expected, 1e-6, 1e-6);
  const rowKl = lens.filter((l) => l > 0).map((l, i) => {
    let s = 0;
    for (let t = 0; t < l; t++) s += old[i * T + t]! - refLp[i * T + t]!;
    return s / l;
  });
  const meanKl = rowKl.reduce((a, b) => a + b, 0) / rowKl.length; // the empty row is left out
  assertClose(got.metrics['critic/kl'], meanKl, 1e-12, 1e-10);
  assert.equal(got.metrics['critic/kl_coeff'], 0.5);
  const err = Math.max(-0.2, Math.min(0.2, meanKl / 0.01 - 1));
  assertClose(ctl.value, 0.5 * (1 + (err * 3) / 10), 1e-12, 1e-12, 'updated with n_steps = batch size');
});

test('klPenalizedRewards + updateKlController make applyKlPenalty, and a row\'s penalty does not depend on its batch', () => {
  const T = 3;
  const lens = [3, 0, 1, 2];
  const m = maskFromLengths(lens, T);
  const rand = rng(7);
  const scores = uniform(rand, m.length, 0, 1);
  const old = uniform(rand, m.length, -3, -0.1);
  const refLp = uniform(rand, m.length, -3, -0.1);
  const args = { tokenLevelScores: scores, oldLogProb: old, refLogProb: refLp, responseMask: m, responseLength: T };
  const whole = klPenalizedRewards(args, 0.3, 'low_var_kl');
  assert.ok(Number.isNaN(whole.rowKl[1]), 'a row without valid tokens has no KL');
  const viaApply = applyKlPenalty(args, new FixedKLController(0.3), 'low_var_kl');
  assert.deepEqual(whole.tokenLevelRewards, viaApply.tokenLevelRewards);
  const ctl = new AdaptiveKLController(0.3, 0.05, 10);
  assert.deepEqual(updateKlController(whole.rowKl, 0.3, ctl), viaApply.metrics);
  // Rows 2 and 0 alone: the same rewards and row KLs as in the whole batch (what dynamic sampling relies on).
  const pick = (a: Float64Array, rows: number[]) => Float64Array.from(rows.flatMap((r) => Array.from(a.subarray(r * T, (r + 1) * T))));
  const part = klPenalizedRewards({ tokenLevelScores: pick(scores, [2, 0]), oldLogProb: pick(old, [2, 0]), refLogProb: pick(refLp, [2, 0]), responseMask: pick(m, [2, 0]), responseLength: T }, 0.3, 'low_var_kl');
  assert.deepEqual(Array.from(part.tokenLevelRewards), [...whole.tokenLevelRewards.subarray(2 * T, 3 * T), ...whole.tokenLevelRewards.subarray(0, T)]);
  assert.deepEqual(Array.from(part.rowKl), [whole.rowKl[2], whole.rowKl[0]]);
});

test('KL controllers save and restore β (stateDict / loadStateDict), as a resumed run needs', () => {
  const a = new AdaptiveKLController(0.1, 0.05, 100);
  a.update(0.2, 10);
  const saved = a.stateDict();
  assert.deepEqual(saved, { klCoef: a.value });
  const b = new AdaptiveKLController(0.1, 0.05, 100);
  b.loadStateDict(saved);
  assert.equal(b.value, a.value);
  a.update(0.01, 7);
  b.update(0.01, 7);
  assert.equal(b.value, a.value, 'the restored controller continues exactly');
  const fixed = new FixedKLController(0.001);
  fixed.loadStateDict({ klCoef: 0.002 });
  assert.equal(fixed.value, 0.002);
  assert.deepEqual(fixed.stateDict(), { klCoef: 0.002 });
  assert.throws(() => b.loadStateDict({ klCoef: Number.NaN }), /KL controller state: klCoef must be a finite number, got null/);
  assert.throws(() => b.loadStateDict({} as { klCoef: number }), /klCoef must be a finite number, got undefined/);
});
