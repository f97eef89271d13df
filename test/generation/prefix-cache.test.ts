// Prompt prefix caching: prompts prefilled from the end of a stored prefix (kept across decoders, as
// the server keeps it across batches) decode what generate() decodes for each alone, whether the
// stored prefix is part of the prompt, the whole prompt, or longer than it, alone or beside rows
// without a hit; eviction keeps the cache within its bytes and least recently used entries go first.
// On the reference backend (bit for bit) and the CPU backend.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../src/backend/backend.js';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import { StepDecoder, type DecodeRequest, type RowToken } from '../../src/generation/index.js';
import { PrefixCache } from '../../src/generation/prefix-cache.js';
import { parseModelConfig } from '../../src/models/config.js';
import { KVCache } from '../../src/models/kv-cache.js';
import { CausalLM } from '../../src/models/llama.js';
import * as T from '../../src/tensor/index.js';
import { decodeAlone } from '../helpers/decode-alone.js';

const config = parseModelConfig({
  model_type: 'qwen2', vocab_size: 301, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2,
  num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, tie_word_embeddings: true,
  eos_token_id: 1, pad_token_id: 0,
});
const eos = Array.from({ length: 40 }, (_, i) => i + 1);
// Bytes of one cached position of this model: layers x (k, v) x kv heads x head dim x 4.
const perToken = 2 * 2 * 2 * 16 * 4;

const request = (promptIds: number[], over: Partial<DecodeRequest> = {}): DecodeRequest => ({
  promptIds, n: 1, maxNewTokens: 8, sampling: { temperature: 0, topK: -1, topP: 1 }, seed: 0, ignoreEos: true, topLogprobs: 0, ...over,
});

/** The requests decoded together by a fresh decoder sharing `prefixCache`; tokens per request and row. */
async function decodeBatch(model: CausalLM, prefixCache: PrefixCache, requests: DecodeRequest[]) {
  const decoder = new StepDecoder(model, { eosTokenIds: eos, padTokenId: 0, prefixCache });
  const rows = new Map<number, RowToken[][]>();
  const take = (tokens: RowToken[]): void => {
    for (const t of tokens) (rows.get(t.request)![t.row] ??= []).push(t);
  };
  try {
    const { handles, tokens } = await decoder.admit(requests);
    handles.forEach((h, i) => rows.set(h, Array.from({ length: requests[i]!.n }, () => [])));
    take(tokens);
    while (!decoder.idle) take(await decoder.step());
    return { rows: handles.map((h) => rows.get(h)!), cached: decoder.cachedPromptTokens, prompt: decoder.promptTokens };
  } finally {
    decoder.dispose();
  }
}

const alone = (model: CausalLM, q: DecodeRequest) => decodeAlone(model, q, eos);

const A = [5, 9, 200, 17, 33, 2, 140, 77];
const sampled = { n: 2, seed: 7, sampling: { temperature: 1, topK: -1, topP: 1 } };
// Batches in order, each decoded by a fresh decoder; `cached`: the prompt tokens the cache must
// supply (a pass computes the most positions one of its rows needs, and the others take the
// positions before those from the cache).
const batches: { requests: DecodeRequest[]; cached: number }[] = [
  { requests: [request(A)], cached: 0 },
  // 4 tokens shared with A (2 computed); the whole of A (its last position computed again, so 6 of
  // its 7 stored ones taken, the pass being 2 long); a prompt that A is longer than.
  { requests: [request([5, 9, 200, 17, 80, 81]), request(A, sampled), request([5, 9, 200])], cached: 4 + 2 * 6 + 1 },
  // Prompts without a hit make the pass 7 long (the shorter one left-padded in it): 2 of the 6
  // stored tokens of the first are used.
  { requests: [request([5, 9, 200, 17, 80, 81, 82, 83, 84]), request([250, 251, 252, 253, 254, 255, 256]), request([260, 261])], cached: 2 },
  // Hits of different lengths in one pass of 2.
  { requests: [request([5, 9, 200, 17, 80, 81, 82, 90, 91]), request([250, 251, 252, 253, 254, 255, 256], sampled), request(A)], cached: 7 + 2 * 5 + 6 },
];

const cpu = await CpuBackend.create({ threads: 2 });
after(() => cpu.destroy());

