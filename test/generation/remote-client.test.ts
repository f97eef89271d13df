// The remote-rollout client against small node:http stubs that speak the endpoint contract
// (docs/distributed.md#endpoint-contract): request shape, id parsing and eos normalisation,
// failover between servers, busy retries, bad requests, timeouts and unreachable servers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { completeOnServer, completionBody, parseCompletion, RemoteServer, RemoteServerError, ServerPool, type RemoteSampling } from '../../src/generation/index.js';

type Handler = (req: IncomingMessage, body: Record<string, unknown>, res: ServerResponse) => void;

async function stub(handler: Handler): Promise<{ url: string; server: Server; requests: Record<string, unknown>[]; headers: IncomingMessage['headers'][] }> {
  const requests: Record<string, unknown>[] = [];
  const headers: IncomingMessage['headers'][] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const body = text ? JSON.parse(text) as Record<string, unknown> : {};
      requests.push({ path: req.url, ...body });
      headers.push(req.headers);
      handler(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, requests, headers };
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** A completions answer in vLLM's shape: ids as 'token_id:N' log-prob tokens. */
function answer(samples: number[][], finish: string[] = samples.map(() => 'length')): unknown {
  return {
    object: 'text_completion',
    choices: samples.map((ids, index) => ({
      index, text: '', finish_reason: finish[index],
      logprobs: { tokens: ids.map((t) => `token_id:${t}`), token_logprobs: ids.map((_, i) => -0.5 - i), top_logprobs: null, text_offset: ids.map(() => 0) },
    })),
  };
}

const sampling: RemoteSampling = { n: 2, maxTokens: 4, temperature: 0.7, topP: 0.9, topK: -1, eosTokenIds: [2], ignoreEos: false };
const dummy = new RemoteServer('http://127.0.0.1:9', { timeoutMs: 1000 });

test('completionBody asks for token-id prompts, n, sampling, one log-prob per token with ids, and eos as the stop token', () => {
  assert.deepEqual(completionBody('m', [5, 6, 7], sampling), {
    model: 'm', prompt: [5, 6, 7], n: 2, max_tokens: 4, temperature: 0.7, top_p: 0.9, top_k: -1, logprobs: 1,
    return_tokens_as_token_ids: true, return_token_ids: true, stop_token_ids: [2], stream: false,
  });
  const body = completionBody('m', [5], { ...sampling, topK: 0, ignoreEos: true });
  assert.equal(body.top_k, -1);
  assert.equal(body.ignore_eos, true);
  assert.equal(body.stop_token_ids, undefined);
});

test('parseCompletion reads ids from token_id:N or token_ids, orders by index, and normalises eos to the local convention', () => {
  const got = parseCompletion(dummy, {
    choices: [
      // vLLM: the eos is among the returned ids; the rest past it (none here) would be cut.
      { index: 1, finish_reason: 'stop', logprobs: { tokens: ['token_id:9', 'token_id:2'], token_logprobs: [-1, -2] } },
      // A server that ends at eos without returning it gets it back, so length and mask match a local rollout.
      { index: 0, finish_reason: 'stop', token_ids: [4, 4], logprobs: { tokens: ['a', 'b'], token_logprobs: [-0.1, -0.2] } },
    ],
  }, sampling);
  assert.deepEqual(got.map((s) => s.tokenIds), [[4, 4, 2], [9, 2]]);
  assert.deepEqual(got[1]!.logprobs, [-1, -2]);
  assert.ok(Number.isNaN(got[0]!.logprobs[2]!));
  // Ids past the first eos are cut; a 'length' answer is never extended; max_tokens is a hard cap.
  const cut = parseCompletion(dummy, answer([[7, 2, 7, 7], [1, 1, 1, 1, 1]]), sampling);
  assert.deepEqual(cut.map((s) => s.tokenIds), [[7, 2], [1, 1, 1, 1]]);
  // vLLM's stop_reason names the stop token that ended a response; that one is appended.
  const named = parseCompletion(dummy, { choices: [{ index: 0, finish_reason: 'stop', stop_reason: 3, token_ids: [5] }] }, { ...sampling, n: 1, eosTokenIds: [2, 3] });
  assert.deepEqual(named[0]!.tokenIds, [5, 3]);
  // ignore_eos: eos is an ordinary token.
  const ignoring = parseCompletion(dummy, answer([[2, 2, 5, 2]]), { ...sampling, n: 1, ignoreEos: true });
  assert.deepEqual(ignoring[0]!.tokenIds, [2, 2, 5, 2]);
});

test('parseCompletion refuses answers that break the contract, as the server\'s fault', () => {
  const bad = (a: unknown, what: RegExp): void => {
    assert.throws(() => parseCompletion(dummy, a, sampling), (e: unknown) => e instanceof RemoteServerError && e.serverAtFault && what.test(e.message));
  };
  bad(answer([[1]]), /expected 2 choices/);
  bad({ choices: [{ index: 0, text: 'hi' }, { index: 1, text: 'yo' }] }, /token ids/);
  bad({ choices: [{ index: 0, logprobs: { tokens: ['hi'] } }, { index: 1, logprobs: { tokens: ['token_id:1'] } }] }, /token_id:N/);
  bad({ choices: [{ index: 0, token_ids: [1] }, { index: 0, token_ids: [1] }] }, /indices 0\.\.1 once each/);
});

test('a server call sends the API key, parses OpenAI errors, and tells unreachable, timeout, busy and rejected apart', async () => {
  const s = await stub((req, _body, res) => {
    if (req.url === '/slow') return void setTimeout(() => json(res, 200, {}), 6000);
    if (req.url === '/busy') return json(res, 429, { error: { message: 'queue full' } });
    if (req.url === '/bad') return json(res, 400, { error: { message: 'max_tokens too large' } });
    if (req.url === '/boom') return json(res, 500, { detail: 'CUDA error' });
    json(res, 200, { ok: true });
  });
  try {
    const server = new RemoteServer(`${s.url}/`, { apiKey: 'sk-test', timeoutMs: 3000 });
    assert.equal(server.url, s.url);
    assert.deepEqual(await server.call('GET', '/health'), { ok: true });
    assert.equal(s.headers[0]!.authorization, 'Bearer sk-test');
    const failure = async (path: string, kind: string, message: RegExp): Promise<void> => {
      await assert.rejects(server.call('POST', path, {}), (e: unknown) => e instanceof RemoteServerError && e.failure === kind && message.test(e.message) && e.message.startsWith(s.url));
    };
    await failure('/slow', 'timeout', /no answer within 3\.0 s/);
    await failure('/busy', 'busy', /429: queue full/);
    await failure('/bad', 'rejected', /400: max_tokens too large/);
    await failure('/boom', 'server', /500: CUDA error/);
  } finally {
    await close(s.server);
  }
  const gone = new RemoteServer(s.url, { timeoutMs: 1000 });
  await assert.rejects(gone.health(), (e: unknown) => e instanceof RemoteServerError && e.failure === 'unreachable' && e.message.includes(s.url));
});

test('the pool spreads prompts over servers; a failing server is dropped with a warning and its requests go to the other', async () => {
  const served: Record<string, number> = { a: 0, b: 0 };
  const make = (name: 'a' | 'b', fail: () => boolean): Handler => (_req, body, res) => {
    if (fail()) return json(res, 500, { error: { message: `${name} is down` } });
    served[name]!++;
    const prompt = body.prompt as number[];
    // Each prompt's n samples: the prompt's first id, so the caller can check the order.
    json(res, 200, answer(Array.from({ length: body.n as number }, () => [prompt[0]!, 2])));
  };
  let bCalls = 0;
  const a = await stub(make('a', () => false));
  const b = await stub(make('b', () => ++bCalls > 2));
  const warnings: string[] = [];
  try {
    const servers = [a.url, b.url].map((u) => new RemoteServer(u, { timeoutMs: 5000 }));
    const pool = new ServerPool(servers, { concurrency: 2, warn: (l) => warnings.push(l) });
    const prompts = Array.from({ length: 12 }, (_, i) => [100 + i]);
    const results = await pool.dispatch(prompts.map((p) => (server: RemoteServer) => completeOnServer(server, 'm', p, sampling)));
    assert.deepEqual(results.map((r) => r.map((s) => s.tokenIds[0])), prompts.map((p) => [p[0], p[0]]));
    assert.equal(served.a! + served.b!, 12);
    assert.ok(served.b! >= 1, 'b served before it failed');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, new RegExp(`rollout server ${b.url} failed \\(POST /v1/completions answered 500: b is down\\); its requests go to the other 1 server \\(${a.url}\\)`));
    assert.deepEqual(pool.live.map((s) => s.url), [a.url]);
    // The dropped server stays dropped: the next dispatch goes to a only.
    const before = served.a!;
    await pool.dispatch([(server: RemoteServer) => completeOnServer(server, 'm', [1], sampling)]);
    assert.equal(served.a, before + 1);
  } finally {
    await close(a.server);
    await close(b.server);
  }
});

