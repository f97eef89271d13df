// The continuous-batching decoder: requests that join a running batch at different steps, with
// different prompt lengths, sampling settings and seeds, and rows that leave at eos, at their own
// max_new_tokens or retired, each decode what generate() decodes for the request alone; top-k
// log-probs equal the model's log-softmax computed in float64. On the reference backend (the
// definition) and the CPU backend.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../src/backend/backend.js';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import { generate, rowSeed, StepDecoder, type DecodeRequest, type RowToken } from '../../src/generation/index.js';
import { parseModelConfig } from '../../src/models/config.js';
import { CausalLM } from '../../src/models/llama.js';
import * as T from '../../src/tensor/index.js';
import { llamaLogitsF64 } from '../helpers/llama-f64.js';
import { decodeAlone } from '../helpers/decode-alone.js';

const config = parseModelConfig({
  model_type: 'qwen2', vocab_size: 301, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2,
  num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, tie_word_embeddings: true,
  eos_token_id: 1, pad_token_id: 0,
});
// Forty stop ids, so that rows finish at different steps.
const eos = Array.from({ length: 40 }, (_, i) => i + 1);

const request = (promptIds: number[], over: Partial<DecodeRequest>): DecodeRequest => ({
  promptIds, n: 1, maxNewTokens: 10, sampling: { temperature: 0, topK: -1, topP: 1 }, seed: 0, ignoreEos: false, topLogprobs: 0, ...over,
});

/** The requests, each admitted before the step given, decoded to the end; tokens per request and row. */
async function decode(model: CausalLM, plan: { at: number; request: DecodeRequest }[], retire: { at: number; index: number; row?: number }[] = []) {
  const decoder = new StepDecoder(model, { eosTokenIds: eos, padTokenId: 0 });
  const handles: number[] = [];
  const rows = new Map<number, RowToken[][]>();
  const take = (tokens: RowToken[]): void => {
    for (const t of tokens) {
      const list = rows.get(t.request)!;
      (list[t.row] ??= []).push(t);
    }
  };
  let step = 0;
  let maxRows = 0;
  try {
    while (step === 0 || !decoder.idle || plan.some((p) => p.at >= step)) {
      const joining = plan.filter((p) => p.at === step);
      if (joining.length > 0) {
        const { handles: hs, tokens } = await decoder.admit(joining.map((p) => p.request));
        hs.forEach((h, i) => {
          handles[plan.indexOf(joining[i]!)] = h;
          rows.set(h, Array.from({ length: joining[i]!.request.n }, () => []));
        });
        take(tokens);
      }
      for (const r of retire.filter((x) => x.at === step)) {
        const live = decoder.activeRows;
        if (r.row === undefined) decoder.retire(handles[r.index]!);
        else {
          decoder.retireRow(handles[r.index]!, r.row);
          assert.equal(decoder.activeRows, live - 1, 'a retired row leaves the batch at once');
        }
      }
      maxRows = Math.max(maxRows, decoder.activeRows);
      take(await decoder.step());
      step++;
    }
  } finally {
    decoder.dispose();
  }
  return { rows: plan.map((_, i) => rows.get(handles[i]!)!), steps: step, maxRows };
}

const alone = (model: CausalLM, q: DecodeRequest) => decodeAlone(model, q, eos);

const plan = [
  { at: 0, request: request([5, 9, 200, 17], { maxNewTokens: 14 }) },
  { at: 0, request: request([44, 3], { n: 2, seed: 11, sampling: { temperature: 1, topK: 20, topP: 1 }, maxNewTokens: 9 }) },
  { at: 2, request: request([300, 299, 7, 8, 120, 6, 77, 91, 12], { maxNewTokens: 5, ignoreEos: true }) },
  { at: 2, request: request([5, 9, 200, 17], { n: 3, seed: 4, sampling: { temperature: 0.8, topK: -1, topP: 0.9 }, maxNewTokens: 12, ignoreEos: true }) },
  { at: 5, request: request([61], { seed: 9, sampling: { temperature: 1.2, topK: -1, topP: 1 }, maxNewTokens: 20, ignoreEos: true }) },
  { at: 7, request: request([250, 251, 252], { maxNewTokens: 3 }) },
];

