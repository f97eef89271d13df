/**
 * `tinyzero init-model`: a randomly initialised model folder laid out as the Hugging Face hub has
 * Qwen2.5 (config.json, generation_config.json, safetensors shards and index, the Qwen tokenizer), so
 * benchmarks, parity checks and GPU runs can use real dimensions without a download.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { initPresets, pythonJson, resolveInitConfig, type InitDtype } from '../models/init-config.js';
import { writeRandomWeights } from '../models/init-weights.js';
import { countParameters } from '../models/load.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { QWEN25_LAST_TOKEN_ID, writeQwen25Tokenizer } from '../tokenizer/qwen25-files.js';
import { intOption, parseArgs, stringOption } from './args.js';
import type { Command } from './command.js';
import { formatUsage } from './usage.js';

const spec = {
  config: { type: 'string' as const, help: `${Object.keys(initPresets).join(' | ')} | FILE.json (a config.json)` },
  out: { type: 'string' as const, help: 'output folder (must not exist or be empty)' },
  dtype: { type: 'string' as const, help: 'bf16 (default, as the hub stores Qwen2.5) or f32' },
  seed: { type: 'string' as const, help: 'default 0' },
  layers: { type: 'string' as const, help: 'override num_hidden_layers (a shallow model with the real widths, for tests)' },
};

export const initModelCommand: Command = {
  summary: 'write a randomly initialised Qwen2.5 (or config.json) model folder in Hugging Face layout',
  usage: formatUsage({
    synopsis: ['tinyzero init-model --config qwen2.5-0.5b|qwen2.5-1.5b|qwen2.5-3b|FILE.json --out DIR [--dtype bf16|f32] [--seed N] [--layers N]'],
    description: 'Writes a Hugging Face model folder with random weights (initialised as transformers does) at Qwen2.5\'s real ' +
      'dimensions: config.json, generation_config.json, safetensors shards with their index where the hub shards, and the Qwen tokenizer.',
    options: spec,
    notes: ['example: tinyzero init-model --config qwen2.5-0.5b --out models/qwen2.5-0.5b-random (docs/qwen.md)'],
  }),
  async run(args) {
    const cmd = 'init-model';
    const parsed = parseArgs(args, spec, cmd);
    if (parsed.positionals.length > 0) throw new Error(`${cmd}: unexpected argument '${parsed.positionals[0]}'`);
    const name = stringOption(parsed, 'config');
    const out = stringOption(parsed, 'out');
    if (!name) throw new Error(`${cmd}: --config is required (${Object.keys(initPresets).join(', ')} or FILE.json)`);
    if (!out) throw new Error(`${cmd}: --out DIR is required`);
    const dtype = stringOption(parsed, 'dtype') ?? 'bf16';
    if (dtype !== 'bf16' && dtype !== 'f32') throw new Error(`${cmd}: --dtype must be bf16 or f32, got '${dtype}'`);
    const seed = intOption(parsed, 'seed', 0, cmd);
    const layers = parsed.options.layers === undefined ? undefined : intOption(parsed, 'layers', 0, cmd);
    if (layers !== undefined && layers < 1) throw new Error(`${cmd}: --layers must be at least 1, got ${layers}`);
    // Refuse a folder with anything in it: a model folder the user owns is never overwritten.
    if (existsSync(out) && (!statSync(out).isDirectory() || readdirSync(out).length > 0)) {
      throw new Error(`${cmd}: --out ${out} exists and is not an empty folder; choose a new one`);
    }
    const { preset, config } = resolveInitConfig(name, dtype as InitDtype, layers);
    mkdirSync(out, { recursive: true });
    const params = countParameters(config, 'lm');
    const bytesPer = dtype === 'bf16' ? 2 : 4;
    console.error(`${cmd}: ${name}${layers ? ` with ${layers} layers` : ''}, ${params.toLocaleString()} parameters, ` +
      `${(params * bytesPer / 1e9).toFixed(2)} GB in ${dtype}, seed ${seed} -> ${out}`);
    const started = Date.now();
    writeRandomWeights(out, config, {
      dtype: dtype === 'bf16' ? 'BF16' : 'F32', seed, maxShardBytes: preset.maxShardBytes,
      onShard: (file, k, count) => console.error(`${cmd}: wrote ${file} (${k + 1}/${count}, ${((Date.now() - started) / 1000).toFixed(1)} s)`),
    });
    writeFileAtomic(join(out, 'generation_config.json'), pythonJson(preset.generationConfig));
    if (config.vocab_size > QWEN25_LAST_TOKEN_ID) {
      writeQwen25Tokenizer(out);
    } else {
      console.error(`${cmd}: vocab_size ${config.vocab_size} is smaller than the Qwen tokenizer's ${QWEN25_LAST_TOKEN_ID + 1} ids: no tokenizer written`);
    }
    // config.json last: a folder with a config.json is a complete one.
    writeFileAtomic(join(out, 'config.json'), pythonJson(preset.config));
    console.log(out);
    return 0;
  },
};
