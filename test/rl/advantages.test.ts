import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  computeGaeAdvantageReturn,
  computeGrpoOutcomeAdvantage,
  computeReinforcePlusPlusBaselineOutcomeAdvantage,
  computeReinforcePlusPlusOutcomeAdvantage,
  computeRemaxOutcomeAdvantage,
  computeRlooOutcomeAdvantage,
} from '../../src/rl/advantages.js';
import { computeAdvantage } from '../../src/rl/estimators.js';
import { assertAllClose, maskFromLengths, rng, uniform, whitenRef } from './helpers.js';

const T = 5;
const lengths = [5, 3, 1, 4];
const B = lengths.length;

/** Rewards and values zero on padding, as the trainer produces them (right padding, docs/verl-compat.md#critic-mask). */
function rollout(seed: number, responseLength = T, lens = lengths) {
  const rand = rng(seed);
  const m = maskFromLengths(lens, responseLength);
  const r = uniform(rand, m.length, -1, 1).map((v, k) => v * m[k]!);
  const v = uniform(rand, m.length, -2, 2).map((x, k) => x * m[k]!);
  return { r, v, m };
}

function gaeRef(r: Float64Array, v: Float64Array, m: Float64Array, L: number, gamma: number, lam: number) {
  const rows = r.length / L;
  const adv = new Float64Array(r.length);
  const ret = new Float64Array(r.length);
  for (let i = 0; i < rows; i++) {
    for (let t = 0; t < L; t++) {
      // direct sum A_t = Σ_l (γλ)^l δ_{t+l}, not the recursion the code uses
      let a = 0;
      for (let l = 0; t + l < L; l++) {
        const k = i * L + t + l;
        const next = t + l + 1 < L ? v[k + 1]! : 0;
        a += (gamma * lam) ** l * (r[k]! + gamma * next - v[k]!);
      }
      adv[i * L + t] = a;
      ret[i * L + t] = m[i * L + t] ? a + v[i * L + t]! : 0;
    }
  }
  return { advantages: whitenRef(adv, m), returns: ret };
}

test('GAE matches the direct-sum float64 reference for γ=0.9, λ=0.8', () => {
  const { r, v, m } = rollout(2);
  const got = computeGaeAdvantageReturn({ tokenLevelRewards: r, values: v, responseMask: m, responseLength: T, gamma: 0.9, lam: 0.8 });
  const ref = gaeRef(r, v, m, T, 0.9, 0.8);
  assertAllClose(got.advantages, ref.advantages, 1e-6, 1e-5, 'advantages');
  assertAllClose(got.returns, ref.returns, 1e-6, 1e-5, 'returns');
});

test('GAE with γ = λ = 1: returns − values is reward-to-go minus value on valid tokens', () => {
  const { r, v, m } = rollout(3);
  const got = computeGaeAdvantageReturn({ tokenLevelRewards: r, values: v, responseMask: m, responseLength: T, gamma: 1, lam: 1 });
  const raw = new Float64Array(r.length);
  for (let i = 0; i < B; i++) {
    for (let t = 0; t < lengths[i]!; t++) {
      let rtg = 0;
      for (let k = t; k < lengths[i]!; k++) rtg += r[i * T + k]!;
      raw[i * T + t] = rtg - v[i * T + t]!;
      assert.ok(Math.abs(got.returns[i * T + t]! - v[i * T + t]! - raw[i * T + t]!) < 1e-6, `row ${i} t ${t}`);
    }
  }
  assertAllClose(got.advantages, whitenRef(raw, m), 1e-6, 1e-5, 'whitened RTG − V');
});

test('GAE: a fully masked row changes nothing for the others and is zero itself', () => {
  const { r, v, m } = rollout(4, T, [5, 0, 2]);
  const got = computeGaeAdvantageReturn({ tokenLevelRewards: r, values: v, responseMask: m, responseLength: T, gamma: 1, lam: 1 });
  const keep = (x: Float64Array) => Float64Array.from([...x.slice(0, T), ...x.slice(2 * T)]);
  const without = computeGaeAdvantageReturn({
    tokenLevelRewards: keep(r), values: keep(v), responseMask: keep(m), responseLength: T, gamma: 1, lam: 1,
  });
  assertAllClose(keep(Float64Array.from(got.advantages)), without.advantages, 1e-7, 0, 'other rows');
  assertAllClose(got.advantages.slice(T, 2 * T), new Float64Array(T), 0, 0, 'masked row');
  assertAllClose(got.returns.slice(T, 2 * T), new Float64Array(T), 0, 0, 'masked row returns');
});

