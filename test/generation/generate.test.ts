import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import { generate, sampleToken } from '../../src/generation/index.js';
import { parseModelConfig } from '../../src/models/config.js';
import { CausalLM } from '../../src/models/llama.js';
import { Prng } from '../../src/util/prng.js';
import * as T from '../../src/tensor/index.js';

const config = parseModelConfig({
  model_type: 'qwen2', vocab_size: 12, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2,
  num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, tie_word_embeddings: true,
  eos_token_id: 1, pad_token_id: 0,
});

function makeModel(): CausalLM {
  T.setBackend(new ReferenceBackend());
  return new CausalLM(config, { seed: 11 });
}

/** Logits of the last position by a full forward pass over `ids` (no cache, no padding). */
function lastLogits(model: CausalLM, ids: number[]): Float64Array {
  return T.tidy(() => T.noGrad(() => {
    const logits = model.forward(T.tensor(Int32Array.from(ids), [1, ids.length]), {
      positions: T.tensor(Int32Array.from(ids, (_, i) => i), [1, ids.length]),
    });
    const all = logits.dataSync();
    return Float64Array.from(all.subarray((ids.length - 1) * config.vocab_size));
  }));
}

function logSoftmaxAt(z: Float64Array, i: number, temperature = 1): number {
  const max = Math.max(...z);
  const lse = Math.log(z.reduce((s, v) => s + Math.exp((v - max) / temperature), 0));
  return (z[i]! - max) / temperature - lse;
}

