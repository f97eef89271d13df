// Bad requests get OpenAI's error JSON with a 4xx status and the server keeps serving; the queue is
// bounded (429); the API key guards everything but /health.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import OpenAI from 'openai';
import { post, startFixture, type Fixture } from './fixture.js';

describe('tinyzero serve errors', () => {
  let f: Fixture;
  before(async () => {
    f = await startFixture({ maxBodyBytes: 4096, maxQueuedRows: 4, maxBatchRows: 8, maxBatchTokens: 2000 });
  });
  after(async () => {
    await f.close();
  });

  test('malformed, invalid and oversized requests get 4xx errors naming the problem; the server still answers', async () => {
    const url = `${f.server.url}/v1/completions`;
    const cases: [string, string | Uint8Array, number, RegExp][] = [
      ['malformed JSON', '{"prompt": "1+', 400, /not valid JSON/],
      ['empty body', '', 400, /no body/],
      ['not an object', '[1, 2]', 400, /body: expected a JSON object/],
      ['no prompt', '{"max_tokens": 3}', 400, /prompt: expected a string/],
      ['empty prompt ids', '{"prompt": []}', 400, /prompt: expected/],
      ['empty text prompt', '{"prompt": ""}', 400, /prompt: the prompt is empty/],
      ['id outside the vocabulary', '{"prompt": [1, 100000]}', 400, /token id 100000 is outside the model's vocabulary \[0, 185\)/],
      ['negative id', '{"prompt": [1, -2]}', 400, /non-negative integer token ids/],
      ['temperature < 0', '{"prompt": "1", "temperature": -1}', 400, /temperature: must be >= 0/],
      ['top_p 0', '{"prompt": "1", "top_p": 0}', 400, /top_p: must be > 0/],
      ['top_k -2', '{"prompt": "1", "top_k": -2}', 400, /top_k: must be >= -1/],
      ['n 0', '{"prompt": "1", "n": 0}', 400, /n: must be >= 1/],
      ['n over the limit', '{"prompt": "1", "n": 9}', 400, /n = 9 asks for more than the server's 8 choices/],
      ['max_tokens string', '{"prompt": "1", "max_tokens": "5"}', 400, /max_tokens: expected a number/],
      ['rows x positions past the batch budget', '{"prompt": "1", "n": 8, "max_tokens": 300}', 400, /exceed the server's 2000 positions per generation/],
      ['max_tokens past the context', '{"prompt": "1", "max_tokens": 600}', 400, /maximum context length is 512 tokens/],
      ['stop not strings', '{"prompt": "1", "stop": [1]}', 400, /stop: expected a string or a list of strings/],
      ['echo', '{"prompt": "1", "echo": true}', 400, /echo: true is not supported/],
      ['penalty', '{"prompt": "1", "presence_penalty": 0.5}', 400, /presence_penalty: 0.5 is not supported/],
      ['seed not an integer', '{"prompt": "1", "seed": 1.5}', 400, /seed: expected an integer/],
      ['unknown model', '{"prompt": "1", "model": "gpt-9"}', 404, /The model `gpt-9` does not exist/],
      ['too large', JSON.stringify({ prompt: 'x'.repeat(5000) }), 413, /more than the server's limit of 4096/],
    ];
    for (const [what, body, status, message] of cases) {
      const r = await post(url, body);
      assert.equal(r.status, status, `${what}: ${r.text}`);
      assert.match(r.json?.error?.message ?? '', message, what);
      assert.equal(typeof r.json.error.type, 'string', what);
    }
    const chat = await post(`${f.server.url}/v1/chat/completions`, '{"messages": [{"content": "hi"}]}');
    assert.equal(chat.status, 400);
    assert.match(chat.json.error.message, /messages\[0\]: expected \{role: string, content\}/);
    const route = await post(`${f.server.url}/v1/nothing`, '{}');
    assert.equal(route.status, 404);
    assert.equal((await fetch(`${f.server.url}/v1/completions`)).status, 405);
    const ok = await f.client.completions.create({ model: 'countdown-base', prompt: '1+1=', max_tokens: 3, temperature: 0, ...{ unknown_field: { ignored: true } } });
    assert.equal(ok.choices.length, 1);
  });

  test('a burst of bad requests (malformed, oversized, wrong fields) all get 4xx and the server keeps serving', async () => {
    const bodies = ['{', 'x'.repeat(10000), '{"prompt": 5}', '{"prompt": "1", "n": -1}', '\u0000\u0001', '{"prompt": [[]]}'];
    const statuses = await Promise.all(Array.from({ length: 120 }, (_, i) => post(`${f.server.url}/v1/completions`, bodies[i % bodies.length]!).then((r) => r.status)));
    assert.ok(statuses.every((s) => s >= 400 && s < 500), statuses.join(','));
    const ok = await f.client.completions.create({ model: 'countdown-base', prompt: '1+1=', max_tokens: 3, temperature: 0 });
    assert.equal(ok.choices[0]!.finish_reason === 'length' || ok.choices[0]!.finish_reason === 'stop', true);
  });

  test('a body over the limit is read to its end before the 413, on a connection that stays open; one far over it closes the connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const send = (body: string) => new Promise<{ status: number; connection: string | undefined; socket: unknown; text: string }>((resolve, reject) => {
      const req = request(`${f.server.url}/v1/completions`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, socket: req.socket, text }));
      });
      req.on('error', reject);
      req.end(body);
    });
    try {
      // 4096 bytes allowed: 3 times that is read and dropped, then refused.
      const over = await send(JSON.stringify({ prompt: 'x'.repeat(3 * 4096) }));
      assert.equal(over.status, 413, over.text);
      assert.match(JSON.parse(over.text).error.message, /more than the server's limit of 4096/);
      assert.notEqual(over.connection, 'close');
      const next = await send(JSON.stringify({ prompt: '1+1=', max_tokens: 2, temperature: 0 }));
      assert.equal(next.status, 200, next.text);
      assert.equal(next.socket, over.socket, 'the same connection serves the next request');
      // Past 4 times the limit the answer does not wait for the body: the connection is closed after it.
      const far = await send(JSON.stringify({ prompt: 'x'.repeat(5 * 4096) })).catch((e: NodeJS.ErrnoException) => ({ status: 0, connection: e.code, socket: null, text: '' }));
      assert.ok(far.status === 413 ? far.connection === 'close' : far.connection === 'ECONNRESET' || far.connection === 'EPIPE', `${far.status} ${far.connection}`);
    } finally {
      agent.destroy();
    }
  });

  test('a full queue answers 429 with queue_full; the admitted requests are answered', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => post(`${f.server.url}/v1/completions`, JSON.stringify({ prompt: '1+1=', max_tokens: 4, temperature: 0 }))));
    const refused = results.filter((r) => r.status === 429);
    const served = results.filter((r) => r.status === 200);
    assert.equal(refused.length + served.length, 10);
    assert.ok(refused.length >= 1 && served.length >= 4, `${served.length} served, ${refused.length} refused`);
    for (const r of refused) assert.equal(r.json.error.code, 'queue_full');
  });
});

describe('tinyzero serve --api-key', () => {
  let f: Fixture;
  before(async () => {
    f = await startFixture({ apiKey: 'sekret' });
  });
  after(async () => {
    await f.close();
  });

  test('requests without the key get 401; with it they are served; /health needs none', async () => {
    const wrong = new OpenAI({ baseURL: `${f.server.url}/v1`, apiKey: 'guess', maxRetries: 0 });
    await assert.rejects(wrong.completions.create({ model: 'countdown-base', prompt: '1', max_tokens: 2 }), (e: unknown) => e instanceof OpenAI.AuthenticationError && e.status === 401);
    const ok = await f.client.completions.create({ model: 'countdown-base', prompt: '1', max_tokens: 2 });
    assert.equal(ok.choices.length, 1);
    assert.equal((await fetch(`${f.server.url}/health`)).status, 200);
    assert.equal((await fetch(`${f.server.url}/v1/models`)).status, 401);
    const load = await post(`${f.server.url}/update_weights_from_disk`, JSON.stringify({ model_path: '/nonexistent' }));
    assert.equal(load.status, 401);
  });
});
