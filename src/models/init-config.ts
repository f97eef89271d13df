/**
 * The config files of a freshly initialised model: Qwen2.5's released `config.json` and
 * `generation_config.json` values (the base models, Qwen/Qwen2.5-{0.5B,1.5B,3B} on the Hugging Face
 * hub), or a user's own config.json. The text is written as transformers writes it
 * (`json.dumps(indent=2, sort_keys=True)`), floats included (`1e-06`, `1000000.0`), so the folder
 * reads the same as a downloaded one.
 */
import { readFileSync } from 'node:fs';
import { parseModelConfig, type ModelConfig } from './config.js';
import type { Json } from './config-keys.js';

export type InitDtype = 'bf16' | 'f32';

export interface InitPreset {
  /** config.json as the hub has it, with torch_dtype set by `--dtype`. */
  readonly config: Readonly<Record<string, Json>>;
  readonly generationConfig: Readonly<Record<string, Json>>;
  /**
   * Largest shard in bytes of tensor data. Qwen2.5's uploads split at 4 GB: 0.5B (988 MB in BF16) and
   * 1.5B (3.1 GB) are one `model.safetensors`, 3B (6.2 GB) two shards plus the index.
   */
  readonly maxShardBytes: number;
}

const QWEN_SHARD_BYTES = 4_000_000_000;
const QWEN_BASE_TOKEN = 151643; // <|endoftext|>: bos, eos and pad of the base models

function qwen25(hidden: number, layers: number, heads: number, intermediate: number): Record<string, Json> {
  return {
    architectures: ['Qwen2ForCausalLM'],
    attention_dropout: 0.0,
    bos_token_id: QWEN_BASE_TOKEN,
    eos_token_id: QWEN_BASE_TOKEN,
    hidden_act: 'silu',
    hidden_size: hidden,
    initializer_range: 0.02,
    intermediate_size: intermediate,
    max_position_embeddings: 32768,
    max_window_layers: layers,
    model_type: 'qwen2',
    num_attention_heads: heads,
    num_hidden_layers: layers,
    num_key_value_heads: 2,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000.0,
    sliding_window: 32768,
    tie_word_embeddings: true,
    torch_dtype: 'bfloat16',
    transformers_version: '4.40.1',
    use_cache: true,
    use_mrope: false,
    use_sliding_window: false,
    vocab_size: 151936,
  };
}

const qwenGeneration: Record<string, Json> = {
  bos_token_id: QWEN_BASE_TOKEN,
  do_sample: false,
  eos_token_id: QWEN_BASE_TOKEN,
  max_new_tokens: 2048,
  transformers_version: '4.37.0',
};

export const initPresets: Readonly<Record<string, InitPreset>> = {
  'qwen2.5-0.5b': { config: qwen25(896, 24, 14, 4864), generationConfig: qwenGeneration, maxShardBytes: QWEN_SHARD_BYTES },
  'qwen2.5-1.5b': { config: qwen25(1536, 28, 12, 8960), generationConfig: qwenGeneration, maxShardBytes: QWEN_SHARD_BYTES },
  'qwen2.5-3b': { config: qwen25(2048, 36, 16, 11008), generationConfig: qwenGeneration, maxShardBytes: QWEN_SHARD_BYTES },
};

/** Keys whose values transformers writes as Python floats (`0.0`, `1e-06`), whatever their value. */
const floatKeys = new Set(['attention_dropout', 'initializer_range', 'rms_norm_eps', 'rope_theta', 'mlp_dropout', 'hidden_dropout']);

/**
 * A preset name or a config.json file, with `layers` replacing num_hidden_layers when given. A file keeps every key it has; its generation config is
 * made from its bos/eos ids; it is written as one shard up to transformers' default 5 GB.
 */
export function resolveInitConfig(nameOrFile: string, dtype: InitDtype, layers?: number): { preset: InitPreset; config: ModelConfig } {
  const named = initPresets[nameOrFile];
  let base: InitPreset;
  if (named) {
    base = named;
  } else if (nameOrFile.endsWith('.json')) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(nameOrFile, 'utf8'));
    } catch (e) {
      throw new Error(`${nameOrFile}: cannot read the model config: ${(e as Error).message}`);
    }
    parseModelConfig(json, nameOrFile); // validates before anything is written
    const o = json as Record<string, Json>;
    const generationConfig: Record<string, Json> = { do_sample: false, max_new_tokens: 2048 };
    if (o.bos_token_id != null) generationConfig.bos_token_id = o.bos_token_id;
    if (o.eos_token_id != null) generationConfig.eos_token_id = o.eos_token_id;
    base = { config: o, generationConfig, maxShardBytes: 5_000_000_000 };
  } else {
    throw new Error(`init-model: --config '${nameOrFile}' is neither a preset (${Object.keys(initPresets).join(', ')}) nor a .json file`);
  }
  const withDtype: Record<string, Json> = { ...base.config, torch_dtype: dtype === 'bf16' ? 'bfloat16' : 'float32' };
  delete withDtype.dtype;
  if (layers !== undefined) {
    withDtype.num_hidden_layers = layers;
    if ('max_window_layers' in withDtype) withDtype.max_window_layers = layers;
  }
  const preset = { ...base, config: withDtype };
  return { preset, config: parseModelConfig(withDtype, named ? `preset ${nameOrFile}` : nameOrFile) };
}

/** A number as Python's `repr(float)` prints it: `0.0`, `0.02`, `1e-06`, `1000000.0`. */
export function pythonFloat(x: number): string {
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : x < 0 ? '-Infinity' : 'NaN'; // json.dumps' spelling
  const abs = Math.abs(x);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e16)) {
    const [mantissa, exp] = x.toExponential().split('e') as [string, string];
    const sign = exp.startsWith('-') ? '-' : '+';
    const digits = exp.replace(/^[-+]/, '').padStart(2, '0');
    return `${mantissa}e${sign}${digits}`;
  }
  return Number.isInteger(x) ? `${x}.0` : String(x);
}

/** `json.dumps(value, indent=2, sort_keys=True)` plus the newline transformers appends. */
export function pythonJson(value: Readonly<Record<string, Json>>): string {
  const write = (v: Json, indent: string, key: string | null): string => {
    if (v === null) return 'null';
    if (typeof v === 'number') return key !== null && floatKeys.has(key) ? pythonFloat(v) : Number.isInteger(v) ? String(v) : pythonFloat(v);
    if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
    const inner = indent + '  ';
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      return `[\n${v.map((x) => inner + write(x, inner, null)).join(',\n')}\n${indent}]`;
    }
    const keys = Object.keys(v).sort();
    if (keys.length === 0) return '{}';
    return `{\n${keys.map((k) => `${inner}${JSON.stringify(k)}: ${write((v as Record<string, Json>)[k]!, inner, k)}`).join(',\n')}\n${indent}}`;
  };
  return write(value as Json, '', null) + '\n';
}
