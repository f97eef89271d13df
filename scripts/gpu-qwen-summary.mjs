// The JSON summary of scripts/gpu-qwen-run.sh: from the run's metrics.jsonl and config.yaml,
// generation tokens/s (veRL's timing_s/gen, which includes the old log-probs) and update TFLOP/s
// (6 flops per parameter per token per PPO epoch over timing_s/update_actor), the peak device
// memory nvidia-smi saw, and the WebGPU adapter's features.
// Usage: node scripts/gpu-qwen-summary.mjs --device D --run DIR --model DIR --mem-log FILE
//   --init-05b-ms N --init-3b-ms N|null --train-05b-ms N --lora-3b JSON --out FILE
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadModelConfig } from '../dist/src/models/config.js';
import { countParameters } from '../dist/src/models/load.js';

const argv = process.argv.slice(2);
const opt = (name) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const num = (s) => (s === undefined || s === 'null' ? null : Number(s));
const runDir = opt('run');
const device = opt('device') ?? 'webgpu';

const metricsFile = join(runDir, 'metrics.jsonl');
const steps = existsSync(metricsFile)
  ? readFileSync(metricsFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l))
  : [];
const config = existsSync(join(runDir, 'config.yaml')) ? parse(readFileSync(join(runDir, 'config.yaml'), 'utf8')) : null;
const params = countParameters(loadModelConfig(opt('model')), 'lm');
const rows = config ? config.data.train_batch_size * config.actor_rollout_ref.rollout.n : null;
const epochs = config?.actor_rollout_ref?.actor?.ppo_epochs ?? 1;
const perStep = steps.map((m) => {
  const get = (k) => (typeof m[k] === 'number' ? m[k] : (m.data?.[k] ?? null));
  const resp = get('response_length/mean');
  const prompt = get('prompt_length/mean');
  const gen = get('timing_s/gen');
  const update = get('timing_s/update_actor');
  return {
    step: m.step ?? get('step'),
    genTokensPerSecond: rows && resp !== null && gen ? (rows * resp) / gen : null,
    updateTflops: rows && resp !== null && prompt !== null && update ? (6 * params * rows * (prompt + resp) * epochs) / update / 1e12 : null,
    timing: { gen, update_actor: update, step: get('timing_s/step') },
  };
});

let peakMiB = null;
const memLog = opt('mem-log');
if (memLog && existsSync(memLog)) {
  for (const line of readFileSync(memLog, 'utf8').split('\n')) {
    const used = Number(line.split(',')[0]);
    if (Number.isFinite(used) && line.trim()) peakMiB = Math.max(peakMiB ?? 0, used);
  }
}

let adapter = null;
if (device === 'webgpu') {
  try {
    const { createNodeWebGpuBackend } = await import('../dist/src/backend/webgpu/node.js');
    const be = await createNodeWebGpuBackend();
    adapter = be ? { ...be.adapter, limits: undefined } : { error: 'no WebGPU adapter' };
    be?.destroy();
  } catch (e) {
    adapter = { error: e.message };
  }
}

const summary = {
  device,
  model: { path: opt('model'), parameters: params },
  initModelMs: { 'qwen2.5-0.5b': num(opt('init-05b-ms')), 'qwen2.5-3b': num(opt('init-3b-ms')) },
  grpo05b: { wallMs: num(opt('train-05b-ms')), rows, ppoEpochs: epochs, steps: perStep },
  peakDeviceMemoryMiB: peakMiB,
  adapter,
  lora3b: JSON.parse(opt('lora-3b') ?? 'null'),
};
const text = JSON.stringify(summary, null, 2);
console.log(text);
if (opt('out')) writeFileSync(opt('out'), text + '\n');
