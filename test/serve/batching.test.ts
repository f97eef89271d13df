// Requests that arrive together are generated together: the same answers as one at a time, in fewer
// generate() calls; incompatible sampling and seeded requests are kept apart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { choiceIds, startFixture, type Fixture } from './fixture.js';

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

  test('requests with different sampling run in separate generations; a seeded request runs alone and reproducibly', async () => {
    const before0 = f.server.stats.generateCalls;
    const [greedy, hot, seededA, seededB] = await Promise.all([
      ask('1+1=', 0),
      ask('1+1=', 0, { temperature: 1.3, seed: undefined }),
      ask('2+2=', 0, { temperature: 1, seed: 5 }),
      ask('2+2=', 0, { temperature: 1, seed: 5 }),
    ]);
    assert.equal(f.server.stats.generateCalls - before0, 4, 'greedy, hot, and each seeded request alone');
    assert.deepEqual(seededA!.choices.map((c) => c.text), seededB!.choices.map((c) => c.text));
    assert.ok(greedy!.choices[0]!.text.length > 0 && hot!.choices[0]!.text.length > 0);
  });
});
