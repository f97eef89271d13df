// `tinyzero serve` under load: 64 completion requests sent one at a time, then all at once (the
// server batches them), and 1,000 malformed or oversized requests, which must all get a 4xx while
// the server keeps serving. Starts `tinyzero serve` on the bundled Countdown base model on
// 127.0.0.1 (a free port), prints JSON, stops the server with SIGTERM. Needs `npm run build`.
//   node scripts/bench-serve.mjs [requests=64] [max_tokens=32] [bad=1000] [rounds=3]
// The two phases alternate for `rounds` rounds (sequential, concurrent, sequential, ...), so that a
// change in the machine's load hits both; the ratio is the median of the rounds' ratios.
// The server runs with --threads 1; SERVE_ARGS="--batch-window-ms 20" passes more serve options
// (SERVE_ARGS="--prefix-cache-mib 0": without the prefix cache, whose hits each phase reports as
// cachedPromptTokens: from the second phase on, every prompt was seen before).
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { loadavg } from 'node:os';

const [requests = 64, maxTokens = 32, badCount = 1000, rounds = 3] = process.argv.slice(2).map(Number);
const maxBody = 65536;
const child = spawn(process.execPath, ['dist/src/cli/main.js', 'serve', '--model', 'assets/models/countdown-base', '--port', '0',
  '--max-body-bytes', String(maxBody), '--threads', '1', ...(process.env.SERVE_ARGS ?? '').split(' ').filter(Boolean)], { stdio: ['ignore', 'inherit', 'pipe'] });
let stderr = '';
const url = await new Promise((resolve, reject) => {
  child.stderr.on('data', (d) => {
    stderr += d;
    const m = /on (http:\/\/[^ ]+)/.exec(stderr);
    if (m) resolve(m[1]);
  });
  child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
});

// node:http with an agent that opens a socket per request in flight, so that a burst is sent at once.
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const post = (path, body) => new Promise((resolve, reject) => {
  const req = request(`${url}${path}`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (d) => { text += d; });
    res.on('end', () => resolve({ status: res.statusCode, text }));
    res.on('error', reject);
  });
  // A server that answers 413 before reading the body may close the socket while it is still sent.
  req.on('error', (e) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? resolve({ status: 0, text: e.message }) : reject(e)));
  req.end(body);
});
const health = async () => (await fetch(`${url}/health`)).json();
const prompt = (i) => `Using the numbers [${i % 10}, ${(i * 7) % 13}, ${(i * 3) % 17}], create an equation that equals ${i + 10}.`;
const completion = async (i) => {
  const r = await post('/v1/completions', JSON.stringify({ prompt: prompt(i), max_tokens: maxTokens, temperature: 0, ignore_eos: true }));
  if (r.status !== 200) throw new Error(`request ${i}: ${r.status} ${r.text}`);
  const json = JSON.parse(r.text);
  return { text: json.choices[0].text, tokens: json.usage.completion_tokens };
};

async function phase(name, run) {
  const h0 = await health();
  const t0 = performance.now();
  const out = await run();
  const seconds = (performance.now() - t0) / 1000;
  const tokens = out.reduce((s, o) => s + o.tokens, 0);
  const h = await health();
  return {
    name, seconds: +seconds.toFixed(3), tokens, tokensPerSecond: +(tokens / seconds).toFixed(1),
    batches: h.generate_calls - h0.generate_calls, prefills: h.prefills - h0.prefills, decodeSteps: h.decode_steps - h0.decode_steps,
    promptTokens: h.prompt_tokens - h0.prompt_tokens, cachedPromptTokens: h.cached_prompt_tokens - h0.cached_prompt_tokens, out,
  };
}

const result = { requests, maxTokens, serveArgs: process.env.SERVE_ARGS ?? '', loadAverageBefore: loadavg().map((v) => +v.toFixed(2)) };
try {
  await completion(0); // warm-up: first-call costs out of the timings
  const runs = [];
  for (let round = 0; round < rounds; round++) {
    const sequential = await phase('sequential', async () => {
      const out = [];
      for (let i = 0; i < requests; i++) out.push(await completion(i));
      return out;
    });
    const concurrent = await phase('concurrent', () => Promise.all(Array.from({ length: requests }, (_, i) => completion(i))));
    runs.push({ sequential, concurrent, ratio: +(concurrent.tokensPerSecond / sequential.tokensPerSecond).toFixed(2) });
  }
  const sequential = runs[0].sequential;
  result.rounds = runs.map((r) => ({ sequential: { ...r.sequential, out: undefined }, concurrent: { ...r.concurrent, out: undefined }, ratio: r.ratio }));
  const ratios = runs.map((r) => r.ratio).sort((a, b) => a - b);
  result.throughputRatios = runs.map((r) => r.ratio);
  result.medianThroughputRatio = ratios[Math.floor(ratios.length / 2)];
  result.sameAnswers = runs.every((r) => r.concurrent.out.every((o, i) => o.text === sequential.out[i].text) && r.sequential.out.every((o, i) => o.text === sequential.out[i].text));

  // Bad requests: a bounded number in flight at a time.
  const bad = [
    () => post('/v1/completions', '{"prompt": "1+'),
    () => post('/v1/completions', JSON.stringify({ prompt: 'x'.repeat(maxBody + 1) })),
    () => post('/v1/completions', '{"prompt": 5}'),
    () => post('/v1/completions', '{"prompt": "1", "n": 100000}'),
    () => post('/v1/completions', '{"prompt": [1, 999999]}'),
    () => post('/v1/completions', '{"prompt": "1", "max_tokens": 100000}'),
    () => post('/v1/completions', '{"prompt": "1", "model": "nope"}'),
    () => post('/v1/completions', '{"prompt": "1", "temperature": "hot"}'),
    () => post('/v1/chat/completions', '{"messages": []}'),
    () => post('/v1/nothing', '{}'),
    () => post('/update_weights_from_disk', '{"model_path": 7}'),
    () => post('/v1/completions', '\u0000\u00ff'),
  ];
  const statuses = {};
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < badCount) {
      const i = next++;
      const r = await bad[i % bad.length]();
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    }
  }));
  const after = await completion(1);
  result.badRequests = {
    count: badCount,
    statuses,
    all4xx: Object.keys(statuses).every((s) => Number(s) >= 400 && Number(s) < 500),
    seconds: +((performance.now() - t0) / 1000).toFixed(3),
    servesAfter: after.text === sequential.out[1].text,
  };
} finally {
  agent.destroy();
  child.kill('SIGTERM');
  result.exitCodeAfterSigterm = await new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  result.loadAverageAfter = loadavg().map((v) => +v.toFixed(2));
}
console.log(JSON.stringify(result, null, 1));