describe('generate', () => {
  test('greedy decoding with the KV cache equals full recomputation, with correct log-probs', async () => {
    const model = makeModel();
    const prompt = [3, 7, 2, 9, 4];
    const out = await generate(model, [prompt], { maxNewTokens: 6, temperature: 0, ignoreEos: true });
    const seq = prompt.slice();
    for (let t = 0; t < 6; t++) {
      const z = lastLogits(model, seq);
      const argmax = z.indexOf(Math.max(...z));
      assert.equal(out.responseIds[t], argmax, `token ${t}`);
      assert.ok(Math.abs(out.logprobs[t]! - logSoftmaxAt(z, argmax)) < 1e-5, `logprob ${t}`);
      seq.push(argmax);
    }
    model.dispose();
  });

  test('left padding: a batch of prompts of different lengths generates what each prompt generates alone', async () => {
    const model = makeModel();
    const prompts = [[5, 6], [2, 3, 4, 8, 9, 10], [7]];
    const batched = await generate(model, prompts, { maxNewTokens: 5, temperature: 0, ignoreEos: true });
    for (let i = 0; i < prompts.length; i++) {
      const alone = await generate(model, [prompts[i]!], { maxNewTokens: 5, temperature: 0, ignoreEos: true });
      assert.deepEqual(Array.from(batched.responseIds.subarray(i * 5, i * 5 + 5)), Array.from(alone.responseIds));
      for (let t = 0; t < 5; t++) assert.ok(Math.abs(batched.logprobs[i * 5 + t]! - alone.logprobs[t]!) < 1e-5);
    }
    model.dispose();
  });

  test('sampling: n per prompt, reproducible for a seed, stops at eos with the eos in the mask', async () => {
    const model = makeModel();
    const opts = { maxNewTokens: 8, temperature: 1.5, n: 4, seed: 7, eosTokenIds: [1, 5] };
    const a = await generate(model, [[3, 4], [9]], opts);
    const b = await generate(model, [[3, 4], [9]], opts);
    assert.equal(a.rows, 8);
    assert.deepEqual(a.promptIds.map((p) => p.join(',')), ['3,4', '3,4', '3,4', '3,4', '9', '9', '9', '9']);
    assert.deepEqual(Array.from(a.responseIds), Array.from(b.responseIds));
    let sawEos = false;
    for (let r = 0; r < a.rows; r++) {
      const len = a.lengths[r]!;
      for (let t = 0; t < a.width; t++) {
        const id = a.responseIds[r * a.width + t]!;
        assert.equal(a.responseMask[r * a.width + t], t < len ? 1 : 0);
        if (t < len - 1) assert.ok(id !== 1 && id !== 5, 'no eos before the end');
        if (t >= len) assert.equal(id, 0, 'padding after the end');
      }
      const last = a.responseIds[r * a.width + len - 1]!;
      if (len < 8) assert.ok(last === 1 || last === 5, 'a short response ends with an eos');
      sawEos ||= len < 8;
    }
    assert.ok(sawEos, 'with two stop tokens of twelve, some row stops early');
    const c = await generate(model, [[3, 4], [9]], { ...opts, seed: 8 });
    assert.notDeepEqual(Array.from(c.responseIds), Array.from(a.responseIds));
    model.dispose();
  });

  test('finished rows leave the decode batch: every row draws what it draws with eos ignored, up to its eos', async () => {
    const model = makeModel();
    const prompts = [[3, 4], [9], [2, 6, 8, 10]];
    for (const sampleOn of ['host', 'device'] as const) {
      // One stream per row, so a row's draws do not depend on which other rows are still decoding.
      const opts = { maxNewTokens: 12, temperature: 1.5, n: 4, seed: 5, eosTokenIds: [1, 5], rowStreams: true, sampleOn };
      const stopped = await generate(model, prompts, opts);
      const full = await generate(model, prompts, { ...opts, ignoreEos: true });
      const early = stopped.lengths.filter((len) => len < stopped.width).length;
      assert.ok(early * 4 >= stopped.rows, `${sampleOn}: a quarter of the rows stop before the longest (${stopped.lengths.join(',')}), so the batch is compacted`);
      for (let r = 0; r < stopped.rows; r++) {
        for (let t = 0; t < stopped.lengths[r]!; t++) {
          assert.equal(stopped.responseIds[r * stopped.width + t], full.responseIds[r * full.width + t], `${sampleOn}: row ${r} token ${t}`);
          assert.ok(Math.abs(stopped.logprobs[r * stopped.width + t]! - full.logprobs[r * full.width + t]!) < 1e-5, `${sampleOn}: row ${r} log-prob ${t}`);
        }
      }
    }
    model.dispose();
  });

  test('bad arguments are named', async () => {
    const model = makeModel();
    await assert.rejects(generate(model, [[3, 99]], { maxNewTokens: 2 }), /prompt 0 has token id 99 outside \[0, 12\)/);
    await assert.rejects(generate(model, [[3]], { maxNewTokens: 2, topP: 0 }), /top_p must be in \(0, 1\]/);
    await assert.rejects(generate(model, [[3]], { maxNewTokens: 100 }), /exceeds the model's 64 positions/);
    model.dispose();
  });
});

describe('sampleToken', () => {
  const logits = Float32Array.from([2.0, 1.0, 0.5, -1.0, 0.0]);
  const probs = (t: number): number[] => {
    const e = Array.from(logits, (z) => Math.exp(z / t));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / s);
  };

  function frequencies(params: { temperature: number; topK: number; topP: number }, draws = 20000): number[] {
    const rng = new Prng(1);
    const counts = new Array<number>(logits.length).fill(0);
    for (let i = 0; i < draws; i++) counts[sampleToken(logits, 0, logits.length, params, rng).token]!++;
    return counts.map((c) => c / draws);
  }

  test('plain sampling follows softmax(logits / T)', () => {
    const f = frequencies({ temperature: 0.8, topK: -1, topP: 1 });
    probs(0.8).forEach((p, i) => assert.ok(Math.abs(f[i]! - p) < 0.015, `token ${i}: ${f[i]} vs ${p}`));
  });

  test('top-k keeps the k best tokens, renormalised', () => {
    const f = frequencies({ temperature: 1, topK: 2, topP: 1 });
    const p = probs(1);
    const z = p[0]! + p[1]!;
    assert.ok(Math.abs(f[0]! - p[0]! / z) < 0.015);
    assert.ok(Math.abs(f[1]! - p[1]! / z) < 0.015);
    assert.equal(f[2]! + f[3]! + f[4]!, 0);
  });

  test('top-p keeps the smallest prefix reaching p', () => {
    const p = probs(1);
    // p = [0.563, 0.207, 0.126, 0.028, 0.076]: top-p 0.8 keeps tokens 0, 1 and 2 (0.563 + 0.207 < 0.8).
    const f = frequencies({ temperature: 1, topK: -1, topP: 0.8 });
    const z = p[0]! + p[1]! + p[2]!;
    [0, 1, 2].forEach((i) => assert.ok(Math.abs(f[i]! - p[i]! / z) < 0.015, `token ${i}`));
    assert.equal(f[3]! + f[4]!, 0);
  });

  test('greedy picks the arg-max; the log-prob is of softmax(logits / T)', () => {
    const rng = new Prng(1);
    const g = sampleToken(logits, 0, 5, { temperature: 0, topK: -1, topP: 1 }, rng);
    assert.equal(g.token, 0);
    assert.ok(Math.abs(g.logprob - Math.log(probs(1)[0]!)) < 1e-12);
    const s = sampleToken(logits, 0, 5, { temperature: 0.5, topK: 1, topP: 1 }, rng);
    assert.equal(s.token, 0);
    assert.ok(Math.abs(s.logprob - Math.log(probs(0.5)[0]!)) < 1e-12);
  });
});
