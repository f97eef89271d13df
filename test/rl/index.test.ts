import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as rl from '../../src/rl/index.js';

test('the public API exports the veRL-named functions and registries', () => {
  for (const name of [
    'computeGaeAdvantageReturn', 'computeGrpoOutcomeAdvantage', 'computeRlooOutcomeAdvantage',
    'computeReinforcePlusPlusOutcomeAdvantage', 'computeReinforcePlusPlusBaselineOutcomeAdvantage',
    'computeRemaxOutcomeAdvantage', 'computeAdvantage', 'computePolicyLoss', 'computeValueLoss',
    'computeEntropyLoss', 'computeKlLoss', 'klPenalty', 'applyKlPenalty', 'computeActorLoss', 'aggLoss',
    'maskedMean', 'maskedWhiten', 'computeDataMetrics', 'filterGroups', 'overlongPenalty', 'getKlController',
  ]) {
    assert.equal(typeof (rl as Record<string, unknown>)[name], 'function', name);
  }
  assert.deepEqual(Object.keys(rl.advantageEstimators).sort(), [
    'gae', 'grpo', 'reinforce_plus_plus', 'reinforce_plus_plus_baseline', 'remax', 'rloo',
  ]);
  assert.deepEqual(Object.keys(rl.policyLossFns), ['vanilla']);
});