for (const [name, make, tolerance] of [['reference', () => new ReferenceBackend(), 0], ['cpu', () => cpu, 1e-5]] as [string, () => Backend, number][]) {
  describe(`prefix caching on the ${name} backend`, () => {
    test('prompts prefilled from stored prefixes decode what generate() decodes for each alone', async () => {
      T.setBackend(make());
      const model = new CausalLM(config, { seed: 3 });
      const cache = new PrefixCache(1 << 20);
      try {
        for (const [b, batch] of batches.entries()) {
          const got = await decodeBatch(model, cache, batch.requests);
          assert.equal(got.cached, batch.cached, `batch ${b}: prompt tokens taken from the cache`);
          for (const [i, q] of batch.requests.entries()) {
            const want = await alone(model, q);
            want.forEach((w, r) => {
              const row = got.rows[i]![r]!;
              assert.deepEqual(row.map((t) => t.token), w.ids, `batch ${b} request ${i} row ${r}: tokens`);
              row.forEach((t, k) => assert.ok(Math.abs(t.logprob - w.logprobs[k]!) <= tolerance * Math.max(1, Math.abs(w.logprobs[k]!)),
                `batch ${b} request ${i} row ${r} token ${k}: log-prob ${t.logprob} against ${w.logprobs[k]}`));
            });
          }
        }
        assert.equal(cache.entries, 6, 'the distinct prompts are stored once each');
      } finally {
        cache.dispose();
      }
      assert.equal(cache.bytes, 0);
    });
  });
}

describe('PrefixCache', () => {
  /** A cache of `rows` rows x `len` columns whose key at (row, column, head 0, dim 0) is 1000 row + column. */
  function source(rows: number, len: number): KVCache {
    const cache = new KVCache(2, rows, len, 2, 16, cpu);
    for (const t of [...cache.keys, ...cache.values]) {
      const data = new Float32Array(t.size);
      for (let r = 0; r < rows; r++) for (let c = 0; c < len; c++) data[((r * len + c) * 2) * 16] = 1000 * r + c;
      T.copyInto(T.tensor(data, t.shape as number[], 'f32', cpu), t, false);
    }
    cache.length = len;
    return cache;
  }
  const keyAt = async (cache: KVCache, row: number, col: number): Promise<number> =>
    (await cache.keys[1]!.data() as Float32Array)[((row * cache.maxLen + col) * 2) * 16]!;

  test('finds the longest stored prefix, at most the limit, with its columns', async () => {
    T.setBackend(cpu);
    const cache = new PrefixCache(1 << 20);
    const src = source(3, 5);
    try {
      // Row 1 holds a 3-token prompt right-aligned (columns 2..4); row 2 a 5-token one.
      cache.store(src, [{ tokens: [7, 8, 9], row: 1 }, { tokens: [7, 8, 4, 5, 6], row: 2 }]);
      assert.equal(cache.entries, 2);
      assert.equal(cache.bytes, 2 * 5 * perToken);
      assert.equal(cache.lookup([1, 2]), null);
      const hit = cache.lookup([7, 8, 9, 10])!;
      assert.equal(hit.length, 3);
      assert.deepEqual([await keyAt(hit.cache, hit.row, hit.start), await keyAt(hit.cache, hit.row, hit.start + 2)], [1002, 1004]);
      const other = cache.lookup([7, 8, 4, 5, 6], 4)!;
      assert.equal(other.length, 4, 'limited to 4');
      assert.deepEqual([await keyAt(other.cache, other.row, other.start), await keyAt(other.cache, other.row, other.start + 3)], [2000, 2003]);
      assert.equal(cache.lookup([7, 8, 1])!.length, 2, 'a prefix shared by both entries');
      assert.ok(cache.has([7, 8, 4]) && cache.has([7, 8, 9]) && !cache.has([7, 8, 9, 1]));
      cache.store(src, [{ tokens: [7, 8, 9], row: 0 }]);
      assert.equal(cache.entries, 2, 'a stored prompt is not stored again');
    } finally {
      cache.dispose();
      src.dispose();
    }
  });

  test('evicts the least recently used entries to stay within its bytes; a set too large is not stored', async () => {
    T.setBackend(cpu);
    const cache = new PrefixCache(2 * 4 * perToken);
    const src = source(2, 4);
    try {
      cache.store(src, [{ tokens: [1, 2, 3, 4], row: 0 }]);
      cache.store(src, [{ tokens: [5, 6, 7, 8], row: 1 }]);
      assert.equal(cache.lookup([1, 2, 3, 4])!.length, 4, 'used: [5..8] is now the least recently used');
      cache.store(src, [{ tokens: [9, 10, 11, 12], row: 0 }]);
      assert.equal(cache.entries, 2);
      assert.ok(cache.bytes <= cache.maxBytes);
      assert.ok(cache.has([1, 2, 3, 4]) && cache.has([9, 10, 11, 12]) && !cache.has([5]), 'the least recently used went');
      assert.equal(await keyAt(cache.lookup([9, 10, 11, 12])!.cache, 0, 0), 0);
      const three = source(3, 4);
      cache.store(three, [{ tokens: [20, 1, 2], row: 0 }, { tokens: [21, 1, 2], row: 1 }, { tokens: [22, 1, 2], row: 2 }]);
      three.dispose();
      assert.ok(!cache.has([20]) && cache.entries === 2, 'three prompts of 3 tokens exceed the bytes: not stored');
    } finally {
      cache.dispose();
      src.dispose();
    }
    assert.equal(cache.entries, 0);
  });
});
