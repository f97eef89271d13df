// DAPO dynamic sampling's accumulation over generation batches, with fake generation batches whose
// filter metric is chosen per row: which groups survive, how many batches are drawn, the truncation
// to train_batch_size·n rows, and the error past max_num_gen_batches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assembleBatch, type ScoredBatch } from '../../src/trainer/batch.js';
import { concatBatches, selectRows } from '../../src/trainer/batch-rows.js';
import { collectFilteredBatch, filterMetricValues, type GeneratedBatch } from '../../src/trainer/dynamic-sampling.js';
import type { PromptRow } from '../../src/trainer/dataset.js';

const P = 3;
const R = 2;

/** A generation batch of `groups.length` prompts × n; group g's rows get metric values groups[g]; prompt text "b<batch>p<g>". */
function fakeBatch(genBatch: number, groups: number[][]): GeneratedBatch<ScoredBatch> {
  const n = groups[0]!.length;
  const prompts: PromptRow[] = groups.map((_, g) => ({ ids: [1, 2 + g], text: `b${genBatch}p${g}`, dataSource: 'x', groundTruth: null, index: g }));
  const rows = groups.length * n;
  const batch: ScoredBatch = {
    ...assembleBatch({
      prompts: prompts.flatMap((p) => Array.from({ length: n }, () => p)),
      uid: prompts.flatMap((_, g) => Array.from({ length: n }, () => g)),
      promptLength: P, responseLength: R,
      responseIds: Int32Array.from({ length: rows * R }, (_, i) => 100 + i), responseMask: new Float32Array(rows * R).fill(1),
      width: R, padTokenId: 0,
    }),
    taskScores: Float64Array.from(groups.flat()),
    overlongPenalties: null,
    // A per-row field set before filtering must move with its row: the row's metric in its last column.
    tokenLevelScores: new Float32Array(rows * R),
  };
  groups.flat().forEach((v, r) => { batch.tokenLevelScores![r * R + R - 1] = v; });
  batch.rewardBaselines = Float32Array.from({ length: rows }, (_, r) => genBatch * 1000 + r);
  return { batch, metric: groups.flat() };
}

test('dynamic sampling keeps varied groups across generation batches and truncates to train_batch_size·n', async () => {
  // n = 2, 3 prompts per generation batch, train_batch_size 3.
  const plan: Record<number, number[][]> = {
    5: [[1, 1], [0, 1], [0, 0]], // keeps p1
    6: [[0, 0], [0, 0], [1, 1]], // keeps nothing
    7: [[0.1, 1], [1, 0], [0, 0.1]], // keeps all three: 4 kept, truncated to 3
  };
  const drawn: number[] = [];
  const out = await collectFilteredBatch({
    firstGenBatch: 5, trainBatchSize: 3, n: 2, maxNumGenBatches: 0,
    generate: async (g) => {
      drawn.push(g);
      return fakeBatch(g, plan[g]!);
    },
  });
  assert.deepEqual(drawn, [5, 6, 7], 'generation batches are drawn in data order from the given position');
  assert.equal(out.numGenBatches, 3);
  assert.equal(out.numGenPrompts, 9);
  assert.equal(out.numKeptPrompts, 4);
  const b = out.batch;
  assert.equal(b.rows, 6, 'exactly train_batch_size·n rows');
  assert.deepEqual(b.prompts.map((p) => p.text), ['b5p1', 'b5p1', 'b7p0', 'b7p0', 'b7p1', 'b7p1']);
  assert.deepEqual(b.uid, [0, 0, 1, 1, 2, 2], 'groups renumbered in the order kept');
  // Row fields moved with their rows.
  assert.deepEqual(Array.from(b.rewardBaselines!), [5002, 5003, 7000, 7001, 7002, 7003]);
  assert.deepEqual(Array.from({ length: 6 }, (_, r) => b.tokenLevelScores![r * R + R - 1]), [0, 1, 0.1, 1, 1, 0].map(Math.fround));
  assert.deepEqual(Array.from(b.responses.subarray(0, 2)), [104, 105], "b5p1's first sample is row 2 of its batch");
  assert.equal(b.inputIds.length, 6 * (P + R));
  assert.equal(b.promptMask.length, 6 * P);
});

test('one generation batch is enough when it has train_batch_size varied groups', async () => {
  const out = await collectFilteredBatch({
    firstGenBatch: 1, trainBatchSize: 2, n: 3, maxNumGenBatches: 1,
    generate: async (g) => fakeBatch(g, [[0, 1, 0], [1, 1, 1], [0, 0, 1]]),
  });
  assert.equal(out.numGenBatches, 1);
  assert.deepEqual(out.batch.prompts.map((p) => p.text), ['b1p0', 'b1p0', 'b1p0', 'b1p2', 'b1p2', 'b1p2']);
});

test('dynamic sampling stops with an error naming max_num_gen_batches when too few groups vary', async () => {
  let calls = 0;
  await assert.rejects(collectFilteredBatch({
    firstGenBatch: 1, trainBatchSize: 4, n: 2, maxNumGenBatches: 3,
    generate: async (g) => {
      calls++;
      return fakeBatch(g, [[1, 1], [0, 1], [0, 0]]);
    },
  }), /3 generation batches gave 3 < 4 prompt groups .*algorithm\.filter_groups\.max_num_gen_batches \(≤ 0 = unlimited\)/);
  assert.equal(calls, 3);
});

test('filterMetricValues: acc and score are the task score, seq_reward sums the scores, seq_final_reward the rewards', () => {
  const tokenLevelScores = Float32Array.from([0.5, 0.25, 0, 1]);
  const tokenLevelRewards = Float32Array.from([0.5, 0, 0, 0.5]);
  const b = { rows: 2, responseLength: 2, taskScores: [1, 0], tokenLevelScores, tokenLevelRewards };
  assert.deepEqual(filterMetricValues('acc', b), [1, 0]);
  assert.deepEqual(filterMetricValues('score', b), [1, 0]);
  assert.deepEqual(filterMetricValues('seq_reward', b), [0.75, 1]);
  assert.deepEqual(filterMetricValues('seq_final_reward', b), [0.5, 0.5]);
  assert.deepEqual(filterMetricValues('seq_final_reward', { ...b, tokenLevelRewards: null }), [0.75, 1], 'no KL in the reward: rewards are the scores');
});

test('selectRows and concatBatches keep rows whole and refuse mismatched batches', () => {
  const a = fakeBatch(1, [[0, 1], [1, 1]]).batch;
  const b = fakeBatch(2, [[1, 0]]).batch;
  const joined = concatBatches([a, b]);
  assert.equal(joined.rows, 6);
  assert.deepEqual(Array.from(selectRows(joined, [5, 0]).rewardBaselines!), [2001, 1000]);
  assert.deepEqual(Array.from(selectRows(joined, [4]).inputIds), Array.from(b.inputIds.subarray(0, P + R)));
  const noScores = { ...b, tokenLevelScores: undefined };
  assert.throws(() => concatBatches([a, noScores]), /different fields/);
});
