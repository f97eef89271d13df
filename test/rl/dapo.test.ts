import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dynamicSamplingDecision, filterGroups, overlongPenalty } from '../../src/rl/dapo.js';
import { assertClose } from './helpers.js';

test('filterGroups drops groups whose samples all score the same, keeps singletons, keeps order', () => {
  const index = ['a', 'b', 'a', 'c', 'b', 'd', 'd', 'e', 'e'];
  const acc = [1, 0, 0, 1, 0, 1, 1, 0.1 + 0.2, 0.3];
  const got = filterGroups(index, acc);
  // a varies; b all 0; c singleton; d all 1; e: 0.1 + 0.2 ≠ 0.3 in floating point, so it varies
  assert.deepEqual(got.keptIndices, [0, 2, 3, 7, 8]);
  assert.deepEqual(got.keptUids, ['a', 'c', 'e']);
  assert.deepEqual(filterGroups([1, 1], [0.5, 0.5]).keptIndices, []);
});

test('dynamicSamplingDecision: generate until enough groups, then train; give up past the limit', () => {
  const base = { trainBatchSize: 8, maxNumGenBatches: 3 };
  assert.equal(dynamicSamplingDecision({ ...base, numPromptsInBatch: 5, numGenBatches: 1 }), 'generate');
  assert.equal(dynamicSamplingDecision({ ...base, numPromptsInBatch: 9, numGenBatches: 3 }), 'train');
  assert.throws(() => dynamicSamplingDecision({ ...base, numPromptsInBatch: 5, numGenBatches: 3 }), /max_num_gen_batches/);
  assert.equal(dynamicSamplingDecision({ ...base, maxNumGenBatches: 0, numPromptsInBatch: 0, numGenBatches: 99 }), 'generate');
});

test('overlongPenalty is linear over the last buffer tokens and 0 before', () => {
  // max 20, buffer 4: expected length 16
  assert.equal(overlongPenalty(10, 20, 4, 1), 0);
  assert.equal(overlongPenalty(16, 20, 4, 1), 0);
  assertClose(overlongPenalty(18, 20, 4, 1), -0.5, 1e-15);
  assertClose(overlongPenalty(20, 20, 4, 2), -2, 1e-15);
  assert.throws(() => overlongPenalty(1, 20, 0, 1), /len must be > 0/);
});