const cpu = await CpuBackend.create({ threads: 2 });
after(() => cpu.destroy());

for (const [name, make, tolerance] of [['reference', () => new ReferenceBackend(), 0], ['cpu', () => cpu, 1e-5]] as [string, () => Backend, number][]) {
  describe(`StepDecoder on the ${name} backend`, () => {
    test('requests joining and leaving a running batch decode what generate() decodes for each alone', async () => {
      T.setBackend(make());
      const model = new CausalLM(config, { seed: 3 });
      const got = await decode(model, plan);
      assert.ok(got.maxRows >= 5, `the batch held ${got.maxRows} rows at most: the requests did not run together`);
      for (const [i, { request: q }] of plan.entries()) {
        const want = await alone(model, q);
        assert.equal(got.rows[i]!.length, want.length, `request ${i}: rows`);
        want.forEach((w, r) => {
          const row = got.rows[i]![r]!;
          assert.deepEqual(row.map((t) => t.token), w.ids, `request ${i} row ${r}: tokens`);
          row.forEach((t, k) => assert.ok(Math.abs(t.logprob - w.logprobs[k]!) <= tolerance * Math.max(1, Math.abs(w.logprobs[k]!)),
            `request ${i} row ${r} token ${k}: log-prob ${t.logprob} against ${w.logprobs[k]}`));
          assert.equal(row.at(-1)!.finished, true, `request ${i} row ${r} ends finished`);
          assert.ok(row.slice(0, -1).every((t) => !t.finished));
          assert.equal(row.at(-1)!.endedAtEos, !q.ignoreEos && eos.includes(row.at(-1)!.token));
        });
      }
      // Otherwise leaving at eos (and the compaction it triggers) would go untested.
      const early = plan.flatMap((p, i) => got.rows[i]!.filter((row) => row.length < p.request.maxNewTokens)).length;
      assert.ok(early >= 1, 'no row ended at eos before its max_new_tokens');
    });

    test('a row retired alone (a stop string) leaves the batch; its siblings and the other requests draw as before', async () => {
      T.setBackend(make());
      const model = new CausalLM(config, { seed: 3 });
      const full = await decode(model, plan);
      // Request 3: n = 3, sampled with a seed; its row 1 leaves after its 3rd token.
      const cut = await decode(model, plan, [{ at: 4, index: 3, row: 1 }]);
      const tokens = (rows: RowToken[][]) => rows.map((row) => row.map((t) => t.token));
      assert.deepEqual(tokens(cut.rows[3]!)[1], tokens(full.rows[3]!)[1]!.slice(0, 3), 'the retired row stopped where it was');
      assert.ok(full.rows[3]![1]!.length > 3);
      assert.deepEqual([0, 2].map((r) => tokens(cut.rows[3]!)[r]), [0, 2].map((r) => tokens(full.rows[3]!)[r]), 'its siblings');
      for (const i of [0, 1, 2, 4, 5]) assert.deepEqual(tokens(cut.rows[i]!), tokens(full.rows[i]!), `request ${i}`);
    });

    test('a retired request leaves without changing the others', async () => {
      T.setBackend(make());
      const model = new CausalLM(config, { seed: 3 });
      const full = await decode(model, plan);
      const cut = await decode(model, plan, [{ at: 4, index: 3 }]);
      assert.ok(cut.rows[3]!.every((row) => row.length < 12), 'the retired request stopped');
      for (const i of [0, 1, 2, 4, 5]) {
        assert.deepEqual(cut.rows[i]!.map((row) => row.map((t) => t.token)), full.rows[i]!.map((row) => row.map((t) => t.token)), `request ${i}`);
      }
    });
  });
}

