// Streams are written token by token while the batch decodes: the first piece reaches the client
// before the request has finished, stop strings that span chunks are cut exactly as in the
// non-streamed answer, and the pieces join to it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { choiceIds, startFixture, type Fixture } from './fixture.js';

interface Streamed {
  text: string[];
  finish: (string | null)[];
  stopReason: unknown[];
  tokens: string[][];
  chunks: number;
}

describe('tinyzero serve streaming', () => {
  let f: Fixture;
  before(async () => {
    f = await startFixture();
  });
  after(async () => {
    await f.close();
  });

  const prompt = 'Using the numbers [3, 7, 12], create an equation that equals 9.';

  /** Reads an SSE completion stream; `onFirst` runs when the first chunk with text arrives. */
  async function stream(body: Record<string, unknown>, onFirst: () => void = () => {}): Promise<Streamed> {
    const res = await fetch(`${f.server.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const out: Streamed = { text: [], finish: [], stopReason: [], tokens: [], chunks: 0 };
    const decoder = new TextDecoder();
    let buffer = '';
    let done = false;
    let first = true;
    for await (const bytes of res.body!) {
      buffer += decoder.decode(bytes as Uint8Array, { stream: true });
      let at: number;
      while ((at = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        assert.ok(event.startsWith('data: '), event);
        const data = event.slice(6);
        if (data === '[DONE]') {
          done = true;
          continue;
        }
        const chunk = JSON.parse(data) as { choices: { index: number; text: string; finish_reason: string | null; stop_reason: unknown; logprobs: { tokens: string[] } | null }[] };
        out.chunks++;
        for (const c of chunk.choices) {
          if (first && c.text.length > 0) {
            first = false;
            onFirst();
          }
          out.text[c.index] = (out.text[c.index] ?? '') + c.text;
          out.tokens[c.index] = [...(out.tokens[c.index] ?? []), ...(c.logprobs?.tokens ?? [])];
          if (c.finish_reason !== null) {
            out.finish[c.index] = c.finish_reason;
            out.stopReason[c.index] = c.stop_reason;
          }
        }
      }
    }
    assert.ok(done, 'the stream ends with [DONE]');
    return out;
  }

  const whole = (body: Record<string, unknown>) => f.client.completions.create({ model: 'countdown-base', prompt, ...body } as never) as unknown as Promise<{ choices: { text: string; finish_reason: string; stop_reason: unknown; logprobs: { tokens: string[] } }[] }>;

  test('the first piece arrives while the request is still decoding', async () => {
    const jobs0 = f.server.stats.jobs;
    const steps0 = f.server.stats.decodeSteps;
    let seen: { running: boolean; answered: number; steps: number } | null = null;
    const body = { prompt, max_tokens: 200, temperature: 0, ignore_eos: true, logprobs: 0, return_tokens_as_token_ids: true };
    const s = await stream(body, () => {
      seen = { running: f.server.stats.running, answered: f.server.stats.jobs - jobs0, steps: f.server.stats.decodeSteps - steps0 };
    });
    assert.ok(seen !== null);
    const at = seen as { running: boolean; answered: number; steps: number };
    assert.equal(at.answered, 0, 'the request was not answered yet');
    assert.ok(at.running && at.steps < 150, `the first piece came after ${at.steps} of 199 steps`);
    const w = await whole({ max_tokens: 200, temperature: 0, logprobs: 0, ...{ ignore_eos: true, return_tokens_as_token_ids: true } });
    assert.equal(s.text[0], w.choices[0]!.text);
    assert.deepEqual(choiceIds(s.tokens[0]), choiceIds(w.choices[0]!.logprobs.tokens));
    assert.equal(s.chunks, 200, 'one chunk per token');
  });

  test('stop strings across chunk boundaries: the pieces join to the non-streamed text, cut at the stop', async () => {
    const base = { max_tokens: 40, temperature: 0, logprobs: 0, ignore_eos: true, return_tokens_as_token_ids: true };
    const full = await whole(base);
    const text = full.choices[0]!.text;
    const ids = choiceIds(full.choices[0]!.logprobs.tokens);
    const pieces = ids.map((_, i) => f.tokenizer.decode(ids.slice(0, i + 1)));
    // A stop string made of the end of one token's text and the start of the next one's.
    const k = pieces.findIndex((p, i) => i > 2 && i + 1 < pieces.length && pieces[i + 1]!.length > p.length && p.length > pieces[i - 1]!.length);
    assert.ok(k > 0, 'a token boundary to cut across');
    const stop = text.slice(pieces[k]!.length - 1, pieces[k]!.length + 1);
    const never = `${text.slice(10, 13)}\u0001`;
    for (const extra of [{ stop: [stop] }, { stop: [stop], include_stop_str_in_output: true }, { stop: [never, stop] }, { stop: never }, { n: 2, temperature: 1, seed: 3, stop: ['+', '*'] }]) {
      const body = { ...base, ...extra };
      const [s, w] = [await stream({ prompt, ...body }), await whole(body)];
      w.choices.forEach((c, i) => {
        const label = `${JSON.stringify(extra)} choice ${i}`;
        assert.equal(s.text[i], c.text, label);
        assert.equal(s.finish[i], c.finish_reason, label);
        assert.deepEqual(s.stopReason[i], c.stop_reason, label);
        assert.deepEqual(choiceIds(s.tokens[i]), choiceIds(c.logprobs.tokens), label);
      });
      if (extra.stop === never) assert.equal(w.choices[0]!.text, text, 'a stop string that never completes cuts nothing');
    }
    const cut = await whole({ ...base, stop: [stop] });
    assert.equal(cut.choices[0]!.text, text.slice(0, text.indexOf(stop)));
  });
});
