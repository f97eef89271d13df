/** `tinyzero generate`: sample continuations of a prompt from a Hugging Face folder. */
import { createBackend } from '../backend/index.js';
import { generate } from '../generation/index.js';
import { loadCausalLM } from '../models/load.js';
import { loadLora } from '../models/lora.js';
import { setBackend } from '../tensor/index.js';
import { decodeGenerated, loadTokenizer } from '../tokenizer/index.js';
import { floatOption, intOption, parseArgs, stringOption } from './args.js';
import type { Command } from './command.js';
import { formatUsage } from './usage.js';

const spec = {
  model: { type: 'string' as const, help: 'Hugging Face folder (config.json, safetensors, tokenizer)' },
  lora: { type: 'string' as const, help: 'PEFT LoRA folder (adapter_config.json, adapter_model.safetensors) applied on top of --model' },
  prompt: { type: 'string' as const, help: 'prompt text (used as is, like TinyZero: no chat template)' },
  'prompt-ids': { type: 'string' as const, help: 'prompt token ids, comma-separated' },
  chat: { type: 'boolean' as const, help: 'wrap --prompt in the tokenizer\'s chat template' },
  'max-new-tokens': { type: 'string' as const, help: 'default 64' },
  temperature: { type: 'string' as const, help: '0 = greedy (default 1)' },
  'top-p': { type: 'string' as const, help: 'default 1' },
  'top-k': { type: 'string' as const, help: '-1 or 0 = off (default -1)' },
  n: { type: 'string' as const, help: 'samples (default 1)' },
  seed: { type: 'string' as const, help: 'default 0' },
  'ignore-eos': { type: 'boolean' as const, help: 'do not stop at eos' },
  logprobs: { type: 'boolean' as const, help: 'print per-token log-probs' },
  json: { type: 'boolean' as const, help: 'one JSON object per sample' },
  device: { type: 'string' as const, help: 'cpu, webgpu or reference (default cpu)' },
  threads: { type: 'string' as const, help: 'CPU threads' },
  'weight-dtype': { type: 'string' as const, help: 'f32 or f16 (cpu, or webgpu with shader-f16; default f32)' },
};

export const generateCommand: Command = {
  summary: 'generate from a model folder (--model DIR --prompt TEXT)',
  usage: formatUsage({
    synopsis: ['tinyzero generate --model DIR (--prompt TEXT | --prompt-ids 1,2,3) [options]'],
    description: 'Samples continuations of one prompt from a Hugging Face folder (config.json, safetensors, tokenizer.json).',
    options: spec,
    notes: [
      'example: tinyzero generate --model assets/models/countdown-base --prompt "2+3=" --temperature 0',
      'ids past the tokenizer\'s vocabulary (Qwen2.5 has 151,936 embedding rows for 151,665 token ids) print as empty text, as in transformers; --json keeps them in token_ids',
    ],
  }),
  async run(args) {
    const cmd = 'generate';
    const parsed = parseArgs(args, spec, cmd);
    const dir = stringOption(parsed, 'model');
    if (!dir) throw new Error(`${cmd}: --model DIR is required`);
    const text = stringOption(parsed, 'prompt');
    const idsText = stringOption(parsed, 'prompt-ids');
    if ((text === undefined) === (idsText === undefined)) throw new Error(`${cmd}: give exactly one of --prompt or --prompt-ids`);
    const threads = parsed.options.threads === undefined ? undefined : intOption(parsed, 'threads', 1, cmd);
    const weightDtype = stringOption(parsed, 'weight-dtype') ?? 'f32';
    if (weightDtype !== 'f32' && weightDtype !== 'f16') throw new Error(`${cmd}: --weight-dtype must be f32 or f16, got '${weightDtype}'`);
    const backend = await createBackend(stringOption(parsed, 'device') ?? 'cpu', { threads, weightDtype });
    setBackend(backend);
    try {
      const tokenizer = loadTokenizer(dir);
      let promptIds: number[];
      if (idsText !== undefined) {
        promptIds = idsText.split(',').map((s) => {
          const v = Number(s.trim());
          if (s.trim() === '' || !Number.isInteger(v)) throw new Error(`${cmd}: --prompt-ids expects comma-separated integers, got '${s}'`);
          return v;
        });
      } else {
        const rendered = parsed.options.chat ? tokenizer.applyChatTemplate([{ role: 'user', content: text! }], { addGenerationPrompt: true }) : text!;
        promptIds = tokenizer.encode(rendered, { addSpecialTokens: false });
      }
      const model = loadCausalLM(dir, { frozen: true });
      const loraDir = stringOption(parsed, 'lora');
      try {
        // The adapters stay f32 beside the (possibly f16) frozen base.
        if (loraDir) loadLora(model, loraDir, `${cmd} --lora ${loraDir}`);
      } catch (err) {
        model.dispose();
        throw err;
      }
      const out = await generate(model, [promptIds], {
        maxNewTokens: intOption(parsed, 'max-new-tokens', 64, cmd),
        temperature: floatOption(parsed, 'temperature', 1, cmd),
        topP: floatOption(parsed, 'top-p', 1, cmd),
        topK: intOption(parsed, 'top-k', -1, cmd),
        n: intOption(parsed, 'n', 1, cmd),
        seed: intOption(parsed, 'seed', 0, cmd),
        ignoreEos: parsed.options['ignore-eos'] === true,
        eosTokenIds: [tokenizer.eosTokenId],
        padTokenId: tokenizer.padTokenId,
      });
      for (let r = 0; r < out.rows; r++) {
        const len = out.lengths[r]!;
        const ids = Array.from(out.responseIds.subarray(r * out.width, r * out.width + len));
        const logprobs = Array.from(out.logprobs.subarray(r * out.width, r * out.width + len), (v) => Number(v.toFixed(6)));
        const decoded = decodeGenerated(tokenizer, ids);
        if (parsed.options.json) {
          console.log(JSON.stringify({ token_ids: ids, text: decoded, ...(parsed.options.logprobs ? { logprobs } : {}) }));
        } else {
          console.log(out.rows > 1 ? `--- sample ${r + 1}\n${decoded}` : decoded);
          if (parsed.options.logprobs) console.log(`logprobs: ${logprobs.map((v) => v.toFixed(3)).join(' ')}`);
        }
      }
      model.dispose();
    } finally {
      backend.destroy();
    }
    return 0;
  },
};
