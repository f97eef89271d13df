/**
 * Hugging Face folders <-> our models: config.json plus model.safetensors (or a sharded index).
 * Parameter paths equal the checkpoint names, so loading is a lookup by name.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import type { Module } from '../nn/index.js';
import { getBackend } from '../tensor/index.js';
import { loadModelConfig, saveModelConfig, type ModelConfig } from './config.js';
import type { FloatDtype } from './dtype.js';
import { openWeights, saveWeights } from './safetensors-sharded.js';
import { rawToFloat16, type WeightSource } from './safetensors.js';
import { CausalLM, ValueModel } from './llama.js';

export interface LoadModelOptions {
  backend?: Backend;
  /** Parameters plus gradients and AdamW moments must fit too (4 copies instead of 1). */
  forTraining?: boolean;
  /** Length of the RoPE tables (default min(max_position_embeddings, 8192)). */
  maxPositions?: number;
  /**
   * A frozen model (reference policy, generation only): its weights take the backend's
   * `weightDtype`, so f16 where the backend was asked for f16 and has it. Not with forTraining.
   */
  frozen?: boolean;
}

/** Checkpoint entries that are buffers, not parameters (older HF Llama checkpoints store inv_freq). */
const ignoredEntry = /\.rotary_emb\.inv_freq$/;

/** Parameter count of a config, for the memory check before anything is allocated. */
export function countParameters(c: ModelConfig, head: 'lm' | 'value'): number {
  const { hidden_size: h, intermediate_size: i, num_attention_heads: H, num_key_value_heads: Hkv, head_dim: D, vocab_size: V } = c;
  const qkvBias = c.model_type === 'qwen2' || c.attention_bias;
  const attn = h * H * D + 2 * h * Hkv * D + H * D * h + (qkvBias ? H * D + 2 * Hkv * D : 0) + (c.model_type !== 'qwen2' && c.attention_bias ? h : 0);
  const mlp = 3 * h * i + (c.mlp_bias ? 2 * i + h : 0);
  const layer = attn + mlp + 2 * h;
  const headParams = head === 'value' ? h + 1 : c.tie_word_embeddings ? 0 : V * h;
  return V * h + c.num_hidden_layers * layer + h + headParams;
}

/** Throws a clear error when the model cannot fit the backend's memory. */
export function checkFits(c: ModelConfig, head: 'lm' | 'value', backend: Backend, forTraining: boolean, where: string): void {
  const cap = backend.capacityBytes;
  if (cap === undefined) return;
  const params = countParameters(c, head);
  const copies = forTraining ? 4 : 1;
  const bytes = params * 4 * copies;
  if (bytes > cap) {
    const gib = (b: number): string => (b / 2 ** 30).toFixed(2);
    throw new Error(`${where}: ${params.toLocaleString()} parameters need ${gib(bytes)} GiB in f32` +
      `${forTraining ? ' for training (weights, gradients and two AdamW moments)' : ''}, more than the ${backend.name} ` +
      `backend's ${gib(cap)} GiB; the CPU backend holds about ${Math.floor(cap / 4 / 1e6)}M parameters for inference and ` +
      `${Math.floor(cap / 16 / 1e6)}M for training. Use a smaller model or --device webgpu.`);
  }
}

function loadInto(model: Module, weights: WeightSource, dir: string, optional: (name: string) => boolean): void {
  const own = new Map(model.namedParameters());
  const missing = [...own.keys()].filter((n) => !weights.has(n) && !optional(n));
  if (missing.length > 0) {
    throw new Error(`${dir}: the checkpoint lacks ${missing.length} parameter(s) of the model: ${missing.slice(0, 6).join(', ')}${missing.length > 6 ? ', ...' : ''}`);
  }
  const tied = (n: string): boolean => n === 'lm_head.weight';
  const unexpected = weights.names.filter((n) => !own.has(n) && !ignoredEntry.test(n) && !tied(n) && !n.startsWith('lm_head.') && !n.startsWith('score.'));
  if (unexpected.length > 0) {
    throw new Error(`${dir}: the checkpoint has ${unexpected.length} tensor(s) the model does not: ${unexpected.slice(0, 6).join(', ')}${unexpected.length > 6 ? ', ...' : ''}`);
  }
  for (const [name, p] of own) {
    if (!weights.has(name)) continue;
    const info = weights.info(name);
    if (info.shape.length !== p.shape.length || info.shape.some((d, k) => d !== p.shape[k])) {
      throw new Error(`${dir}: ${name} has shape [${info.shape.join(', ')}] in the checkpoint, the model expects [${p.shape.join(', ')}]`);
    }
    // f16 weights come straight from the stored bits (BF16/F16 never pass through a float32 copy).
    model.loadParameter(name, p.dtype === 'f16' ? rawToFloat16(weights.readRaw(name), `${dir}: ${name}`) : weights.readFloat32(name));
  }
}

