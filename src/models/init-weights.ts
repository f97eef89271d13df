/**
 * Random weights for a Llama/Qwen2 config, streamed to safetensors shard by shard as transformers'
 * `save_pretrained` lays them out, without ever holding a model in memory: each tensor is drawn and
 * converted in chunks of a million values and written straight to the shard's temp file.
 *
 * Initialisation is HF's `_init_weights`: Linear and Embedding weights normal(0, initializer_range),
 * biases zero, RMSNorm weights one. Each tensor draws from its own stream, seeded by the run's seed
 * and the tensor's name, so a tensor's values do not depend on the shard layout or on other tensors.
 */
import { join } from 'node:path';
import { Prng } from '../util/prng.js';
import { attentionBiases, type ModelConfig } from './config.js';
import { dtypeSize, f32ArrayToBf16, type FloatDtype } from './dtype.js';
import { writeFileAtomic, writeFully } from '../util/atomic-file.js';
import { buildHeader, numel } from './safetensors-header.js';
import { defaultMetadata } from './safetensors-write.js';
import { indexFileName, singleFileName } from './safetensors-sharded.js';
import { pythonJson } from './init-config.js';

export type ParamInit = { readonly kind: 'normal'; readonly std: number } | { readonly kind: 'zeros' } | { readonly kind: 'ones' };

export interface ParamPlan {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: ParamInit;
}

/** Every tensor of a causal-LM checkpoint for `c`, in transformers' state_dict order (tied heads omitted). */
export function parameterPlan(c: ModelConfig): ParamPlan[] {
  const std = typeof c.extra.initializer_range === 'number' ? c.extra.initializer_range : 0.02;
  const normal: ParamInit = { kind: 'normal', std };
  const { hidden_size: h, intermediate_size: i, num_attention_heads: H, num_key_value_heads: Hkv, head_dim: D, vocab_size: V } = c;
  const bias = attentionBiases(c);
  const plan: ParamPlan[] = [{ name: 'model.embed_tokens.weight', shape: [V, h], init: normal }];
  const linear = (name: string, out: number, inp: number, withBias: boolean): void => {
    plan.push({ name: `${name}.weight`, shape: [out, inp], init: normal });
    if (withBias) plan.push({ name: `${name}.bias`, shape: [out], init: { kind: 'zeros' } });
  };
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    linear(`${p}.self_attn.q_proj`, H * D, h, bias.qkv);
    linear(`${p}.self_attn.k_proj`, Hkv * D, h, bias.qkv);
    linear(`${p}.self_attn.v_proj`, Hkv * D, h, bias.qkv);
    linear(`${p}.self_attn.o_proj`, h, H * D, bias.o);
    linear(`${p}.mlp.gate_proj`, i, h, c.mlp_bias);
    linear(`${p}.mlp.up_proj`, i, h, c.mlp_bias);
    linear(`${p}.mlp.down_proj`, h, i, c.mlp_bias);
    plan.push({ name: `${p}.input_layernorm.weight`, shape: [h], init: { kind: 'ones' } });
    plan.push({ name: `${p}.post_attention_layernorm.weight`, shape: [h], init: { kind: 'ones' } });
  }
  plan.push({ name: 'model.norm.weight', shape: [h], init: { kind: 'ones' } });
  if (!c.tie_word_embeddings) plan.push({ name: 'lm_head.weight', shape: [V, h], init: normal });
  return plan;
}

/** Groups the plan into shards the way huggingface_hub's splitter does: in order, a new shard when the next tensor would overflow. */
export function planShards(plan: readonly ParamPlan[], dtype: FloatDtype, maxShardBytes: number): ParamPlan[][] {
  const shards: ParamPlan[][] = [];
  let current: ParamPlan[] = [];
  let bytes = 0;
  for (const p of plan) {
    const size = numel(p.shape) * dtypeSize(dtype);
    if (current.length > 0 && bytes + size > maxShardBytes) {
      shards.push(current);
      current = [];
      bytes = 0;
    }
    current.push(p);
    bytes += size;
  }
  shards.push(current);
  return shards;
}

/** FNV-1a of the seed and the name: the tensor's own stream. */
function streamSeed(seed: number, name: string): number {
  let hash = 0x811c9dc5;
  for (const ch of `${seed}:${name}`) {
    hash ^= ch.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

const CHUNK = 1 << 20;

/** Writes `p`'s values in `dtype` to `fd`, a chunk at a time. */
function writeTensor(fd: number, p: ParamPlan, dtype: FloatDtype, seed: number): void {
  const n = numel(p.shape);
  const rng = p.init.kind === 'normal' ? new Prng(streamSeed(seed, p.name)) : null;
  const values = new Float32Array(Math.min(CHUNK, n));
  for (let done = 0; done < n; done += CHUNK) {
    const len = Math.min(CHUNK, n - done);
    const chunk = values.subarray(0, len);
    if (rng) rng.fillNormal(chunk, (p.init as { std: number }).std);
    else chunk.fill(p.init.kind === 'ones' ? 1 : 0);
    if (dtype === 'F32') {
      writeFully(fd, new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } else if (dtype === 'BF16') {
      const h = f32ArrayToBf16(chunk);
      writeFully(fd, new Uint8Array(h.buffer, h.byteOffset, h.byteLength));
    } else {
      throw new Error(`init-model: dtype ${dtype} is not supported (BF16, F32)`);
    }
  }
}

/** One shard file, tensors ordered as the safetensors writer orders them (element size, then name). */
function writeShard(file: string, shard: readonly ParamPlan[], dtype: FloatDtype, seed: number): void {
  const entries = [...shard].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const { bytes } = buildHeader(entries.map((p) => ({ name: p.name, dtype, shape: p.shape })), defaultMetadata);
  writeFileAtomic(file, (fd) => {
    writeFully(fd, bytes);
    for (const p of entries) writeTensor(fd, p, dtype, seed);
  });
}

export interface InitWeightsOptions {
  readonly dtype: FloatDtype;
  readonly seed: number;
  readonly maxShardBytes: number;
  /** Called after each shard file is complete. */
  readonly onShard?: (file: string, index: number, count: number) => void;
}

/**
 * Writes `model.safetensors`, or `model-0000i-of-0000n.safetensors` plus the index (last, so an
 * index never points at a missing shard). Returns the files written.
 */
export function writeRandomWeights(dir: string, config: ModelConfig, options: InitWeightsOptions): string[] {
  const shards = planShards(parameterPlan(config), options.dtype, options.maxShardBytes);
  if (shards.length === 1) {
    const file = join(dir, singleFileName);
    writeShard(file, shards[0]!, options.dtype, options.seed);
    options.onShard?.(file, 0, 1);
    return [file];
  }
  const pad = (k: number): string => String(k).padStart(5, '0');
  const files: string[] = [];
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  shards.forEach((shard, k) => {
    const name = `model-${pad(k + 1)}-of-${pad(shards.length)}.safetensors`;
    const file = join(dir, name);
    writeShard(file, shard, options.dtype, options.seed);
    for (const p of shard) {
      weightMap[p.name] = name;
      totalSize += numel(p.shape) * dtypeSize(options.dtype);
    }
    files.push(file);
    options.onShard?.(file, k, shards.length);
  });
  const index = join(dir, indexFileName);
  writeFileAtomic(index, pythonJson({ metadata: { total_size: totalSize }, weight_map: weightMap }));
  files.push(index);
  return files;
}
