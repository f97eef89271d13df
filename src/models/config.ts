/**
 * Hugging Face `config.json` for `LlamaForCausalLM` and `Qwen2ForCausalLM`.
 *
 * The typed config keeps the HF snake_case key names, so a field reads the same here, in the
 * checkpoint and in transformers' source. Defaults follow transformers' `LlamaConfig` / `Qwen2Config`;
 * the size keys (vocab, hidden, intermediate, layers, heads) are required because a default there
 * would silently describe a different model. Keys we do not model are kept in `extra` and written back.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import { intKey, numberKey, optionalTokenId, positiveInt, type Json } from './config-keys.js';

export type ModelType = 'llama' | 'qwen2';
export type TorchDtype = 'float32' | 'bfloat16' | 'float16';

const architectureOf: { [M in ModelType]: string } = { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM' };
/** A saved critic (backbone + one-output `score` head) names the token-classification class. */
const criticArchitectureOf: { [M in ModelType]: string } = { llama: 'LlamaForTokenClassification', qwen2: 'Qwen2ForTokenClassification' };

export interface ModelConfig {
  readonly model_type: ModelType;
  readonly architectures: readonly string[];
  readonly vocab_size: number;
  readonly hidden_size: number;
  readonly intermediate_size: number;
  readonly num_hidden_layers: number;
  readonly num_attention_heads: number;
  /** Grouped-query attention: each KV head serves num_attention_heads / num_key_value_heads query heads. */
  readonly num_key_value_heads: number;
  readonly head_dim: number;
  readonly rms_norm_eps: number;
  readonly rope_theta: number;
  readonly max_position_embeddings: number;
  readonly tie_word_embeddings: boolean;
  /** Llama: bias on q/k/v/o. Ignored by Qwen2, whose q/k/v always have a bias (see `attentionBiases`). */
  readonly attention_bias: boolean;
  readonly mlp_bias: boolean;
  readonly hidden_act: 'silu';
  readonly bos_token_id: number | null;
  /** HF allows a list (several stop tokens); see `eosTokenIds`. */
  readonly eos_token_id: number | readonly number[] | null;
  readonly pad_token_id: number | null;
  readonly torch_dtype: TorchDtype;
  /** Only plain RoPE is supported. */
  readonly rope_scaling: null;
  /** Every other key of the file (transformers_version, initializer_range, ...), written back unchanged. */
  readonly extra: Readonly<Record<string, Json>>;
}

/** Keys this module interprets; everything else lands in `extra`. */
const modelledKeys = new Set([
  'model_type', 'architectures', 'vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers',
  'num_attention_heads', 'num_key_value_heads', 'head_dim', 'rms_norm_eps', 'rope_theta', 'max_position_embeddings',
  'tie_word_embeddings', 'attention_bias', 'mlp_bias', 'hidden_act', 'bos_token_id', 'eos_token_id', 'pad_token_id',
  'torch_dtype', 'dtype', 'rope_scaling',
]);

/** transformers' defaults where the two configs differ. */
const defaults: { [M in ModelType]: { max_position_embeddings: number; bos: number | null; eos: number | null } } = {
  llama: { max_position_embeddings: 2048, bos: 1, eos: 2 },
  qwen2: { max_position_embeddings: 32768, bos: null, eos: null },
};

/** Bias flags per projection, resolving the Qwen2 rule (q/k/v biased, o_proj not, whatever the config says). */
export function attentionBiases(c: ModelConfig): { qkv: boolean; o: boolean } {
  return c.model_type === 'qwen2' ? { qkv: true, o: false } : { qkv: c.attention_bias, o: c.attention_bias };
}

export function eosTokenIds(c: ModelConfig): number[] {
  return c.eos_token_id === null ? [] : typeof c.eos_token_id === 'number' ? [c.eos_token_id] : [...c.eos_token_id];
}

