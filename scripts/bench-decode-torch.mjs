// Our decoding beside PyTorch's in one run: the same model folder, random prompts, sampling at
// temperature 1 to a fixed length (prefill included), the same thread count, in interleaved rounds
// so that the machine's load falls on both sides alike. PyTorch is scripts/torch-qwen2.py
// `decode-loop` (one process that loads the model once and decodes per request; float32,
// inference_mode, KV cache, OpenBLAS told this CPU's kernel in its own environment only); with
// --gemv a second PyTorch process whose one-row products run as torch.mv joins the batch-1 rounds.
// Prints one JSON line per measurement (wall and CPU seconds of the measured process: ours includes
// the worker threads', PyTorch's its BLAS threads'), then a summary with the best round of each side,
// the load average, and the ratios ours / PyTorch in tokens/s. --profile then times each backend op
// of one more run of ours per batch, prefill and decoding steps apart (src/bench/op-profile.ts).
// Usage: nice -n 15 node scripts/bench-decode-torch.mjs --model DIR [--batches 1,64] [--threads 2]
//          [--prompt-len 16] [--new-tokens 16] [--rounds 2] [--gemv] [--profile] [--no-torch] [--out FILE.json]
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { writeFileSync } from 'node:fs';

const flag = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const model = flag('--model');
if (!model) {
  console.error('usage: node scripts/bench-decode-torch.mjs --model DIR [--batches 1,64] [--threads 2] [--prompt-len 16] [--new-tokens 16] [--rounds 2] [--gemv] [--out FILE.json]');
  process.exit(2);
}
const dir = resolve(model);
const batches = flag('--batches', '1,64').split(',').map(Number);
const threads = Number(flag('--threads', '2'));
const promptLen = Number(flag('--prompt-len', '16'));
const newTokens = Number(flag('--new-tokens', '16'));
const rounds = Number(flag('--rounds', '2'));
const gemv = process.argv.includes('--gemv');
const profile = process.argv.includes('--profile');
const noTorch = process.argv.includes('--no-torch');
const outFile = flag('--out');

const dist = new URL('../dist/src/', import.meta.url).href;
const { CpuBackend } = await import(`${dist}backend/cpu/index.js`);
const T = await import(`${dist}tensor/index.js`);
const { loadCausalLM } = await import(`${dist}models/load.js`);
const { generate } = await import(`${dist}generation/index.js`);
const { findTorchPeer, TORCH_SCRIPT } = await import(`${dist}bench/torch-peer.js`);
const { profileBackend } = await import(`${dist}bench/op-profile.js`);

/** A decode-loop process: send(batch, tokens) resolves with its JSON answer. */
async function torchSide(python, env, extra) {
  const child = spawn(python, [TORCH_SCRIPT, 'decode-loop', '--model', dir, '--prompt-len', String(promptLen), '--threads', String(threads), ...extra],
    { env, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`${TORCH_SCRIPT} decode-loop ended early (exit ${child.exitCode})`);
    return JSON.parse(value);
  };
  const ready = await next();
  return {
    ready,
    async decode(batch) {
      child.stdin.write(`${batch} ${newTokens}\n`);
      return next();
    },
    close() {
      child.stdin.end();
    },
  };
}

const peer = noTorch ? { available: true, info: {} } : findTorchPeer();
if (!peer.available) {
  console.error(`no PyTorch peer: ${peer.reason}`);
  process.exit(1);
}
const be = await CpuBackend.create({ threads });
T.setBackend(be);
const lm = loadCausalLM(dir, { backend: be, frozen: true });
const V = lm.config.vocab_size;
const sides = { ours: null };
if (!noTorch) sides.torch = await torchSide(peer.info.python, peer.env, []);
if (gemv && !noTorch) sides.torchGemv = await torchSide(peer.info.python, peer.env, ['--gemv']);
console.log(JSON.stringify({ model: dir, threads, promptLen, newTokens, rounds, torch: peer.info.torch, blas: sides.torch?.ready.blas,
  torchThreads: sides.torch?.ready.threads, loadavg: loadavg() }));

async function ours(batch, tokens = newTokens) {
  const prompts = Array.from({ length: batch }, () => Array.from({ length: promptLen }, () => 4 + Math.floor(Math.random() * (V - 4))));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await generate(lm, prompts, { maxNewTokens: tokens, temperature: 1, ignoreEos: true, seed: 1 });
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { batch, newTokens, seconds, cpuSeconds: (c.user + c.system) / 1e6, tokensPerSecond: (batch * newTokens) / seconds };
}

const rows = [];
const summary = [];
for (const batch of batches) {
  const names = Object.keys(sides).filter((s) => batch === 1 || s !== 'torchGemv');
  const best = {};
  // Round 0 warms each side up (scratch growth, the pool's split policy, OpenBLAS buffers).
  for (let r = 0; r <= rounds; r++) {
    for (const name of names) {
      const before = loadavg()[0];
      const res = name === 'ours' ? await ours(batch) : await sides[name].decode(batch);
      const row = { side: name, round: r, ...res, loadavg1: [before, loadavg()[0]] };
      rows.push(row);
      console.log(JSON.stringify(row));
      if (r > 0 && (!best[name] || res.seconds < best[name].seconds)) best[name] = res;
    }
  }
  const line = { batch, tokensPerSecond: {}, cpuSecondsPerToken: {}, oursOver: {} };
  // --rounds 0 (a warm-up only, say before --profile) leaves nothing to summarise.
  for (const name of rounds > 0 ? names : []) {
    line.tokensPerSecond[name] = +best[name].tokensPerSecond.toFixed(2);
    line.cpuSecondsPerToken[name] = +(best[name].cpuSeconds / (batch * newTokens)).toFixed(4);
    if (name !== 'ours') line.oursOver[name] = +(best.ours.tokensPerSecond / best[name].tokensPerSecond).toFixed(2);
  }
  summary.push(line);
}
for (const s of Object.values(sides)) s?.close?.();
// The profile: a one-token run is the prefill (and the first draw); a full run minus it, the steps.
const profiles = [];
for (const batch of profile ? batches : []) {
  const profiled = async (tokens) => {
    const stop = profileBackend(be);
    await ours(batch, tokens);
    return stop();
  };
  const p = await profiled(1);
  const f = await profiled(newTokens);
  const byOp = new Map(p.ops.map((o) => [o.op, o]));
  const steps = f.ops.map((o) => ({ op: o.op, calls: o.calls - (byOp.get(o.op)?.calls ?? 0), ms: +(o.ms - (byOp.get(o.op)?.ms ?? 0)).toFixed(1) }))
    .filter((o) => o.calls > 0).sort((a, b) => b.ms - a.ms);
  const line = { profile: batch, prefillMs: p.wallMs, prefillTop: p.ops.slice(0, 8), stepsMs: +(f.wallMs - p.wallMs).toFixed(1),
    stepsBackendMs: +(f.backendMs - p.backendMs).toFixed(1), stepsTop: steps.slice(0, 12) };
  profiles.push(line);
  console.log(JSON.stringify(line));
}
lm.dispose();
be.destroy();
const result = { summary, loadavgEnd: loadavg(), ...(profile ? { profiles } : {}) };
console.log(JSON.stringify(result));
if (outFile) writeFileSync(outFile, JSON.stringify({ rows, ...result }, null, 1));
