/**
 * Random weights for a Llama/Qwen2 config, streamed to safetensors shard by shard as transformers'
 * `save_pretrained` lays them out, without ever holding a model in memory: each tensor is drawn and
 * converted in chunks of a million values and written straight to the shard's temp file, by worker
 * threads a few 4M-value parts ahead of the writer where there is more than one core (DrawPool).
 *
 * Initialisation is HF's `_init_weights`: Linear and Embedding weights normal(0, initializer_range),
 * biases zero, RMSNorm weights one. Each tensor draws from its own stream, seeded by the run's seed
 * and the tensor's name, so a tensor's values do not depend on the shard layout or on other tensors.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { attentionBiases, type ModelConfig } from './config.js';
import { dtypeSize, type FloatDtype } from './dtype.js';
import { writeFileAtomic, writeFully } from '../util/atomic-file.js';
import { buildHeader, numel } from './safetensors-header.js';
import { defaultMetadata } from './safetensors-write.js';
import { indexFileName, singleFileName } from './safetensors-sharded.js';
import { pythonJson } from './init-config.js';
import { DRAW_CHUNK, drawNormal, JOB_VALUES, streamSeed, valueBytes, type DrawJob } from './init-draw.js';

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

/** Writes `p`'s values in `dtype` to `fd`, a chunk at a time. */
function writeTensor(fd: number, p: ParamPlan, dtype: FloatDtype, seed: number): void {
  if (dtype !== 'BF16' && dtype !== 'F32') throw new Error(`init-model: dtype ${dtype} is not supported (BF16, F32)`);
  const n = numel(p.shape);
  if (p.init.kind === 'normal') {
    drawNormal(streamSeed(seed, p.name), p.init.std, 0, n, dtype, (bytes) => writeFully(fd, bytes));
    return;
  }
  const value = p.init.kind === 'ones' ? 1 : 0;
  const chunk = new Float32Array(Math.min(DRAW_CHUNK, n)).fill(value);
  for (let done = 0; done < n; done += chunk.length) {
    writeFully(fd, valueBytes(chunk.subarray(0, Math.min(chunk.length, n - done)), dtype));
  }
}

/**
 * Worker threads that draw the normal-initialised tensors in parts of JOB_VALUES values (a part's
 * stream is reached with Prng.skipUniforms), a few parts ahead of the one being written. The main
 * thread waits on each job's flag (Atomics.wait): the file is written in order, from one synchronous
 * callback, with the bytes of the single-threaded path.
 */
class DrawPool {
  readonly #workers: Worker[];
  /** Values each worker has been given and the writer has not yet taken back. */
  readonly #queued: number[];
  /** Jobs in flight at most, and their shared buffers: part i of a shard uses slot i % window, free again once written. */
  readonly window: number;
  readonly #slots: { out: SharedArrayBuffer; flag: Int32Array<SharedArrayBuffer> }[];

  constructor(readonly size: number, bytesPerValue: number) {
    this.#workers = Array.from({ length: size }, () => new Worker(new URL('./init-weights-worker.js', import.meta.url)));
    for (const w of this.#workers) w.unref();
    this.#queued = new Array<number>(size).fill(0);
    this.window = 4 * size;
    this.#slots = Array.from({ length: this.window }, () => ({
      out: new SharedArrayBuffer(JOB_VALUES * bytesPerValue), flag: new Int32Array(new SharedArrayBuffer(4)),
    }));
  }

  /** Starts drawing values start..start+count of `p` into `slot`; the returned function waits for their bytes. */
  start(p: ParamPlan, dtype: 'BF16' | 'F32', seed: number, start: number, count: number, slot: number): () => Uint8Array {
    const { out, flag } = this.#slots[slot]!;
    Atomics.store(flag, 0, 0);
    const job: DrawJob = { seed: streamSeed(seed, p.name), std: (p.init as { std: number }).std, start, count, dtype, out, flag: flag.buffer };
    // The least loaded worker: parts differ in size, and the writer takes them back in file order.
    const w = this.#queued.indexOf(Math.min(...this.#queued));
    this.#queued[w]! += count;
    this.#workers[w]!.postMessage(job);
    return () => {
      while (Atomics.load(flag, 0) === 0) Atomics.wait(flag, 0, 0, 1000);
      this.#queued[w]! -= count;
      if (Atomics.load(flag, 0) !== 1) throw new Error(`init-model: drawing ${p.name} failed in a worker (its error is above)`);
      return new Uint8Array(out, 0, count * dtypeSize(dtype));
    };
  }

  close(): void {
    for (const w of this.#workers) void w.terminate();
  }
}