/** The weight dtype of a model loaded with `options`: the backend's choice for frozen models, else f32. */
export function frozenDtype(options: LoadModelOptions, backend: Backend): 'f32' | 'f16' {
  return options.frozen ? (backend.weightDtype ?? 'f32') : 'f32';
}

/** Builds a model from a folder's config.json, then fills its parameters from the folder's weights. */
function loadFolder<M extends CausalLM | ValueModel>(dir: string, head: 'lm' | 'value', options: LoadModelOptions,
  build: (config: ModelConfig, backend: Backend) => M, optional: (name: string) => boolean): M {
  const backend = options.backend ?? getBackend();
  if (options.frozen && options.forTraining) throw new Error(`${dir}: a model cannot be both frozen and for training`);
  const config = loadModelConfig(dir);
  checkFits(config, head, backend, options.forTraining ?? false, dir);
  const weights = openWeights(dir);
  const model = build(config, backend);
  try {
    loadInto(model, weights, dir, optional);
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    weights.close();
  }
  return model;
}

/** LlamaForCausalLM / Qwen2ForCausalLM from a folder. */
export function loadCausalLM(dir: string, options: LoadModelOptions = {}): CausalLM {
  return loadFolder(dir, 'lm', options, (config, backend) => new CausalLM(config, {
    uninitialized: true, backend, maxPositions: options.maxPositions, weightDtype: frozenDtype(options, backend),
  }), () => false);
}

/**
 * The critic from a folder: a causal-LM folder gives the backbone and a fresh value head (as veRL
 * builds its critic from the actor's base model); a saved critic folder also gives the head.
 */
export function loadValueModel(dir: string, options: LoadModelOptions & { seed?: number } = {}): ValueModel {
  // The backbone is loaded whole (its random init would be overwritten); the head keeps its seeded
  // init unless the folder has one. Frozen (a LoRA critic's base): matrices in the backend's weight dtype, the head f32.
  return loadFolder(dir, 'value', options, (config, backend) => new ValueModel(config, {
    backend, seed: options.seed, maxPositions: options.maxPositions, uninitialized: true, weightDtype: frozenDtype(options, backend),
  }), (n) => n.startsWith('score.'));
}

export interface SaveModelOptions {
  /** Stored dtype (default BF16, as HF checkpoints usually are). */
  dtype?: FloatDtype;
  /** A folder whose tokenizer files are copied along, so the saved folder is self-contained. */
  tokenizerFrom?: string;
  /** Split the weights into shards of at most this many bytes (default 5 GB, as transformers). */
  maxShardBytes?: number;
}

const tokenizerFiles = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt', 'generation_config.json'];

/** Writes config.json + safetensors (+ tokenizer files) into `dir`, each file atomically. */
export async function saveModel(model: CausalLM | ValueModel, dir: string, options: SaveModelOptions = {}): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const config: ModelConfig = model instanceof ValueModel
    ? { ...model.config, architectures: [model.config.model_type === 'qwen2' ? 'Qwen2ForTokenClassification' : 'LlamaForTokenClassification'], extra: { ...model.config.extra, num_labels: 1 } }
    : model.config;
  const tensors = await model.stateDict();
  saveWeights(dir, tensors, { dtype: options.dtype ?? 'BF16', maxShardBytes: options.maxShardBytes });
  saveModelConfig(dir, config);
  if (options.tokenizerFrom) {
    for (const f of tokenizerFiles) {
      const src = join(options.tokenizerFrom, f);
      if (existsSync(src)) copyFileSync(src, join(dir, f));
    }
  }
}