test('top-k log-probs equal log softmax(logits / T) of the model in float64', async () => {
  T.setBackend(cpu);
  const model = new CausalLM(config, { seed: 3 });
  const state = await model.stateDict();
  const weights = (n: string): Float64Array | null => (state.has(n) ? Float64Array.from(state.get(n)!.data) : null);
  const qs = [
    request([5, 9, 200, 17], { topLogprobs: 5, maxNewTokens: 6, ignoreEos: true }),
    request([44, 3, 8], { topLogprobs: 3, seed: 2, sampling: { temperature: 0.7, topK: -1, topP: 1 }, maxNewTokens: 6, ignoreEos: true }),
    request([61], { maxNewTokens: 6 }),
  ];
  const got = await decode(model, qs.map((request) => ({ at: 0, request })));
  let checked = 0;
  qs.forEach((q, i) => {
    const row = got.rows[i]![0]!;
    if (q.topLogprobs === 0) {
      assert.ok(row.every((t) => t.top === null));
      return;
    }
    const ids = [...q.promptIds, ...row.map((t) => t.token)];
    const logits = llamaLogitsF64(config, weights, ids);
    const temp = q.sampling.temperature > 0 ? q.sampling.temperature : 1;
    row.forEach((t, k) => {
      const z = Array.from(logits[q.promptIds.length - 1 + k]!, (v) => v / temp);
      const max = Math.max(...z);
      const lse = max + Math.log(z.reduce((s, v) => s + Math.exp(v - max), 0));
      const want = z.map((v, id) => ({ id, logprob: v - lse })).sort((a, b) => b.logprob - a.logprob || a.id - b.id).slice(0, q.topLogprobs);
      assert.equal(t.top!.length, q.topLogprobs);
      t.top!.forEach((a, j) => {
        assert.ok(Math.abs(a.logprob - want[j]!.logprob) < 1e-4, `request ${i} token ${k} alternative ${j}: ${a.logprob} against ${want[j]!.logprob}`);
        // Ids may only swap where two alternatives tie within the float32 error.
        if (a.id !== want[j]!.id) assert.ok(Math.abs(want[j]!.logprob - (z[a.id]! - lse)) < 1e-4, `request ${i} token ${k}: id ${a.id} against ${want[j]!.id}`);
      });
      assert.ok(t.top!.some((a) => a.id === t.token) || t.logprob <= t.top!.at(-1)!.logprob + 1e-6, 'the sampled token is listed or less likely than all listed');
      assert.ok(Math.abs(t.logprob - (z[t.token]! - lse)) < 1e-4, `request ${i} token ${k}: sampled log-prob`);
      checked++;
    });
  });
  assert.equal(checked, 12);
});

test('rowSeed: sample 0 keeps the seed; other samples get streams of their own, not shared with neighbouring seeds', async () => {
  assert.equal(rowSeed(7, 0), 7);
  assert.equal(rowSeed(2 ** 40 + 3, 0), 2 ** 40 + 3);
  const seeds = [0, 1, 2, 7, -1, 2 ** 32, 2 ** 40 + 3].flatMap((s) => Array.from({ length: 8 }, (_, r) => rowSeed(s, r)));
  assert.equal(new Set(seeds).size, seeds.length, 'no two (seed, sample) pairs share a stream');
  assert.ok(seeds.every((s) => Number.isSafeInteger(s)));
  assert.throws(() => rowSeed(1.5, 1), /seed must be a safe integer/);
  assert.throws(() => rowSeed(1, -1), /row must be a non-negative integer/);
  // generate's rowStreams: sample j draws what a one-sample generation seeded with rowSeed(seed, j) draws.
  T.setBackend(new ReferenceBackend());
  const model = new CausalLM(config, { seed: 3 });
  const options = { maxNewTokens: 8, temperature: 1, ignoreEos: true, eosTokenIds: eos, padTokenId: 0 };
  const rows = (out: Awaited<ReturnType<typeof generate>>) => Array.from({ length: out.rows }, (_, r) => Array.from(out.responseIds.subarray(r * out.width, (r + 1) * out.width)));
  const three = rows(await generate(model, [[5, 9, 200]], { ...options, n: 3, seed: 11, rowStreams: true }));
  for (let j = 0; j < 3; j++) assert.deepEqual(three[j], rows(await generate(model, [[5, 9, 200]], { ...options, seed: rowSeed(11, j) }))[0], `sample ${j}`);
  assert.notDeepEqual(three, rows(await generate(model, [[5, 9, 200]], { ...options, n: 3, seed: 11 })), 'one shared stream draws otherwise');
});
