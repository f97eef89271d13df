// The JSON summary of scripts/gpu-qwen-run.sh: from each run's metrics.jsonl and config.yaml,
// generation tokens/s (veRL's timing_s/gen, which includes the old log-probs) and update TFLOP/s
// (6 flops per parameter per token per PPO epoch over timing_s/update_actor, 4 with LoRA), the peak
// device memory nvidia-smi saw during each run, and the WebGPU adapter's features.
// Usage: node scripts/gpu-qwen-summary.mjs --device D --run DIR --model DIR --mem-log FILE
//   --init-05b-ms N --init-3b-ms N|null --train-05b-ms N --out FILE
//   and either --lora-run DIR --lora-model DIR --lora-mem-log FILE --train-3b-ms N, or --lora-skipped REASON
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

/**
 * Per-step figures of one run folder. `flopsPerParamToken`: 6 for full fine-tuning (forward 2,
 * input gradients 2, weight gradients 2); 4 for LoRA, whose frozen base gets no weight gradients
 * (the adapters' own FLOPs are left out: under 1% at r 16).
 */
function runSteps(dir, modelDir, flopsPerParamToken) {
  const metricsFile = join(dir, 'metrics.jsonl');
  const steps = existsSync(metricsFile)
    ? readFileSync(metricsFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l))
    : [];
  const config = existsSync(join(dir, 'config.yaml')) ? parse(readFileSync(join(dir, 'config.yaml'), 'utf8')) : null;
  const params = countParameters(loadModelConfig(modelDir), 'lm');
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
      updateTflops: rows && resp !== null && prompt !== null && update
        ? (flopsPerParamToken * params * rows * (prompt + resp) * epochs) / update / 1e12 : null,
      responseLengthMean: resp,
      timing: { gen, ref: get('timing_s/ref'), update_actor: update, step: get('timing_s/step') },
    };
  });
  const m = config?.actor_rollout_ref?.model;
  const lora = m?.lora_rank > 0 ? { rank: m.lora_rank, alpha: m.lora_alpha, frozenWeightDtype: config.trainer.frozen_weight_dtype } : null;
  return { model: { path: modelDir, parameters: params }, lora, rows, ppoEpochs: epochs, steps: perStep };
}

/** The most device memory nvidia-smi saw in a sampled log (MiB), or null without one. */
function peakMemoryMiB(memLog) {
  if (!memLog || !existsSync(memLog)) return null;
  let peak = null;
  for (const line of readFileSync(memLog, 'utf8').split('\n')) {
    const used = Number(line.split(',')[0]);
    if (Number.isFinite(used) && line.trim()) peak = Math.max(peak ?? 0, used);
  }
  return peak;
}

const grpo05b = runSteps(runDir, opt('model'), 6);
const lora3b = opt('lora-run')
  ? { ...runSteps(opt('lora-run'), opt('lora-model'), 4), wallMs: num(opt('train-3b-ms')), peakDeviceMemoryMiB: peakMemoryMiB(opt('lora-mem-log')) }
  : { skipped: opt('lora-skipped') ?? 'no --lora-run given' };

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
  initModelMs: { 'qwen2.5-0.5b': num(opt('init-05b-ms')), 'qwen2.5-3b': num(opt('init-3b-ms')) },
  grpo05b: { ...grpo05b, wallMs: num(opt('train-05b-ms')), peakDeviceMemoryMiB: peakMemoryMiB(opt('mem-log')) },
  lora3b,
  adapter,
};
const text = JSON.stringify(summary, null, 2);
console.log(text);
if (opt('out')) writeFileSync(opt('out'), text + '\n');
