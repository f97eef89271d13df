// `tinyzero serve` answering the official openai client: completions (text and ids), chat, streaming,
// n > 1, seeds, logprobs, stop strings, on the bundled Countdown base model.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad, tensor, tidy } from '../../src/tensor/index.js';
import { choiceIds, referenceRows, startFixture, type Fixture } from './fixture.js';

const prompt = 'Using the numbers [3, 5, 7], create an equation that equals 22.';

describe('tinyzero serve with the openai client', () => {
  let f: Fixture;
  before(async () => {
    // Answers are compared bit for bit with generate() and with each other: without the prefix
    // cache, whose prefill from a stored prefix rounds differently (test/serve/prefix-cache.test.ts).
    f = await startFixture({ prefixCacheBytes: 0 });
  });
  after(async () => {
    await f.close();
  });

  test('greedy text completion equals generate() on the same prompt: ids, text, log-probs', async () => {
    const ids = f.tokenizer.encode(prompt, { addSpecialTokens: false });
    const [want] = await referenceRows(f, ids, { maxNewTokens: 24, temperature: 0 });
    const r = await f.client.completions.create({ model: 'countdown-base', prompt, max_tokens: 24, temperature: 0, logprobs: 1, ...{ return_tokens_as_token_ids: true } });
    const c = r.choices[0]!;
    assert.deepEqual(choiceIds(c.logprobs?.tokens), want!.ids);
    assert.equal(c.text, f.tokenizer.decode(want!.ids, { skipSpecialTokens: true }));
    assert.deepEqual(c.logprobs?.token_logprobs, want!.logprobs);
    assert.equal(c.finish_reason, want!.ids.at(-1) === f.tokenizer.eosTokenId ? 'stop' : 'length');
    assert.equal(r.usage?.prompt_tokens, ids.length);
    assert.equal(r.usage?.completion_tokens, want!.ids.length);
    assert.equal(r.object, 'text_completion');
    assert.match(r.id, /^cmpl-/);
  });

  test('a token-id prompt gives the same answer as its text', async () => {
    const ids = f.tokenizer.encode(prompt, { addSpecialTokens: false });
    const byText = await f.client.completions.create({ model: 'countdown-base', prompt, max_tokens: 12, temperature: 0 });
    const byIds = await f.client.completions.create({ model: 'countdown-base', prompt: ids, max_tokens: 12, temperature: 0 });
    assert.equal(byIds.choices[0]!.text, byText.choices[0]!.text);
    assert.equal(byIds.usage?.prompt_tokens, ids.length);
  });

  test('n > 1 with a seed draws what generate() draws with that seed and per-row streams, and again on a repeat', async () => {
    const ids = f.tokenizer.encode('1+2=', { addSpecialTokens: false });
    const want = await referenceRows(f, ids, { maxNewTokens: 10, temperature: 0.9, topP: 0.95, topK: 40, n: 3, seed: 7, rowStreams: true });
    const ask = () => f.client.completions.create({ model: 'countdown-base', prompt: ids, max_tokens: 10, temperature: 0.9, top_p: 0.95, n: 3, seed: 7, logprobs: 0, ...{ top_k: 40, return_tokens_as_token_ids: true } });
    const r = await ask();
    assert.equal(r.choices.length, 3);
    r.choices.forEach((c, i) => {
      assert.equal(c.index, i);
      assert.deepEqual(choiceIds(c.logprobs?.tokens), want[i]!.ids);
      assert.deepEqual(c.logprobs?.token_logprobs, want[i]!.logprobs);
      assert.equal(c.logprobs?.top_logprobs, null, 'logprobs 0: no alternatives');
    });
    assert.ok(new Set(want.map((w) => w.ids.join(','))).size > 1, 'the samples differ');
    assert.deepEqual((await ask()).choices.map((c) => c.text), r.choices.map((c) => c.text));
  });

  test('log-probs are log softmax(logits / T) of a full forward pass over prompt + response', async () => {
    const ids = f.tokenizer.encode('9*4=', { addSpecialTokens: false });
    const T = 0.7;
    const r = await f.client.completions.create({ model: 'countdown-base', prompt: ids, max_tokens: 8, temperature: T, seed: 3, logprobs: 1, ...{ return_tokens_as_token_ids: true, ignore_eos: true } });
    const c = r.choices[0]!;
    const out = choiceIds(c.logprobs?.tokens);
    const all = [...ids, ...out];
    const V = f.reference.config.vocab_size;
    const logits = tidy(() => noGrad(() => f.reference.forward(tensor(Int32Array.from(all), [1, all.length]), {
      positions: tensor(Int32Array.from(all, (_, i) => i), [1, all.length]),
    }).dataSync()));
    out.forEach((tok, t) => {
      const row = Array.from(logits.subarray((ids.length - 1 + t) * V, (ids.length + t) * V), (z) => z / T);
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((s, z) => s + Math.exp(z - max), 0));
      assert.ok(Math.abs(c.logprobs!.token_logprobs![t]! - (row[tok]! - lse)) < 1e-4, `token ${t}: ${c.logprobs!.token_logprobs![t]} vs ${row[tok]! - lse}`);
      // logprobs: 1 lists the most likely token, and the sampled one when it is another (as vLLM).
      const best = row.indexOf(max);
      const top = c.logprobs!.top_logprobs![t]!;
      assert.deepEqual(Object.keys(top), best === tok ? [`token_id:${tok}`] : [`token_id:${best}`, `token_id:${tok}`]);
      assert.ok(Math.abs(top[`token_id:${best}`]! - (max - lse)) < 1e-4);
    });
    assert.equal(c.logprobs!.text_offset![0], 0);
  });

  test('streaming chunks reassemble to the non-streamed answer at temperature 0 (n = 2, two prompts)', async () => {
    const prompts = ['3+4=', '12-5=']
    const whole = await f.client.completions.create({ model: 'countdown-base', prompt: prompts, max_tokens: 16, temperature: 0, n: 2, logprobs: 1 });
    const stream = await f.client.completions.create({ model: 'countdown-base', prompt: prompts, max_tokens: 16, temperature: 0, n: 2, logprobs: 1, stream: true, stream_options: { include_usage: true } });
    const text = ['', '', '', ''];
    const lps: number[][] = [[], [], [], []];
    const finish: (string | null)[] = [null, null, null, null];
    let usage = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) {
        text[c.index] += c.text;
        lps[c.index]!.push(...(c.logprobs?.token_logprobs ?? []));
        if (c.finish_reason) finish[c.index] = c.finish_reason;
      }
    }
    assert.equal(whole.choices.length, 4);
    assert.ok(chunks > 4, 'one chunk per token');
    whole.choices.forEach((c, i) => {
      assert.equal(text[i], c.text);
      assert.deepEqual(lps[i], c.logprobs?.token_logprobs);
      assert.equal(finish[i], c.finish_reason);
    });
    assert.deepEqual(usage, whole.usage);
    assert.equal(whole.choices[0]!.text, whole.choices[1]!.text, 'greedy: both samples of a prompt agree');
  });

  test('chat completions use the chat template: the answer equals a completion of the rendered prompt, streamed too', async () => {
    const messages = [{ role: 'user' as const, content: 'What is 6+7?' }];
    const rendered = '<|im_start|>user\nWhat is 6+7?<|im_end|>\n<|im_start|>assistant\n';
    const chat = await f.client.chat.completions.create({ model: 'countdown-base', messages, max_tokens: 12, temperature: 0, logprobs: true, top_logprobs: 1 });
    const plain = await f.client.completions.create({ model: 'countdown-base', prompt: f.tokenizer.encode(rendered, { addSpecialTokens: false }), max_tokens: 12, temperature: 0, logprobs: 1 });
    const c = chat.choices[0]!;
    assert.equal(chat.object, 'chat.completion');
    assert.equal(c.message.role, 'assistant');
    assert.equal(c.message.content, plain.choices[0]!.text);
    assert.deepEqual(c.logprobs?.content?.map((e) => e.logprob), plain.choices[0]!.logprobs?.token_logprobs);
    assert.equal(c.logprobs?.content?.[0]?.top_logprobs.length, 1);
    let streamed = '';
    let role = '';
    for await (const chunk of await f.client.chat.completions.create({ model: 'countdown-base', messages, max_tokens: 12, temperature: 0, stream: true })) {
      const d = chunk.choices[0]?.delta;
      if (d?.role) role = d.role;
      streamed += d?.content ?? '';
    }
    assert.equal(role, 'assistant');
    assert.equal(streamed, c.message.content);
  });

  test('stop strings cut the text and the tokens; stop_token_ids end a row', async () => {
    const ids = f.tokenizer.encode(prompt, { addSpecialTokens: false });
    const full = await f.client.completions.create({ model: 'countdown-base', prompt: ids, max_tokens: 24, temperature: 0, logprobs: 1, ...{ return_tokens_as_token_ids: true, ignore_eos: true } });
    const text = full.choices[0]!.text;
    const fullIds = choiceIds(full.choices[0]!.logprobs?.tokens);
    const stop = text.slice(3, 5);
    assert.equal(stop.length, 2);
    const cut = await f.client.completions.create({ model: 'countdown-base', prompt: ids, max_tokens: 24, temperature: 0, stop: [stop], logprobs: 1, ...{ return_tokens_as_token_ids: true, ignore_eos: true } });
    const c = cut.choices[0]!;
    assert.equal(c.text, text.slice(0, text.indexOf(stop)));
    assert.equal(c.finish_reason, 'stop');
    assert.equal((c as unknown as { stop_reason: unknown }).stop_reason, stop);
    const kept = choiceIds(c.logprobs?.tokens);
    assert.deepEqual(kept, fullIds.slice(0, kept.length));
    assert.ok(f.tokenizer.decode(kept).includes(stop) && !f.tokenizer.decode(kept.slice(0, -1)).includes(stop), 'the last kept token completes the stop string');
    const byId = await f.client.completions.create({ model: 'countdown-base', prompt: ids, max_tokens: 24, temperature: 0, logprobs: 1, ...{ return_tokens_as_token_ids: true, ignore_eos: true, stop_token_ids: [fullIds[4]!] } });
    const first = fullIds.indexOf(fullIds[4]!);
    assert.deepEqual(choiceIds(byId.choices[0]!.logprobs?.tokens), fullIds.slice(0, first + 1));
    assert.equal(byId.choices[0]!.finish_reason, 'stop');
  });

  test('GET /v1/models lists the served model with its context length and weight version', async () => {
    const list = await f.client.models.list();
    assert.deepEqual(list.data.map((m) => m.id), ['countdown-base']);
    assert.equal((list.data[0] as unknown as { max_model_len: number }).max_model_len, 512);
    const health = await (await fetch(`${f.server.url}/health`)).json() as { status: string; weight_version: number };
    assert.equal(health.status, 'ok');
    assert.equal(health.weight_version, 0);
  });
});
