// Where a decoding step's time goes on WebGPU: per step, the host time spent issuing the step's
// kernels (from the step's start until it asks for the sampled tokens) against the time then spent
// waiting for the device, with the step's backend calls by name; plus the round-trip time of an
// empty sync and of a one-element read. A model folder, random prompts, every row to the full length.
// Usage: npm run build && node scripts/gpu-decode-probe.mjs --model DIR [--batch 64] [--prompt-len 40]
//          [--new-tokens 32] [--weight-dtype f32|f16] [--backend vulkan|opengles] [--dist DIR] [--out FILE]
//          [--profile-tokens 8] [--batch-limit N]
// --batch-limit N: kernels recorded before a submit (the backend's batchLimit; default 64).
// --profile-tokens N: afterwards, N more tokens with each kernel timed on the device (timestamp
// queries, a pass per kernel: slower than unprofiled, so only the split between kernels counts),
// reported per decoding step by pipeline; 0, or a build or device without profiling, skips it.
import { writeFileSync } from 'node:fs';
import { fromDist, opt } from './dist-options.mjs';

const { createNodeWebGpuBackend } = await fromDist('src/backend/webgpu/node.js');
const { loadCausalLM } = await fromDist('src/models/load.js');
const { generate } = await fromDist('src/generation/index.js');
const T = await fromDist('src/tensor/index.js');
const modelDir = opt('model');
if (!modelDir) {
  console.error('usage: node scripts/gpu-decode-probe.mjs --model DIR [--batch 64] [--prompt-len 40] [--new-tokens 32] [--weight-dtype f16]');
  process.exit(2);
}
const batch = Number(opt('batch', '64'));
const promptLen = Number(opt('prompt-len', '40'));
const newTokens = Number(opt('new-tokens', '32'));
// Timestamps at full resolution (Dawn may round them to 100 µs otherwise).
const be = await createNodeWebGpuBackend({ backend: opt('backend'), weightDtype: opt('weight-dtype', 'f32'),
  ...(opt('batch-limit') ? { batchLimit: Number(opt('batch-limit')) } : {}), flags: ['disable-dawn-features=timestamp_quantization'] });
if (!be) {
  console.error('gpu-decode-probe: no WebGPU adapter');
  process.exit(2);
}
T.setBackend(be);
const t0 = performance.now();
const lm = loadCausalLM(modelDir, { backend: be, frozen: true });
await be.sync();
const loadMs = performance.now() - t0;

// Round trips with nothing queued.
const tiny = be.alloc(256);
const rtt = { syncMs: [], readMs: [] };
for (let i = 0; i < 10; i++) {
  let s = performance.now();
  await be.sync();
  rtt.syncMs.push(performance.now() - s);
  s = performance.now();
  await be.read(tiny, 'f32', 0, 1);
  rtt.readMs.push(performance.now() - s);
}
be.free(tiny);

// Each backend call is counted (outermost only) and the first read of a step marks the end of its issuing.
const HOST = new Set(['alloc', 'free', 'memoryStats', 'resetPeak', 'destroy', 'sync', 'read', 'write']);
const names = Object.getOwnPropertyNames(Object.getPrototypeOf(be)).filter((k) => k !== 'constructor' && typeof be[k] === 'function');
let counts = new Map();
// Host milliseconds inside the backend's calls (outermost), by name: the rest of issuing is the tensor layer's.
let hostMs = new Map();
let depth = 0;
let stepStart = 0;
let issueEnd = 0;
for (const k of names) {
  const f = be[k].bind(be);
  if (k === 'read') {
    be[k] = (...a) => {
      if (!issueEnd) issueEnd = performance.now();
      return f(...a);
    };
    continue;
  }
  be[k] = (...a) => {
    if (depth > 0) return f(...a);
    if (!HOST.has(k)) counts.set(k, (counts.get(k) ?? 0) + 1);
    const t0 = performance.now();
    depth++;
    try { return f(...a); } finally {
      depth--;
      hostMs.set(k, (hostMs.get(k) ?? 0) + performance.now() - t0);
    }
  };
}

