// Token-balanced micro-batches (use_dynamic_bsz): veRL's Karmarkar-Karp partitions, the token
// budget, and the config key each pass names when its budget cannot hold a row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../../src/config/index.js';
import { assembleBatch, type RolloutBatch } from '../../src/trainer/batch.js';
import { logProbBatching, updateBatching, valuesBatching } from '../../src/trainer/batching.js';
import { balancedPartitions, tokenBudgetBatches } from '../../src/trainer/micro-batches.js';
import { splitMicro, type MicroBatching } from '../../src/trainer/ppo-update.js';
import { Rng } from '../helpers/rng.js';

const sum = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0);

test("balancedPartitions gives veRL's partitions, ties and equal sizes included", () => {
  // Expected values: veRL's get_seqlen_balanced_partitions on the same lists (its heap order decides ties).
  const cases: [number[], number, boolean, number[][]][] = [
    [[5, 2, 5, 6, 7], 3, false, [[0, 2], [1, 3], [4]]],
    [[5, 2, 5, 6, 7], 4, false, [[0, 1], [4], [3], [2]]],
    [[10, 3, 3, 8, 1, 9, 4, 4], 3, false, [[4, 5, 7], [1, 2, 3], [0, 6]]],
    [[4, 4, 4, 4, 4, 4], 4, false, [[1, 2], [0, 3], [5], [4]]],
    [[7, 1, 6, 2, 5, 3, 4, 8], 4, true, [[1, 7], [4, 6], [2, 5], [0, 3]]],
    [[30, 12, 55, 12, 40, 21, 9, 33, 18, 27, 12, 48], 5, false, [[1, 2], [0, 6, 9], [3, 5, 7], [10, 11], [4, 8]]],
    [[30, 12, 55, 12, 40, 21, 9, 33, 18, 27, 12, 48], 3, true, [[2, 3, 9, 10], [1, 4, 5, 7], [0, 6, 8, 11]]],
  ];
  for (const [lengths, k, equal, want] of cases) assert.deepEqual(balancedPartitions(lengths, k, equal), want, `${lengths} into ${k}${equal ? ', equal sizes' : ''}`);
});

test('balancedPartitions: every index once, no empty partition, sums within the longest item of each other', () => {
  const rng = new Rng(11);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + rng.int(80);
    const k = 1 + rng.int(Math.min(n, 12));
    const lengths = Array.from({ length: n }, () => 1 + rng.int(trial % 2 ? 300 : 20));
    const equal = n % k === 0 && trial % 3 === 0;
    const parts = balancedPartitions(lengths, k, equal);
    assert.equal(parts.length, k);
    assert.deepEqual(parts.flat().sort((a, b) => a - b), lengths.map((_, i) => i));
    for (const p of parts) {
      assert.ok(p.length > 0);
      assert.deepEqual(p, [...p].sort((a, b) => a - b));
      if (equal) assert.equal(p.length, n / k);
    }
    const sums = parts.map((p) => sum(p.map((i) => lengths[i]!)));
    // Partitions come largest first.
    for (let i = 1; i < k; i++) assert.ok(sums[i]! <= sums[i - 1]!, `${sums}`);
    if (!equal) assert.ok(sums[0]! - sums[k - 1]! <= Math.max(...lengths), `spread of ${sums} over ${lengths}`);
  }
  assert.throws(() => balancedPartitions([1, 2], 3), /2 items cannot fill 3 partitions/);
  assert.throws(() => balancedPartitions([1, 2, 3], 2, true), /item count \(3\) to be a multiple of the partitions \(2\)/);
});