test('GAE with responses of length 1, and its refusal of a single valid token', () => {
  const r = new Float64Array([1, 0, 0.5]);
  const v = new Float64Array([0.2, 0.4, -0.1]);
  const m = new Float64Array([1, 1, 1]);
  const got = computeGaeAdvantageReturn({ tokenLevelRewards: r, values: v, responseMask: m, responseLength: 1, gamma: 0.9, lam: 0.95 });
  assertAllClose(got.returns, r, 1e-7, 0, 'returns = r when T = 1');
  assertAllClose(got.advantages, whitenRef([0.8, -0.4, 0.6], m), 1e-6, 1e-5);
  assert.throws(
    () => computeGaeAdvantageReturn({ tokenLevelRewards: r.slice(0, 1), values: v.slice(0, 1), responseMask: m.slice(0, 1), responseLength: 1, gamma: 1, lam: 1 }),
    /sums to one/,
  );
});

/** Outcome-score reference: rewards spread over tokens so the score is a real sum. */
function outcomeBatch() {
  const L = 3;
  // groups: a (3 samples, distinct), b (2 identical), c (singleton), d (2 distinct)
  const index = ['a', 'b', 'a', 'c', 'b', 'a', 'd', 'd'];
  const lens = [3, 2, 1, 3, 3, 2, 0, 1];
  const m = maskFromLengths(lens, L);
  const scores = [1, 0.5, 0, 0.7, 0.5, 0.25, 2, -1];
  const r = new Float64Array(m.length);
  scores.forEach((s, i) => {
    r[i * L] = s / 2;
    r[i * L + L - 1] += s / 2; // on a padded position for short rows: veRL sums all positions
  });
  return { L, index, m, r, scores };
}

