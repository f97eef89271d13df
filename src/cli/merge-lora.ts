/** `tinyzero merge-lora`: a PEFT LoRA folder folded into its base, written as a full Hugging Face folder. */
import { existsSync, readdirSync } from 'node:fs';
import { createBackend } from '../backend/index.js';
import { loadCausalLM, saveModel } from '../models/load.js';
import { loadLora, mergeLora } from '../models/lora.js';
import { isFloatDtype } from '../models/dtype.js';
import { setBackend } from '../tensor/index.js';
import { parseArgs, stringOption } from './args.js';
import type { Command } from './command.js';
import { formatUsage } from './usage.js';

const spec = {
  model: { type: 'string' as const, help: 'the base: a Hugging Face folder' },
  lora: { type: 'string' as const, help: 'PEFT LoRA folder (adapter_config.json, adapter_model.safetensors)' },
  out: { type: 'string' as const, help: 'new folder for the merged model (must not exist or be empty)' },
  dtype: { type: 'string' as const, help: 'stored dtype: BF16 (default), F16 or F32' },
  device: { type: 'string' as const, help: 'cpu or reference (default cpu)' },
};

export const mergeLoraCommand: Command = {
  summary: 'fold a LoRA adapter into its base (--model DIR --lora DIR --out DIR)',
  usage: formatUsage({
    synopsis: ['tinyzero merge-lora --model BASE_DIR --lora PEFT_DIR --out DIR [--dtype BF16|F16|F32] [--device cpu|reference]'],
    description: 'Folds a PEFT LoRA adapter (adapter_config.json, adapter_model.safetensors) into its base model and writes a full Hugging Face folder.',
    options: spec,
  }),
  async run(args) {
    const cmd = 'merge-lora';
    const parsed = parseArgs(args, spec, cmd);
    const dir = stringOption(parsed, 'model');
    const loraDir = stringOption(parsed, 'lora');
    const out = stringOption(parsed, 'out');
    if (!dir || !loraDir || !out) throw new Error(`${cmd}: --model DIR, --lora DIR and --out DIR are all required`);
    const dtype = stringOption(parsed, 'dtype') ?? 'BF16';
    if (!isFloatDtype(dtype)) throw new Error(`${cmd}: --dtype must be BF16, F16 or F32, got '${dtype}'`);
    if (existsSync(out) && readdirSync(out).length > 0) throw new Error(`${cmd}: --out ${out} exists and is not empty; give a new folder`);
    const backend = await createBackend(stringOption(parsed, 'device') ?? 'cpu');
    setBackend(backend);
    try {
      const model = loadCausalLM(dir, { backend });
      try {
        // Everything is checked (shapes, names) before the first file is written.
        const lora = loadLora(model, loraDir, `${cmd} --lora ${loraDir}`);
        const adapted = lora.adapters.size;
        await mergeLora(lora);
        await saveModel(model, out, { dtype, tokenizerFrom: dir });
        console.log(`merge-lora: ${adapted} adapted layers of ${loraDir} folded into ${dir}; wrote ${out} (${dtype})`);
      } finally {
        model.dispose();
      }
    } finally {
      backend.destroy();
    }
    return 0;
  },
};
