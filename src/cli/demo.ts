/**
 * `tinyzero demo`: the engine end to end in about a minute. A small Qwen2-style transformer learns a
 * short text character by character with AdamW on the CPU backend, printing its loss as it falls, then
 * recites the text from its first words with greedy decoding through the KV cache.
 */
import { createBackend } from '../backend/index.js';
import { generate } from '../generation/index.js';
import { parseModelConfig } from '../models/config.js';
import { CausalLM } from '../models/llama.js';
import { AdamW, clipGradNormAsync, cosineWithWarmup } from '../nn/index.js';
import * as T from '../tensor/index.js';
import { intOption, parseArgs, stringOption } from './args.js';
import type { Command } from './command.js';
import { formatUsage } from './usage.js';

const TEXT = 'TinyZero reproduced DeepSeek R1-Zero on the Countdown game: reinforcement learning on a base model, ' +
  'with a rule-based reward, taught it to search and to check its own work. ';

const spec = {
  steps: { type: 'string' as const, help: 'training steps (default 300)' },
  device: { type: 'string' as const, help: 'cpu, webgpu or reference (default cpu)' },
  threads: { type: 'string' as const, help: 'CPU threads (default: all cores, up to 8)' },
  seed: { type: 'string' as const, help: 'initialisation seed (default 0)' },
};

export const demoCommand: Command = {
  summary: 'train a tiny transformer on a short text and watch the loss fall (engine demo)',
  usage: formatUsage({
    synopsis: ['tinyzero demo [--steps N] [--device cpu|webgpu|reference] [--threads N] [--seed S]'],
    description: 'The engine on its own: a small Qwen2-style transformer learns a short text with AdamW, printing its ' +
      'loss as it falls, then recites the text greedily from its first words.',
    options: spec,
  }),
  async run(args) {
    const parsed = parseArgs(args, spec, 'demo');
    const steps = intOption(parsed, 'steps', 300, 'demo');
    const seed = intOption(parsed, 'seed', 0, 'demo');
    const threads = parsed.options.threads === undefined ? undefined : intOption(parsed, 'threads', 1, 'demo');
    const backend = await createBackend(stringOption(parsed, 'device') ?? 'cpu', { threads });
    T.setBackend(backend);

    const chars = [...new Set(TEXT)].sort();
    const vocab = chars.length;
    const encode = (s: string): number[] => [...s].map((c) => chars.indexOf(c));
    const decode = (ids: ArrayLike<number>): string => Array.from(ids, (i) => chars[i] ?? '?').join('');
    const config = parseModelConfig({
      model_type: 'qwen2', vocab_size: vocab, hidden_size: 64, intermediate_size: 172, num_hidden_layers: 2,
      num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 256, tie_word_embeddings: true,
    });
    const model = new CausalLM(config, { seed });
    const opt = new AdamW(model, { lr: 3e-3 });
    console.log(`demo: ${model.numParameters().toLocaleString()} parameters, vocabulary of ${vocab} characters, ` +
      `backend ${backend.name}${'kernelVariant' in backend ? ` (${String(backend.kernelVariant)})` : ''}`);

    const data = encode(TEXT + TEXT);
    const [B, L] = [12, 64];
    const positions = T.keep(T.tensor(Int32Array.from({ length: B * L }, (_, i) => i % L), [B, L]));
    const start = performance.now();
    let first = NaN;
    let last = NaN;
    for (let step = 1; step <= steps; step++) {
      opt.lr = 3e-3 * cosineWithWarmup(step - 1, 20, steps, 0.1);
      const inputs = new Int32Array(B * L);
      const targets = new Int32Array(B * L);
      for (let b = 0; b < B; b++) {
        const offset = ((step * B + b) * 37) % TEXT.length;
        for (let t = 0; t < L; t++) {
          inputs[b * L + t] = data[offset + t]!;
          targets[b * L + t] = data[offset + t + 1]!;
        }
      }
      const nll = T.tidy(() => {
        const logits = model.forward(T.tensor(inputs, [B, L]), { positions });
        const nll = T.neg(T.mean(T.logprobEntropy(logits, T.tensor(targets, [B, L])).logp));
        nll.backward();
        return T.keep(nll);
      });
      // Asynchronous reads so the same loop runs on WebGPU, which has no synchronous read-back.
      const loss = (await nll.data())[0]!;
      nll.dispose();
      const gradNorm = await clipGradNormAsync(model.parameters(), 1.0);
      opt.step();
      model.zeroGrad();
      if (step === 1) first = loss;
      last = loss;
      if (step === 1 || step % 25 === 0 || step === steps) {
        const seconds = (performance.now() - start) / 1000;
        const tokensPerSecond = (step * B * L) / seconds;
        const eta = (seconds / step) * (steps - step);
        console.log(`step:${step} - loss:${loss.toFixed(3)} - grad_norm:${gradNorm.toFixed(3)} - lr:${opt.lr.toExponential(2)} - ` +
          `tokens/s:${tokensPerSecond.toFixed(0)} - eta_s:${eta.toFixed(0)}`);
      }
    }
    // Continue only as far as the training windows reached (L positions): longer would leave what it learnt.
    const prompt = TEXT.slice(0, 16);
    const out = await generate(model, [encode(prompt)], { maxNewTokens: L - 16, temperature: 0, ignoreEos: true });
    console.log(`\nloss ${first.toFixed(3)} -> ${last.toFixed(3)} in ${((performance.now() - start) / 1000).toFixed(1)} s`);
    console.log(`greedy continuation of "${prompt}":\n  ${prompt}${decode(out.responseIds)}`);
    const stats = backend.memoryStats();
    console.log(`memory: ${(stats.bytesInUse / 1024).toFixed(0)} KiB in use, peak ${(stats.peakBytesInUse / 1024).toFixed(0)} KiB, ` +
      `${stats.liveBuffers} live buffers`);
    positions.dispose();
    opt.dispose();
    model.dispose();
    backend.destroy();
    return 0;
  },
};
