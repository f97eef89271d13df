// Decoding before/after, side by side in one process: two builds (their dist/src folders) load the
// same model folder on their own CPU backends and generate with `generate` (random prompts, a
// KV cache, sampling at temperature 1, every row to the full length), timed in interleaved rounds
// (src/bench/timing.js). Prints, per build, the backend calls of one decoding step (kernels and
// host transfers; nested calls not counted) and tokens/s per batch size, from the wall clock and, as
// the figure a loaded machine moves least, from the process's CPU time (with --threads 1 that is
// the decoding thread's alone; with more it includes the workers' spinning).
// Usage: git worktree add /tmp/old <commit> && (cd /tmp/old && ln -s "$PWD/node_modules" . && npm run build)
//        node scripts/bench-decode-compare.mjs /tmp/old/dist/src dist/src [--model DIR] [--batches 1,64]
//          [--threads N] [--weight-dtype f32|f16] [--prompt-len 16] [--new-tokens 32] [--rounds 3]
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [oldRoot, newRoot] = process.argv.slice(2, 4).map((p) => pathToFileURL(resolve(p)).href);
if (!oldRoot || !newRoot) {
  console.error('usage: node scripts/bench-decode-compare.mjs OLD_DIST_SRC NEW_DIST_SRC [--model DIR] [--batches 1,64] [--threads N] [--weight-dtype f16]');
  process.exit(2);
}
const flag = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const model = resolve(flag('--model', 'assets/models/countdown-base'));
const batches = flag('--batches', '1,64').split(',').map(Number);
const threads = Number(flag('--threads', '2'));
const weightDtype = flag('--weight-dtype', 'f32');
const promptLen = Number(flag('--prompt-len', '16'));
const newTokens = Number(flag('--new-tokens', '32'));
const rounds = Number(flag('--rounds', '3'));

const HOST = new Set(['alloc', 'free', 'memoryStats', 'resetPeak', 'destroy']);
const builds = [];
for (const [tag, root] of [['old', oldRoot], ['new', newRoot]]) {
  const { CpuBackend } = await import(`${root}/backend/cpu/index.js`);
  const T = await import(`${root}/tensor/index.js`);
  const { loadCausalLM } = await import(`${root}/models/load.js`);
  const { generate } = await import(`${root}/generation/index.js`);
  const be = await CpuBackend.create({ threads, weightDtype });
  T.setBackend(be);
  builds.push({ tag, be, T, generate, lm: loadCausalLM(model, { backend: be, frozen: true }) });
}

/** Outermost backend calls by name while fn runs. */
async function countCalls(be, fn) {
  const counts = new Map();
  const names = Object.getOwnPropertyNames(Object.getPrototypeOf(be)).filter((k) => k !== 'constructor' && !HOST.has(k));
  let depth = 0;
  for (const k of names) {
    const f = be[k];
    be[k] = (...a) => {
      if (depth === 0) counts.set(k, (counts.get(k) ?? 0) + 1);
      depth++;
      try {
        return f.apply(be, a);
      } finally {
        depth--;
      }
    };
  }
  try {
    await fn();
  } finally {
    for (const k of names) delete be[k];
  }
  return counts;
}

const V = builds[0].lm.config.vocab_size;
console.log(`model ${model}, ${threads} threads, ${weightDtype} weights, prompts of ${promptLen}, ${newTokens} new tokens`);
for (const batch of batches) {
  const prompts = Array.from({ length: batch }, () => Array.from({ length: promptLen }, () => Math.floor(Math.random() * V)));
  const runs = builds.map((b) => () => {
    b.T.setBackend(b.be);
    return b.generate(b.lm, prompts, { maxNewTokens: newTokens, temperature: 1, ignoreEos: true, seed: 1 });
  });
  // Calls per decoding step: the difference between two lengths, divided by the extra steps.
  const perStep = [];
  for (const [i, b] of builds.entries()) {
    const gen = (n) => () => { b.T.setBackend(b.be); return b.generate(b.lm, prompts, { maxNewTokens: n, temperature: 1, ignoreEos: true, seed: 1 }); };
    const short = await countCalls(b.be, gen(2));
    const long = await countCalls(b.be, gen(6));
    let total = 0;
    for (const [k, v] of long) total += v - (short.get(k) ?? 0);
    perStep[i] = total / 4;
  }
  // Interleaved rounds, best of each: wall seconds and CPU seconds per build.
  const wall = builds.map(() => Infinity);
  const cpu = builds.map(() => Infinity);
  for (let r = 0; r <= rounds; r++) {
    for (const [i, run] of runs.entries()) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await run();
      const c = process.cpuUsage(c0);
      // Round 0 warms up (scratch growth, split-policy learning).
      if (r === 0) continue;
      wall[i] = Math.min(wall[i], (performance.now() - t0) / 1000);
      cpu[i] = Math.min(cpu[i], (c.user + c.system) / 1e6);
    }
  }
  const tps = (s) => (batch * newTokens / s).toFixed(1);
  console.log(`batch ${batch}: ` + builds.map((b, i) => `${b.tag} ${perStep[i]} calls/step, ${tps(wall[i])} tokens/s wall, ${tps(cpu[i])} per CPU-s`).join('; ')
    + `; new/old wall ${(wall[0] / wall[1]).toFixed(2)}, CPU ${(cpu[0] / cpu[1]).toFixed(2)}`);
}
for (const b of builds) {
  b.lm.dispose();
  b.be.destroy();
}
