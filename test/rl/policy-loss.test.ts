import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lossAggModes } from '../../src/rl/agg.js';
import { computePolicyLoss, policyLossFns, type PolicyLossConfig } from '../../src/rl/policy-loss.js';
import { assertAllClose, assertClose, centralDiff, maskFromLengths, rng, uniform } from './helpers.js';
import { aggLoss } from '../../src/rl/agg.js';

/** Token-level reference, straight from the formulas (docs/verl-compat.md#policy-loss). */
function tokenRef(logp: number, old: number, a: number, cfg: PolicyLossConfig) {
  const lo = 1 - (cfg.clipRatioLow ?? cfg.clipRatio);
  const hi = 1 + (cfg.clipRatioHigh ?? cfg.clipRatio);
  let lr = logp - old;
  if (cfg.clipRatioC !== undefined) lr = Math.max(-20, Math.min(20, lr));
  const ratio = Math.exp(lr);
  const l1 = -a * ratio;
  const l2 = -a * Math.max(lo, Math.min(hi, ratio));
  const lmax = Math.max(l1, l2);
  let loss = lmax;
  let lower = 0;
  if (cfg.clipRatioC !== undefined && a < 0) {
    loss = Math.min(lmax, -a * cfg.clipRatioC);
    lower = lmax > -a * cfg.clipRatioC ? 1 : 0;
  }
  return { loss, clipped: l2 > l1 ? 1 : 0, lower, kl: -lr };
}

function fixture(seed: number, lens: number[], T: number) {
  const rand = rng(seed);
  const m = maskFromLengths(lens, T);
  const old = uniform(rand, m.length, -3, -0.1);
  // log-ratios in ±1.5: ratios 0.22..4.5, crossing both clip bounds and the dual-clip constants
  const logp = old.map((o) => o + (rand() * 3 - 1.5));
  const adv = uniform(rand, m.length, -2, 2);
  return { m, old, logp, adv };
}

const configs: PolicyLossConfig[] = [
  { clipRatio: 0.2 },
  { clipRatio: 0.2, clipRatioHigh: 0.28 },
  { clipRatio: 0.2, clipRatioC: 3 },
  { clipRatio: 0.2, clipRatioLow: 0.1, clipRatioHigh: 0.3, clipRatioC: 2 },
];

for (const cfg of configs) {
  for (const mode of lossAggModes) {
    test(`policy loss ${JSON.stringify(cfg)} ${mode}: value, metrics, gradient`, () => {
      const T = 6;
      const lens = [6, 3, 0, 1, 5];
      const { m, old, logp, adv } = fixture(21, lens, T);
      const args = { oldLogProb: old, responseMask: m, advantages: adv, responseLength: T };
      const got = computePolicyLoss({ ...args, logProb: logp }, { ...cfg, lossAggMode: mode });

      const per = Array.from(logp, (lp, k) => tokenRef(lp, old[k]!, adv[k]!, cfg));
      const valid = Array.from(m).filter((v) => v > 0).length;
      const meanOver = (f: (p: (typeof per)[number]) => number) => per.reduce((s, p, k) => s + (m[k] ? f(p) : 0), 0) / valid;
      assertClose(got.pgLoss, aggLoss(per.map((p) => p.loss), m, T, mode), 1e-12, 1e-10, 'pg_loss');
      assertClose(got.metrics.pg_clipfrac, meanOver((p) => p.clipped), 1e-12, 0, 'pg_clipfrac');
      assertClose(got.metrics.ppo_kl, meanOver((p) => p.kl), 1e-12, 1e-10, 'ppo_kl');
      assertClose(got.metrics.pg_clipfrac_lower, meanOver((p) => p.lower), 1e-12, 0, 'pg_clipfrac_lower');
      assert.ok(got.metrics.pg_clipfrac > 0, 'the fixture must exercise clipping');
      if (cfg.clipRatioC !== undefined) assert.ok(got.metrics.pg_clipfrac_lower > 0, 'the fixture must exercise the dual clip');
      else assert.equal(got.metrics.pg_clipfrac_lower, 0);

      const f = (lp: Float64Array) => computePolicyLoss({ ...args, logProb: lp }, { ...cfg, lossAggMode: mode }).pgLoss;
      assertAllClose(got.dLogProb, centralDiff(f, logp), 1e-6, 1e-4, 'dLogProb');
      for (let k = 0; k < m.length; k++) if (!m[k]) assert.equal(got.dLogProb[k], 0);
    });
  }
}

test('clip-higher: ratio 1.25 with A > 0 is clipped at ε = 0.2 but not at ε_high = 0.28', () => {
  const args = {
    oldLogProb: new Float64Array([0]), logProb: new Float64Array([Math.log(1.25)]),
    advantages: new Float64Array([1]), responseMask: new Float64Array([1]), responseLength: 1,
  };
  const sym = computePolicyLoss(args, { clipRatio: 0.2 });
  assertClose(sym.pgLoss, -1.2, 1e-12);
  assert.equal(sym.metrics.pg_clipfrac, 1);
  assert.equal(sym.dLogProb[0], 0);
  const high = computePolicyLoss(args, { clipRatio: 0.2, clipRatioHigh: 0.28 });
  assertClose(high.pgLoss, -1.25, 1e-12);
  assert.equal(high.metrics.pg_clipfrac, 0);
  assertClose(high.dLogProb[0]!, -1.25, 1e-6);
});

test('dual clip caps a negative-advantage token at −A·c; TinyZero (no c) does not', () => {
  const args = {
    oldLogProb: new Float64Array([0, 0]), logProb: new Float64Array([Math.log(5), Math.log(0.5)]),
    advantages: new Float64Array([-1, -1]), responseMask: new Float64Array([1, 1]), responseLength: 2,
  };
  const dual = computePolicyLoss(args, { clipRatio: 0.2, clipRatioC: 3 });
  // token 0: max(5, 1.2) = 5 capped to 3; token 1: max(0.5, 0.8) = 0.8 (clipped, below c)
  assertClose(dual.pgLoss, (3 + 0.8) / 2, 1e-12);
  assert.equal(dual.metrics.pg_clipfrac_lower, 0.5);
  assert.equal(dual.metrics.pg_clipfrac, 0.5);
  assert.deepEqual(Array.from(dual.dLogProb), [0, 0]);
  const plain = computePolicyLoss(args, { clipRatio: 0.2 });
  assertClose(plain.pgLoss, (5 + 0.8) / 2, 1e-12);
  assertClose(plain.dLogProb[0]!, 5 / 2, 1e-6);
  assert.throws(() => computePolicyLoss(args, { clipRatio: 0.2, clipRatioC: 1 }), /clip_ratio_c/);
});

test('all-masked batch: zero loss, zero metrics, zero gradient; registry has vanilla', () => {
  const z = new Float64Array(4);
  const got = computePolicyLoss({ oldLogProb: z, logProb: z.map(() => 1), advantages: z.map(() => 1), responseMask: z, responseLength: 2 }, { clipRatio: 0.2 });
  assert.equal(got.pgLoss, 0);
  assert.deepEqual(got.metrics, { pg_clipfrac: 0, ppo_kl: 0, pg_clipfrac_lower: 0 });
  assert.deepEqual(Array.from(got.dLogProb), [0, 0, 0, 0]);
  assert.equal(policyLossFns.vanilla, computePolicyLoss);
});
