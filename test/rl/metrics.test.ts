import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeDataMetrics } from '../../src/rl/metrics.js';
import { assertClose, maskFromLengths, rng, uniform } from './helpers.js';

test('computeDataMetrics: veRL names and values against a float64 reference', () => {
  const T = 4;
  const P = 3;
  const lens = [4, 2, 1, 4];
  const promptLens = [3, 1, 2, 3];
  const m = maskFromLengths(lens, T);
  const pm = maskFromLengths(promptLens, P);
  const rand = rng(81);
  const scores = uniform(rand, m.length, 0, 1).map((x, k) => x * m[k]!);
  const rewards = scores.map((s) => s - 0.01);
  const advantages = uniform(rand, m.length, -1, 1);
  const returns = uniform(rand, m.length, -1, 1);
  const values = uniform(rand, m.length, -1, 1);
  advantages[7] = 100; // padded: must not reach the stats
  const got = computeDataMetrics({ tokenLevelScores: scores, tokenLevelRewards: rewards, advantages, returns, values, responseMask: m, responseLength: T, promptMask: pm });

  const rowSum = (x: Float64Array) => lens.map((_, i) => Array.from(x.slice(i * T, (i + 1) * T)).reduce((a, b) => a + b, 0));
  const valid = (x: Float64Array) => Array.from(x).filter((_, k) => m[k]);
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const varU = (a: number[]) => a.reduce((s, v) => s + (v - mean(a)) ** 2, 0) / (a.length - 1);
  const expectStat = (name: string, a: number[]) => {
    assertClose(got[`${name}/mean`]!, mean(a), 1e-12, 1e-10, name);
    assertClose(got[`${name}/max`]!, Math.max(...a), 0, 0, name);
    assertClose(got[`${name}/min`]!, Math.min(...a), 0, 0, name);
  };
  expectStat('critic/score', rowSum(scores));
  expectStat('critic/rewards', rowSum(rewards));
  expectStat('critic/advantages', valid(advantages));
  expectStat('critic/returns', valid(returns));
  expectStat('critic/values', valid(values));
  expectStat('response_length', lens);
  expectStat('prompt_length', promptLens);
  const R = valid(returns);
  const V = valid(values);
  assertClose(got['critic/vf_explained_var']!, 1 - varU(R.map((r, i) => r - V[i]!)) / (varU(R) + 1e-5), 1e-12, 1e-10);
  assert.equal(got['response_length/clip_ratio'], 0.5);
  assert.equal(got['prompt_length/clip_ratio'], 0.5);
  assert.equal(Object.keys(got).length, 5 * 3 + 1 + 2 * 4);
});

test('computeDataMetrics without a critic leaves out values and vf_explained_var', () => {
  const m = new Float64Array([1, 1]);
  const got = computeDataMetrics({
    tokenLevelScores: new Float64Array([0, 1]), tokenLevelRewards: new Float64Array([0, 1]), advantages: m, returns: m,
    responseMask: m, responseLength: 1, promptMask: new Float64Array([1, 0]),
  });
  assert.equal('critic/values/mean' in got, false);
  assert.equal('critic/vf_explained_var' in got, false);
  assert.equal(got['response_length/clip_ratio'], 1);
  assert.equal(got['prompt_length/clip_ratio'], 0.5);
});