/** One shard file, tensors ordered as the safetensors writer orders them (element size, then name). */
function writeShard(file: string, shard: readonly ParamPlan[], dtype: FloatDtype, seed: number, pool: DrawPool | null): void {
  const entries = [...shard].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const { bytes } = buildHeader(entries.map((p) => ({ name: p.name, dtype, shape: p.shape })), defaultMetadata);
  writeFileAtomic(file, (fd) => {
    writeFully(fd, bytes);
    if (!pool) {
      for (const p of entries) writeTensor(fd, p, dtype, seed);
      return;
    }
    if (dtype !== 'BF16' && dtype !== 'F32') throw new Error(`init-model: dtype ${dtype} is not supported (BF16, F32)`);
    // The shard as parts in file order: drawn ones (a tensor's values in JOB_VALUES parts) and
    // ones written here (zeros, ones); up to `window` (four per worker) in flight.
    const parts = entries.flatMap((p) => {
      if (p.init.kind !== 'normal') return [{ p, start: -1, count: 0 }];
      const n = numel(p.shape);
      return Array.from({ length: Math.ceil(n / JOB_VALUES) }, (_, j) => ({ p, start: j * JOB_VALUES, count: Math.min(JOB_VALUES, n - j * JOB_VALUES) }));
    });
    const pending = new Map<number, () => Uint8Array>();
    let ahead = 0;
    parts.forEach(({ p, start }, i) => {
      for (; ahead < parts.length && ahead < i + pool.window; ahead++) {
        const a = parts[ahead]!;
        if (a.start >= 0) pending.set(ahead, pool.start(a.p, dtype, seed, a.start, a.count, ahead % pool.window));
      }
      if (start < 0) {
        writeTensor(fd, p, dtype, seed);
        return;
      }
      writeFully(fd, pending.get(i)!());
      pending.delete(i);
    });
  });
}

export interface InitWeightsOptions {
  readonly dtype: FloatDtype;
  readonly seed: number;
  readonly maxShardBytes: number;
  /** Called after each shard file is complete. */
  readonly onShard?: (file: string, index: number, count: number) => void;
  /**
   * Threads drawing values (default: the machine's cores, at most 16). 1 draws on the calling
   * thread; the files are the same byte for byte either way.
   */
  readonly threads?: number;
}

/**
 * Writes `model.safetensors`, or `model-0000i-of-0000n.safetensors` plus the index (last, so an
 * index never points at a missing shard). Returns the files written.
 */
export function writeRandomWeights(dir: string, config: ModelConfig, options: InitWeightsOptions): string[] {
  const threads = options.threads ?? Math.min(availableParallelism(), 16);
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`init-model: threads must be a positive integer, got ${threads}`);
  const pool = threads > 1 ? new DrawPool(threads, dtypeSize(options.dtype)) : null;
  try {
    return writeShards(dir, config, options, pool);
  } finally {
    pool?.close();
  }
}

function writeShards(dir: string, config: ModelConfig, options: InitWeightsOptions, pool: DrawPool | null): string[] {
  const shards = planShards(parameterPlan(config), options.dtype, options.maxShardBytes);
  if (shards.length === 1) {
    const file = join(dir, singleFileName);
    writeShard(file, shards[0]!, options.dtype, options.seed, pool);
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
    writeShard(file, shard, options.dtype, options.seed, pool);
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