function groupStats(scores: number[], index: string[], i: number) {
  const members = scores.filter((_, j) => index[j] === index[i]);
  const n = members.length;
  const mean = members.reduce((a, b) => a + b, 0) / n;
  const std = Math.sqrt(members.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  return { n, mean, std };
}

function broadcast(perRow: number[], m: Float64Array, L: number) {
  return m.map((mk, k) => perRow[Math.floor(k / L)]! * mk);
}

test('GRPO: unbiased std, ε = 1e-6, singleton mean 0 std 1, identical scores give 0', () => {
  const { L, index, m, r, scores } = outcomeBatch();
  const expected = scores.map((s, i) => {
    const { n, mean, std } = groupStats(scores, index, i);
    return n === 1 ? s / (1 + 1e-6) : (s - mean) / (std + 1e-6);
  });
  const got = computeGrpoOutcomeAdvantage({ tokenLevelRewards: r, responseMask: m, responseLength: L, index });
  assertAllClose(got.advantages, broadcast(expected, m, L), 1e-6, 1e-5);
  assert.equal(got.returns, got.advantages);
  // group b (rows 1, 4) scored identically
  for (const k of [3, 4, 12, 13, 14]) assert.equal(got.advantages[k], 0);
  // group d has two samples 2 and −1: the unbiased std is 3/√2, so ±1/√2, not ±1 (biased)
  assert.ok(Math.abs(got.advantages[21]! + Math.SQRT1_2) < 1e-5);
});

test('GRPO with normAdvByStdInGrpo = false (Dr. GRPO) only centres', () => {
  const { L, index, m, r, scores } = outcomeBatch();
  const expected = scores.map((s, i) => {
    const { n, mean } = groupStats(scores, index, i);
    return n === 1 ? s : s - mean;
  });
  const got = computeGrpoOutcomeAdvantage({ tokenLevelRewards: r, responseMask: m, responseLength: L, index, normAdvByStdInGrpo: false });
  assertAllClose(got.advantages, broadcast(expected, m, L), 1e-6, 1e-5);
});

test('GRPO with a response of length 1 and one group of one', () => {
  const got = computeGrpoOutcomeAdvantage({
    tokenLevelRewards: new Float64Array([0.3]), responseMask: new Float64Array([1]), responseLength: 1, index: [7],
  });
  assertAllClose(got.advantages, [0.3 / (1 + 1e-6)], 1e-7, 0);
});

test('RLOO: each sample minus the mean of the others; singleton keeps its score', () => {
  const { L, index, m, r, scores } = outcomeBatch();
  const expected = scores.map((s, i) => {
    const others = scores.filter((_, j) => j !== i && index[j] === index[i]);
    return others.length === 0 ? s : s - others.reduce((a, b) => a + b, 0) / others.length;
  });
  const got = computeRlooOutcomeAdvantage({ tokenLevelRewards: r, responseMask: m, responseLength: L, index });
  assertAllClose(got.advantages, broadcast(expected, m, L), 1e-6, 1e-5);
});

test('REINFORCE++-baseline: centre per group, whiten over the batch', () => {
  const { L, index, m, r, scores } = outcomeBatch();
  const centred = scores.map((s, i) => {
    const { n, mean } = groupStats(scores, index, i);
    return n === 1 ? s : s - mean;
  });
  const got = computeReinforcePlusPlusBaselineOutcomeAdvantage({ tokenLevelRewards: r, responseMask: m, responseLength: L, index });
  assertAllClose(got.advantages, whitenRef(broadcast(centred, m, L), m), 1e-6, 1e-5);
});

test('REINFORCE++: discounted returns reset after EOS, whitened over the batch', () => {
  const { r, m } = rollout(5);
  r[1 * T + 4] = 9; // reward on a padded position must not leak into the valid tokens
  const gamma = 0.9;
  const G = new Float64Array(r.length);
  for (let i = 0; i < B; i++) {
    for (let t = 0; t < lengths[i]!; t++) {
      let g = 0;
      for (let k = t; k < lengths[i]!; k++) g += gamma ** (k - t) * r[i * T + k]!;
      G[i * T + t] = g;
    }
  }
  const got = computeReinforcePlusPlusOutcomeAdvantage({ tokenLevelRewards: r, responseMask: m, responseLength: T, gamma });
  assertAllClose(got.returns, G, 1e-6, 1e-5, 'returns');
  assertAllClose(got.advantages, whitenRef(G, m), 1e-6, 1e-5, 'advantages');
});

test('ReMax: reward-to-go minus the greedy baseline on valid tokens', () => {
  const { r, m } = rollout(6);
  const b = [0.5, -0.25, 1, 0];
  const got = computeRemaxOutcomeAdvantage({ tokenLevelRewards: r, responseMask: m, responseLength: T, rewardBaselines: b });
  for (let i = 0; i < B; i++) {
    for (let t = 0; t < T; t++) {
      let g = 0;
      for (let k = t; k < lengths[i]!; k++) g += r[i * T + k]!;
      const valid = t < lengths[i]!;
      assert.ok(Math.abs(got.returns[i * T + t]! - (valid ? g : 0)) < 1e-6);
      assert.ok(Math.abs(got.advantages[i * T + t]! - (valid ? g - b[i]! : 0)) < 1e-6);
    }
  }
});

test('registry: config names dispatch, missing inputs and unknown names throw', () => {
  const { L, index, m, r } = outcomeBatch();
  const direct = computeGrpoOutcomeAdvantage({ tokenLevelRewards: r, responseMask: m, responseLength: L, index });
  const viaName = computeAdvantage('grpo', { tokenLevelRewards: r, responseMask: m, responseLength: L, index });
  assert.deepEqual(viaName.advantages, direct.advantages);
  assert.throws(() => computeAdvantage('grpo', { tokenLevelRewards: r, responseMask: m, responseLength: L }), /needs index/);
  assert.throws(() => computeAdvantage('gae', { tokenLevelRewards: r, responseMask: m, responseLength: L }), /needs values/);
  assert.throws(() => computeAdvantage('remax', { tokenLevelRewards: r, responseMask: m, responseLength: L }), /rewardBaselines/);
  assert.throws(() => computeAdvantage('toString', { tokenLevelRewards: r, responseMask: m, responseLength: L }), /unknown adv_estimator/);
  const gaeDefault = computeAdvantage('gae', { tokenLevelRewards: r, responseMask: m, responseLength: L, values: new Float64Array(r.length) });
  const gae11 = computeGaeAdvantageReturn({ tokenLevelRewards: r, values: new Float64Array(r.length), responseMask: m, responseLength: L, gamma: 1, lam: 1 });
  assert.deepEqual(gaeDefault.advantages, gae11.advantages, 'gamma and lam default to TinyZero\'s 1.0');
});
