// The server's prefix cache: a prompt seen before (whole or in part) is prefilled from the end of
// its stored prefix, across batches, and answers as generate() does (the same tokens, the log-probs
// within float32 rounding); a weight update drops the cache; --prefix-cache-mib 0 turns it off.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { choiceIds, post, referenceRows, startFixture, baseModelDir, type Fixture } from './fixture.js';

interface Health {
  prompt_tokens: number;
  cached_prompt_tokens: number;
  prefix_cache_entries: number;
  prefix_cache_bytes: number;
  weight_version: number;
}

const first = 'Using the numbers [3, 5, 7], create an equation that equals 22.';
const sharing = 'Using the numbers [8, 1, 4], create an equation that equals 13.';

describe('tinyzero serve prefix cache', () => {
  let f: Fixture;
  before(async () => {
    f = await startFixture();
  });
  after(async () => {
    await f.close();
  });
  const health = async (): Promise<Health> => (await (await fetch(`${f.server.url}/health`)).json()) as Health;
  const greedy = (prompt: string) => f.client.completions.create({ model: 'countdown-base', prompt, max_tokens: 12, temperature: 0, logprobs: 0, ...{ return_tokens_as_token_ids: true, ignore_eos: true } });

  test('prompts sharing a prefix with earlier ones take it from the cache and answer as generate()', async () => {
    const ids = (p: string): number[] => f.tokenizer.encode(p, { addSpecialTokens: false });
    const shared = ids(first).findIndex((id, i) => id !== ids(sharing)[i]);
    assert.ok(shared >= 10, `the prompts share ${shared} tokens`);
    const h0 = await health();
    // The third asks for the first again: all of it but the last position (which gives the logits) is stored.
    const fromCache = [0, shared, shared + ids(first).length - 1];
    for (const [i, prompt] of [first, sharing, first].entries()) {
      const r = await greedy(prompt);
      const h = await health();
      const [want] = await referenceRows(f, ids(prompt), { maxNewTokens: 12, temperature: 0, ignoreEos: true });
      const c = r.choices[0]!;
      assert.deepEqual(choiceIds(c.logprobs?.tokens), want!.ids, `request ${i}: tokens`);
      c.logprobs!.token_logprobs!.forEach((lp, k) => assert.ok(Math.abs(lp! - want!.logprobs[k]!) < 1e-5, `request ${i} token ${k}: ${lp} against ${want!.logprobs[k]}`));
      assert.equal(h.prompt_tokens - h0.prompt_tokens, [first, sharing, first].slice(0, i + 1).reduce((s, p) => s + ids(p).length, 0));
      assert.equal(h.cached_prompt_tokens - h0.cached_prompt_tokens, fromCache[i], `request ${i}: prompt tokens from the cache`);
    }
    const h = await health();
    assert.equal(h.prefix_cache_entries, 2, 'the two prompts are stored, the repeated one once');
    assert.ok(h.prefix_cache_bytes > 0);
  });

  test('a weight update drops the cache: the next prompt is prefilled whole', async () => {
    await greedy(first);
    const before0 = await health();
    assert.ok(before0.prefix_cache_entries > 0);
    const update = await post(`${f.server.url}/update_weights_from_disk`, JSON.stringify({ model_path: baseModelDir }));
    assert.equal(update.json.success, true, update.text);
    await greedy(first);
    const after0 = await health();
    assert.equal(after0.weight_version, before0.weight_version + 1);
    assert.equal(after0.cached_prompt_tokens, before0.cached_prompt_tokens, 'nothing taken from the cache of the old weights');
    assert.equal(after0.prefix_cache_entries, 1);
  });
});

test('--prefix-cache-mib 0: nothing is cached', async () => {
  const f = await startFixture({ prefixCacheBytes: 0 });
  try {
    for (let i = 0; i < 2; i++) await f.client.completions.create({ model: 'countdown-base', prompt: first, max_tokens: 2, temperature: 0 });
    const h = (await (await fetch(`${f.server.url}/health`)).json()) as Health;
    assert.ok(h.prompt_tokens > 0);
    assert.equal(h.cached_prompt_tokens, 0);
    assert.equal(h.prefix_cache_entries, 0);
  } finally {
    await f.close();
  }
});