/** Parses the JSON object of a config.json; `file` names it in errors. */
export function parseModelConfig(json: unknown, file = 'config.json'): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${file}: must be a JSON object`);
  const o = json as Record<string, Json>;
  const modelType = o.model_type;
  if (modelType !== 'llama' && modelType !== 'qwen2') {
    throw new Error(`${file}: model_type ${JSON.stringify(modelType)} is not supported (llama, qwen2)`);
  }
  const arch = o.architectures ?? [architectureOf[modelType]];
  const known = [architectureOf[modelType], criticArchitectureOf[modelType]];
  if (!Array.isArray(arch) || arch.length !== 1 || !known.includes(String(arch[0]))) {
    throw new Error(`${file}: architectures ${JSON.stringify(arch)}: expected ["${known[0]}"] or ["${known[1]}"] for model_type '${modelType}'`);
  }
  const k = { file, o };
  const hidden = positiveInt(k, 'hidden_size');
  const heads = positiveInt(k, 'num_attention_heads');
  const kvHeads = o.num_key_value_heads == null ? heads : positiveInt(k, 'num_key_value_heads');
  if (heads % kvHeads !== 0) throw new Error(`${file}: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  if (o.head_dim == null && hidden % heads !== 0) {
    throw new Error(`${file}: hidden_size ${hidden} is not divisible by num_attention_heads ${heads} (and no head_dim given)`);
  }
  const headDim = o.head_dim == null ? hidden / heads : positiveInt(k, 'head_dim');
  // RoPE rotates the halves of each head against each other.
  if (headDim % 2 !== 0) {
    throw new Error(`${file}: head_dim ${headDim}${o.head_dim == null ? ` (hidden_size ${hidden} / num_attention_heads ${heads})` : ''} must be even for rotary embeddings`);
  }
  const vocab = positiveInt(k, 'vocab_size');
  const hiddenAct = o.hidden_act ?? 'silu';
  if (hiddenAct !== 'silu') throw new Error(`${file}: hidden_act ${JSON.stringify(hiddenAct)} is not supported (only "silu")`);
  if (o.rope_scaling != null) {
    throw new Error(`${file}: rope_scaling ${JSON.stringify(o.rope_scaling)} is not supported (only null: plain RoPE)`);
  }
  if (modelType === 'qwen2' && o.use_sliding_window === true) {
    throw new Error(`${file}: use_sliding_window true is not supported (sliding-window attention)`);
  }
  if (typeof o.attention_dropout === 'number' && o.attention_dropout !== 0) {
    throw new Error(`${file}: attention_dropout ${o.attention_dropout} is not supported (only 0)`);
  }
  const dtype = o.torch_dtype ?? o.dtype ?? 'float32'; // newer transformers write `dtype`
  if (dtype !== 'float32' && dtype !== 'bfloat16' && dtype !== 'float16') {
    throw new Error(`${file}: torch_dtype ${JSON.stringify(dtype)} is not supported (float32, bfloat16, float16)`);
  }
  const d = defaults[modelType];
  const extra: Record<string, Json> = {};
  for (const [key, value] of Object.entries(o)) if (!modelledKeys.has(key)) extra[key] = value;
  return {
    model_type: modelType,
    architectures: [String(arch[0])],
    vocab_size: vocab,
    hidden_size: hidden,
    intermediate_size: positiveInt(k, 'intermediate_size'),
    num_hidden_layers: positiveInt(k, 'num_hidden_layers'),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    rms_norm_eps: numberKey(k, 'rms_norm_eps', 1e-6, (x) => x > 0),
    rope_theta: numberKey(k, 'rope_theta', 10000, (x) => x > 0),
    max_position_embeddings: intKey(k, 'max_position_embeddings', d.max_position_embeddings),
    tie_word_embeddings: boolKey(k, 'tie_word_embeddings', false),
    attention_bias: boolKey(k, 'attention_bias', false),
    mlp_bias: modelType === 'qwen2' ? false : boolKey(k, 'mlp_bias', false), // Qwen2's MLP never has a bias
    hidden_act: 'silu',
    bos_token_id: optionalTokenId(k, 'bos_token_id', d.bos, vocab) as number | null,
    eos_token_id: optionalTokenId(k, 'eos_token_id', d.eos, vocab, true),
    pad_token_id: optionalTokenId(k, 'pad_token_id', null, vocab) as number | null,
    torch_dtype: dtype,
    rope_scaling: null,
    extra,
  };
}

function boolKey(k: { file: string; o: Record<string, Json> }, key: string, fallback: boolean): boolean {
  const v = k.o[key];
  if (v == null) return fallback;
  if (typeof v !== 'boolean') throw new Error(`${k.file}: ${key} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** Reads `config.json` from a model folder (or the file itself). */
export function loadModelConfig(path: string): ModelConfig {
  const file = path.endsWith('.json') ? path : join(path, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read model config: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  return parseModelConfig(json, file);
}

/** The config.json text as transformers writes it: sorted keys, 2-space indent, trailing newline. */
export function toHfConfigJson(c: ModelConfig): string {
  const { extra, ...known } = c;
  const obj: Record<string, unknown> = { ...extra, ...known };
  if (c.model_type === 'qwen2') {
    // Not Qwen2Config keys: its biases are fixed by the architecture.
    delete obj.attention_bias;
    delete obj.mlp_bias;
  }
  const sorted = Object.fromEntries(Object.keys(obj).sort().map((key) => [key, obj[key]]));
  return JSON.stringify(sorted, null, 2) + '\n';
}

/** Writes `dir/config.json` atomically. */
export function saveModelConfig(dir: string, c: ModelConfig): string {
  const file = join(dir, 'config.json');
  writeFileAtomic(file, toHfConfigJson(c));
  return file;
}
