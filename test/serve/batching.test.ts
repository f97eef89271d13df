// Requests that arrive together are decoded together: the same answers as one at a time, in fewer
// batches; requests with other sampling settings or seeds share the batch, and one that arrives
// while a batch decodes joins it (continuous batching).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { choiceIds, referenceRows, startFixture, type Fixture } from './fixture.js';

const prompts = ['1+1=', 'Using the numbers [2, 9, 4]', '7*8=', '<think>', '100-37=', 'Answer: (3 + 4) * 2', '5', '64/8='];

describe('tinyzero serve batching', () => {
  let f: Fixture;
  before(async () => {
    f = await startFixture({ batchWindowMs: 20 });
  });
  after(async () => {
    await f.close();
  });

  const ask = (p: string, i: number, extra: Record<string, unknown> = {}) => f.client.completions.create({
    model: 'countdown-base', prompt: p, max_tokens: 6 + 3 * (i % 4), temperature: 0, logprobs: 1, n: 1 + (i % 2), ...{ return_tokens_as_token_ids: true, ...extra },
  });

  test('concurrent greedy requests equal the same requests one at a time, in fewer generate() calls', async () => {
    const alone: Awaited<ReturnType<typeof ask>>[] = [];
    const before0 = f.server.stats.generateCalls;
    for (const [i, p] of prompts.entries()) alone.push(await ask(p, i));
    assert.equal(f.server.stats.generateCalls - before0, prompts.length, 'one at a time: one generation each');
    const before1 = f.server.stats.generateCalls;
    const together = await Promise.all(prompts.map((p, i) => ask(p, i)));
    const calls = f.server.stats.generateCalls - before1;
    assert.ok(calls < prompts.length / 2, `${prompts.length} concurrent requests took ${calls} generate() calls`);
    together.forEach((r, i) => {
      assert.equal(r.choices.length, 1 + (i % 2));
      r.choices.forEach((c, j) => {
        const a = alone[i]!.choices[j]!;
        assert.deepEqual(choiceIds(c.logprobs?.tokens), choiceIds(a.logprobs?.tokens), `prompt ${i} sample ${j}`);
        assert.equal(c.text, a.text);
        assert.ok(c.logprobs!.token_logprobs!.every((v, t) => Math.abs(v - a.logprobs!.token_logprobs![t]!) < 1e-5));
        assert.ok(c.logprobs!.tokens!.length <= 6 + 3 * (i % 4), 'each request is cut to its own max_tokens');
      });
    });
  });

  test('requests with different sampling and seeds share one batch; a seeded request draws what generate() draws with its seed and per-row streams', async () => {
    const before0 = f.server.stats.generateCalls;
    const ids = f.tokenizer.encode('2+2=', { addSpecialTokens: false });
    const seeded = () => f.client.completions.create({ model: 'countdown-base', prompt: ids, max_tokens: 8, temperature: 1, n: 2, seed: 5, logprobs: 0, ...{ top_k: 30, return_tokens_as_token_ids: true } });
    const [greedy, hot, seededA, seededB] = await Promise.all([ask('1+1=', 0), ask('1+1=', 0, { temperature: 1.3 }), seeded(), seeded()]);
    assert.equal(f.server.stats.generateCalls - before0, 1, 'greedy, hot and seeded requests in one batch');
    const want = await referenceRows(f, ids, { maxNewTokens: 8, temperature: 1, topK: 30, n: 2, seed: 5, rowStreams: true });
    for (const r of [seededA!, seededB!]) assert.deepEqual(r.choices.map((c) => choiceIds(c.logprobs?.tokens)), want.map((w) => w.ids));
    assert.ok(greedy!.choices[0]!.text.length > 0 && hot!.choices[0]!.text.length > 0);
  });

  test('a seeded row that reaches a stop string leaves the batch; every row is the one drawn without the stop, cut at it', async () => {
    const body = { model: 'countdown-base', prompt: 'Using the numbers [6, 2, 9]', max_tokens: 24, temperature: 1, n: 4, seed: 3, logprobs: 0, ...{ ignore_eos: true, return_tokens_as_token_ids: true } };
    const free = await f.client.completions.create(body);
    const texts = free.choices.map((c) => c.text);
    // Row 0's 5th and 6th characters: it stops there; the others stop wherever they hold them, if at all.
    const stop = texts[0]!.slice(4, 6);
    assert.equal(stop.length, 2);
    const decoded0 = f.server.stats.decodedTokens;
    const cut = await f.client.completions.create({ ...body, stop: [stop] });
    const stopped = cut.choices.filter((c) => c.finish_reason === 'stop').length;
    assert.ok(stopped >= 1 && texts.some((t) => !t.includes(stop)) === stopped < 4);
    cut.choices.forEach((c, i) => {
      const at = texts[i]!.indexOf(stop);
      assert.equal(c.text, at < 0 ? texts[i] : texts[i]!.slice(0, at), `row ${i}: text`);
      assert.equal(c.finish_reason, at < 0 ? 'length' : 'stop', `row ${i}: finish_reason`);
      const ids = choiceIds(c.logprobs?.tokens);
      assert.deepEqual(ids, choiceIds(free.choices[i]!.logprobs?.tokens).slice(0, ids.length), `row ${i}: tokens`);
    });
    assert.ok(cut.usage!.completion_tokens < free.usage!.completion_tokens);
    assert.equal(f.server.stats.decodedTokens - decoded0, cut.usage!.completion_tokens, 'no row drew a token after its stop');
  });

  test('a request that arrives while a batch decodes joins it, and answers before the longer one ends', async () => {
    const ids = f.tokenizer.encode('Using the numbers [2, 9, 4]', { addSpecialTokens: false });
    const long = () => f.client.completions.create({ model: 'countdown-base', prompt: ids, max_tokens: 120, temperature: 0, logprobs: 0, ...{ return_tokens_as_token_ids: true, ignore_eos: true } });
    const short = () => f.client.completions.create({ model: 'countdown-base', prompt: '7*8=', max_tokens: 4, temperature: 0, logprobs: 0, ...{ return_tokens_as_token_ids: true, ignore_eos: true } });
    const [longAlone, shortAlone] = [await long(), await short()];
    const calls0 = f.server.stats.generateCalls;
    const order: string[] = [];
    const running = long().then((r) => { order.push('long'); return r; });
    const steps0 = f.server.stats.decodeSteps;
    while (f.server.stats.decodeSteps < steps0 + 5) await new Promise((r) => setTimeout(r, 1));
    const joined = await short().then((r) => { order.push('short'); return r; });
    const longer = await running;
    assert.deepEqual(order, ['short', 'long']);
    assert.equal(f.server.stats.generateCalls - calls0, 1, 'the second request joined the running batch');
    assert.deepEqual(choiceIds(joined.choices[0]!.logprobs?.tokens), choiceIds(shortAlone.choices[0]!.logprobs?.tokens));
    assert.deepEqual(choiceIds(longer.choices[0]!.logprobs?.tokens), choiceIds(longAlone.choices[0]!.logprobs?.tokens));
  });
});