const vocab = lm.config.vocab_size;
let seed = 1;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) % Math.min(vocab, 150000));
const prompts = Array.from({ length: batch }, () => Array.from({ length: promptLen }, rand));
const steps = [];
stepStart = performance.now();
const g0 = stepStart;
await generate(lm, prompts, {
  maxNewTokens: newTokens, temperature: 1, ignoreEos: true, seed: 1,
  onStep: (t) => {
    const now = performance.now();
    steps.push({ step: t, issueMs: issueEnd - stepStart, waitMs: now - issueEnd, calls: Object.fromEntries(counts), backendMs: Object.fromEntries(hostMs) });
    counts = new Map();
    hostMs = new Map();
    issueEnd = 0;
    stepStart = now;
  },
});
const totalMs = performance.now() - g0;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const decode = steps.slice(1);
const result = {
  adapter: { ...be.adapter, limits: undefined, features: undefined },
  dist: opt('dist') ?? 'dist', batchLimit: Number(opt('batch-limit', '64')), model: modelDir, layers: lm.config.num_hidden_layers, hidden: lm.config.hidden_size, batch, promptLen, newTokens,
  weightDtype: opt('weight-dtype', 'f32'), loadMs: +loadMs.toFixed(0),
  roundTrip: { syncMedianMs: +median(rtt.syncMs).toFixed(3), readMedianMs: +median(rtt.readMs).toFixed(3) },
  prefill: { issueMs: +steps[0].issueMs.toFixed(2), waitMs: +steps[0].waitMs.toFixed(2) },
  decodeStep: {
    medianIssueMs: +median(decode.map((s) => s.issueMs)).toFixed(2),
    medianWaitMs: +median(decode.map((s) => s.waitMs)).toFixed(2),
    backendCalls: decode.length ? Object.values(decode[0].calls).reduce((a, b) => a + b, 0) : 0,
    callsByName: decode[0]?.calls ?? {},
    // Median over decoding steps of the host time spent inside backend calls, in all and by name.
    medianBackendMs: +median(decode.map((s) => Object.values(s.backendMs).reduce((a, b) => a + b, 0))).toFixed(2),
    backendMsByName: Object.fromEntries(Object.keys(decode[0]?.backendMs ?? {}).map((k) =>
      [k, +median(decode.map((s) => s.backendMs[k] ?? 0)).toFixed(3)])),
  },
  tokensPerSecond: +((batch * newTokens) / (totalMs / 1000)).toFixed(1),
  // Bind groups made and reused over the whole run (where the build keeps them).
  bindGroups: be.bindGroupStats ?? null,
};

const profileTokens = Number(opt('profile-tokens', '8'));
if (profileTokens > 1 && 'profileKernels' in be && be.device.features.has('timestamp-query')) {
  be.profileKernels = true;
  let decodeSteps = 0;
  const p0 = performance.now();
  await generate(lm, prompts, {
    maxNewTokens: profileTokens, temperature: 1, ignoreEos: true, seed: 2,
    onStep: () => {
      // Off and on again after the prefill: only decoding steps are summed.
      if (decodeSteps++ === 0) { be.profileKernels = false; be.profileKernels = true; }
    },
  });
  const steps = decodeSteps - 1;
  const times = await be.takeKernelProfile();
  const deviceMs = times.reduce((a, t) => a + t.ms, 0);
  result.profile = {
    decodeSteps: steps, wallMsPerStep: +((performance.now() - p0) / Math.max(1, decodeSteps)).toFixed(2),
    deviceMsPerStep: +(deviceMs / steps).toFixed(3),
    kernels: times.map((t) => ({ kernel: t.kernel, perStep: +(t.count / steps).toFixed(2), msPerStep: +(t.ms / steps).toFixed(3),
      share: +(t.ms / deviceMs).toFixed(3) })),
  };
  be.profileKernels = false;
}
const text = JSON.stringify(result, null, 2);
console.log(text);
if (opt('out')) writeFileSync(opt('out'), text + '\n');
be.destroy();