test('the pool retries a busy (429) server, stops on a bad request, and fails naming every server when all are down', async () => {
  let busy = 2;
  const a = await stub((_req, body, res) => {
    if (busy-- > 0) return json(res, 429, { error: { message: 'queue full' } });
    if ((body.prompt as number[])[0] === 0) return json(res, 400, { error: { message: 'prompt too long' } });
    json(res, 200, answer([[1], [1]]));
  });
  const warnings: string[] = [];
  try {
    const pool = new ServerPool([new RemoteServer(a.url, { timeoutMs: 5000 })], { concurrency: 1, warn: (l) => warnings.push(l), busyBackoffMs: 1 });
    const ok = await pool.dispatch([(s: RemoteServer) => completeOnServer(s, 'm', [5], sampling)]);
    assert.deepEqual(ok[0]!.map((x) => x.tokenIds), [[1], [1]]);
    await assert.rejects(pool.dispatch([(s: RemoteServer) => completeOnServer(s, 'm', [0], sampling)]), /400: prompt too long \(a bad request: every server would refuse it\)/);
    assert.equal(warnings.length, 0, 'neither a busy answer nor a bad request drops the server');
    assert.equal(pool.live.length, 1);
  } finally {
    await close(a.server);
  }
  const other = await stub(() => {});
  await close(other.server);
  const dead = [new RemoteServer(a.url, { timeoutMs: 1000 }), new RemoteServer(other.url, { timeoutMs: 1000 })];
  const pool = new ServerPool(dead, { concurrency: 1, warn: (l) => warnings.push(l) });
  await assert.rejects(pool.dispatch([(s: RemoteServer) => completeOnServer(s, 'm', [5], sampling)]), (e: Error) =>
    /every rollout server failed/.test(e.message) && e.message.includes(`${a.url}: POST /v1/completions failed: `) && e.message.includes(other.url));
  assert.equal(warnings.length, 2);
});