test('tokenBudgetBatches: ceil(total / budget) balanced micro-batches as veRL, more only when one would pass the budget', () => {
  const rows = [10, 11, 12, 13, 14, 15, 16, 17];
  const tokens = [10, 3, 3, 8, 1, 9, 4, 4];
  // 42 tokens under 14: veRL's 3 partitions, 14 tokens each, in its order.
  assert.deepEqual(tokenBudgetBatches(rows, tokens, 14, 10), [[14, 15, 17], [11, 12, 13], [10, 16]]);
  assert.equal(tokenBudgetBatches(rows, tokens, 13, 10).length, 4);
  // 25 tokens under 9: veRL's 3 partitions would hold 10 | 8 | 7 (no 3 groups fit: 7 pairs only with 2,
  // then 6 + 5 + 5 is too much for two); 4 partitions (7 | 7 | 6 | 5) do.
  assert.deepEqual(balancedPartitions([5, 2, 5, 6, 7], 3), [[0, 2], [1, 3], [4]]);
  assert.deepEqual(tokenBudgetBatches([0, 1, 2, 3, 4], [5, 2, 5, 6, 7], 9, 7), [[0, 1], [4], [3], [2]]);
  const rng = new Rng(3);
  for (let trial = 0; trial < 100; trial++) {
    const n = 1 + rng.int(64);
    const ids = Array.from({ length: n }, (_, i) => 100 + i);
    const lens = Array.from({ length: n }, () => 1 + rng.int(60));
    const budget = Math.max(...lens) + rng.int(200);
    const got = tokenBudgetBatches(ids, lens, budget, Math.max(...lens));
    assert.deepEqual(got.flat().sort((a, b) => a - b), ids, 'every row once');
    for (const g of got) assert.ok(sum(g.map((r) => lens[r - 100]!)) <= budget, 'within the budget');
    assert.ok(got.length >= Math.ceil(sum(lens) / budget));
  }
  assert.deepEqual(tokenBudgetBatches([], [], 10, 0), []);
  assert.throws(() => tokenBudgetBatches(rows, tokens, 9, 10, 'critic.forward_max_token_len_per_gpu'),
    /^Error: critic\.forward_max_token_len_per_gpu 9 is smaller than one sequence \(10 tokens\)$/);
});

/** Two rows of a 2-token prompt and a 4-token response, all valid: 6 tokens a row. */
function batch(): RolloutBatch {
  const prompts = [0, 1].map((index) => ({ ids: [3, 4], text: '', dataSource: 'test', groundTruth: null, index }));
  return assembleBatch({ prompts, uid: [0, 1], promptLength: 2, responseLength: 4, responseIds: Int32Array.from({ length: 8 }, () => 5),
    responseMask: new Float32Array(8).fill(1), width: 4, padTokenId: 0 });
}

test('each pass names its own token budget key when the budget cannot hold a row', () => {
  // The log-prob and critic keys follow the actor's use_dynamic_bsz (veRL's interpolations).
  const config = resolveConfig({ file: new URL('../../../examples/digit-completion.yaml', import.meta.url).pathname,
    overrides: ['actor_rollout_ref.actor.use_dynamic_bsz=true'] });
  const b = batch();
  const cases: [string, MicroBatching][] = [
    ['actor_rollout_ref.actor.ppo_max_token_len_per_gpu', updateBatching(config, 'actor')],
    ['critic.ppo_max_token_len_per_gpu', updateBatching(config, 'critic')],
    ['actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu', logProbBatching(config, 'rollout', b.rows)],
    ['actor_rollout_ref.ref.log_prob_max_token_len_per_gpu', logProbBatching(config, 'ref', b.rows)],
    ['critic.forward_max_token_len_per_gpu', valuesBatching(config, b.rows)],
  ];
  for (const [key, micro] of cases) {
    assert.equal(micro.useDynamicBsz, true, key);
    // The config's budgets hold the padded length (config/checks.ts); a budget of 5 stands for one that cannot.
    assert.deepEqual(splitMicro(b, [0, 1], micro), [[0, 1]], key);
    for (const removePadding of [false, true]) {
      assert.throws(() => splitMicro(b, [0, 1], { ...micro, maxTokenLen: 5, removePadding }),
        new RegExp(`^Error: ${key.replaceAll('.', '\\.')} 5 is smaller than one sequence \\(6 tokens\\)$`), key);
    }
  }
});
