import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeActorLoss, type ActorLossConfig } from '../../src/rl/actor-loss.js';
import { computeEntropyLoss } from '../../src/rl/entropy.js';
import { computeKlLoss } from '../../src/rl/kl.js';
import { computePolicyLoss } from '../../src/rl/policy-loss.js';
import { assertAllClose, assertClose, centralDiff, maskFromLengths, rng, uniform } from './helpers.js';

const T = 5;
const m = maskFromLengths([5, 2, 0, 1], T);
const rand = rng(71);
const old = uniform(rand, m.length, -3, -0.1);
const logp = old.map((o) => o + (rand() - 0.5));
const refLp = old.map((o) => o + (rand() - 0.5));
const adv = uniform(rand, m.length, -1, 1);
const entropy = uniform(rand, m.length, 0, 2);
const cfg: ActorLossConfig = {
  clipRatio: 0.2, entropyCoeff: 0.01, useKlLoss: true, klLossCoef: 0.1, klLossType: 'low_var_kl', lossAggMode: 'seq-mean-token-mean',
};
const base = { oldLogProb: old, advantages: adv, responseMask: m, responseLength: T };

test('actor loss = pg − entropy_coeff·entropy + kl_coef·kl (KL added: docs/verl-compat.md#kl-loss-sign), with veRL metric names', () => {
  const got = computeActorLoss({ ...base, logProb: logp, entropy, refLogProb: refLp }, cfg);
  const pg = computePolicyLoss({ ...base, logProb: logp }, cfg).pgLoss;
  const ent = computeEntropyLoss({ entropy, responseMask: m, responseLength: T }, 'seq-mean-token-mean').entropyLoss;
  const kl = computeKlLoss({ logProb: logp, refLogProb: refLp, responseMask: m, responseLength: T }, 'low_var_kl', 'seq-mean-token-mean').klLoss;
  assert.ok(kl > 0);
  assertClose(got.loss, pg - 0.01 * ent + 0.1 * kl, 1e-12, 1e-12);
  assert.deepEqual(Object.keys(got.metrics).sort(), [
    'actor/entropy_loss', 'actor/kl_coef', 'actor/kl_loss', 'actor/pg_clipfrac', 'actor/pg_clipfrac_lower', 'actor/pg_loss', 'actor/ppo_kl',
  ]);
  assert.equal(got.metrics['actor/kl_loss'], kl);
  assert.equal(got.metrics['actor/kl_coef'], 0.1);
});

test('actor loss gradients with respect to log-probs and entropies match finite differences', () => {
  const got = computeActorLoss({ ...base, logProb: logp, entropy, refLogProb: refLp }, cfg);
  const fLogp = (x: Float64Array) => computeActorLoss({ ...base, logProb: x, entropy, refLogProb: refLp }, cfg).loss;
  const fEnt = (x: Float64Array) => computeActorLoss({ ...base, logProb: logp, entropy: x, refLogProb: refLp }, cfg).loss;
  assertAllClose(got.dLogProb, centralDiff(fLogp, logp), 1e-7, 1e-4, 'dLogProb');
  assert.ok(got.dEntropy);
  assertAllClose(got.dEntropy, centralDiff(fEnt, entropy), 1e-8, 1e-4, 'dEntropy');
});

test('with zero advantages the KL term alone pulls logp toward the reference', () => {
  const zero = adv.map(() => 0);
  const got = computeActorLoss({ ...base, advantages: zero, logProb: logp, refLogProb: refLp }, { ...cfg, entropyCoeff: 0, klLossType: 'kl', lossAggMode: 'token-mean' });
  for (let k = 0; k < m.length; k++) if (m[k]) assert.ok(got.dLogProb[k]! > 0, 'k1 loss grows with logp, so descent lowers it');
  assert.equal(got.dEntropy, null);
  assert.equal('actor/entropy_loss' in got.metrics, false);
});

test('missing inputs throw', () => {
  assert.throws(() => computeActorLoss({ ...base, logProb: logp, refLogProb: refLp }, cfg), /entropy is required/);
  assert.throws(() => computeActorLoss({ ...base, logProb: logp, entropy }, cfg), /refLogProb is required/);
});
