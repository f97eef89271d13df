/**
 * Batched generation with a KV cache. Prompts of different lengths are left-padded (as veRL does);
 * padded keys are masked with an additive bias and positions count real tokens only, so a padded
 * prompt generates exactly what it would alone. Each prompt is sampled `n` times (rows
 * prompt0 x n, prompt1 x n, ... like veRL's repeat_interleave). A row stops at its first eos, which
 * is part of the response and of the response mask.
 */
import { eosTokenIds } from '../models/config.js';
import { KVCache } from '../models/kv-cache.js';
import type { CausalLM } from '../models/llama.js';
import { Prng } from '../util/prng.js';
import { noGrad, reshape, sampleTokens, slice, tensor, tidyAsync, type Tensor } from '../tensor/index.js';
import { rowSeed, sampleToken, validateSampling, type SamplingParams } from './sampler.js';

/** Large enough to zero a key's softmax weight, small enough to stay finite in f32 arithmetic. */
export const MASKED_KEY_BIAS = -1e9;

export interface GenerateOptions extends Partial<SamplingParams> {
  maxNewTokens: number;
  /** Samples per prompt (default 1). */
  n?: number;
  /** Stop tokens (default: the model config's eos ids). */
  eosTokenIds?: number[];
  /** Filler after a row has stopped (default: config pad id, else the first eos, else 0). */
  padTokenId?: number;
  /** Generate maxNewTokens for every row even past eos. */
  ignoreEos?: boolean;
  seed?: number;
  /**
   * Each sample of a prompt draws from its own stream, seeded with rowSeed(seed, sample), as
   * `tinyzero serve` does, instead of all rows from one stream in row order (the default).
   */
  rowStreams?: boolean;
  /**
   * Where tokens are drawn: 'device' (default) samples on the model's backend (`Backend.sample`),
   * so only ids and log-probs come back each step; 'host' reads the logits and samples in float64
   * (sampler.ts), the reference. Both take the same uniforms from the same seed, so they draw the
   * same tokens except where float32 rounding moves a CDF boundary across a uniform.
   */
  sampleOn?: 'host' | 'device';
  /**
   * Called after each decoding step with the number of tokens generated so far per row. A returned
   * promise is awaited: a server lets its event loop answer other requests between steps.
   */
  onStep?: (step: number, activeRows: number) => void | Promise<void>;
}

export interface GenerationOutput {
  /** Number of rows (prompts x n). */
  rows: number;
  /** Longest response length in this batch (columns of the arrays below). */
  width: number;
  /** Response ids [rows, width], padded with padTokenId after the end. */
  responseIds: Int32Array;
  /** 1 for generated tokens up to and including the first eos, else 0. */
  responseMask: Float32Array;
  /** log softmax(logits / temperature) of each generated token, 0 where masked. */
  logprobs: Float32Array;
  /** Length of each response (tokens under the mask). */
  lengths: number[];
  /** The prompt of each row (after repetition by n). */
  promptIds: number[][];
  padTokenId: number;
}

export async function generate(model: CausalLM, prompts: readonly (readonly number[])[], options: GenerateOptions): Promise<GenerationOutput> {
  const config = model.config;
  const sampling: SamplingParams = { temperature: options.temperature ?? 1, topK: options.topK ?? -1, topP: options.topP ?? 1 };
  validateSampling(sampling);
  const n = options.n ?? 1;
  const maxNew = options.maxNewTokens;
  if (!Number.isInteger(n) || n < 1) throw new Error(`generate: n must be a positive integer, got ${n}`);
  if (!Number.isInteger(maxNew) || maxNew < 1) throw new Error(`generate: max_new_tokens must be a positive integer, got ${maxNew}`);
  if (prompts.length === 0) throw new Error('generate: no prompts');
  const eos = new Set(options.eosTokenIds ?? eosTokenIds(config));
  const pad = options.padTokenId ?? config.pad_token_id ?? [...eos][0] ?? 0;
  const vocab = config.vocab_size;
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new Error(`generate: prompt ${i} is empty`);
    for (const id of p) if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new Error(`generate: prompt ${i} has token id ${id} outside [0, ${vocab})`);
  });

  const rowsPrompts = prompts.flatMap((p) => Array.from({ length: n }, () => p.slice()));
  const B = rowsPrompts.length;
  const Lp = Math.max(...rowsPrompts.map((p) => p.length));
  const total = Lp + maxNew;
  if (total > model.model.rot.length) {
    throw new Error(`generate: prompt length ${Lp} + max_new_tokens ${maxNew} exceeds the model's ${model.model.rot.length} positions`);
  }
  const rng = new Prng(options.seed ?? 0);
  const rowRngs = options.rowStreams ? Array.from({ length: B }, (_, r) => new Prng(rowSeed(options.seed ?? 0, r % n))) : null;
  const sampleOn = options.sampleOn ?? 'device';
  if (sampleOn !== 'host' && sampleOn !== 'device') throw new Error(`generate: sampleOn must be 'host' or 'device', got ${String(sampleOn)}`);

  // Left padding: row r's prompt occupies columns [Lp - len, Lp).
  const inputIds = new Int32Array(B * Lp).fill(pad);
  const positions = new Int32Array(B * Lp);
  const bias = new Float32Array(B * total).fill(MASKED_KEY_BIAS);
  const nextPos = new Int32Array(B);
  rowsPrompts.forEach((p, r) => {
    const start = Lp - p.length;
    p.forEach((id, j) => {
      inputIds[r * Lp + start + j] = id;
      positions[r * Lp + start + j] = j;
      bias[r * total + start + j] = 0;
    });
    nextPos[r] = p.length;
  });

  const responseIds = new Int32Array(B * maxNew).fill(pad);
  const responseMask = new Float32Array(B * maxNew);
  const logprobs = new Float32Array(B * maxNew);
  const done = new Uint8Array(B);
  const lengths = new Array<number>(B).fill(0);
  // The decode batch holds the rows in `slots` (ascending), so draws keep row order. A finished row
  // is fed padding until a quarter of the slots are finished, then the cache drops them (keepRows):
  // later steps cost what the unfinished rows need, not what the longest response does.
  let slots = Array.from({ length: B }, (_, r) => r);
  const cache = new KVCache(config.num_hidden_layers, B, total, config.num_key_value_heads, config.head_dim, model.model.rot.cos.backend);
  let width = 0;
  try {
    let stepIds = inputIds;
    let stepPositions = positions;
    let stepLen = Lp;
    for (let t = 0; t < maxNew; t++) {
      const S = slots.length;
      const keyLen = cache.length + stepLen;
      const stepBias = new Float32Array(S * keyLen);
      slots.forEach((r, s) => stepBias.set(bias.subarray(r * total, r * total + keyLen), s * keyLen));
      const lastLogits = (): Tensor => noGrad(() => {
        const hidden = model.model.forward(tensor(stepIds, [S, stepLen]), {
          positions: tensor(stepPositions, [S, stepLen]),
          keyBias: tensor(stepBias, [S, keyLen]),
          cache,
        });
        // Only the last position's logits are needed.
        const last = reshape(slice(hidden, 1, stepLen - 1, stepLen), [S, config.hidden_size]);
        return model.logits(last);
      });
      let active = 0;
      const take = (r: number, token: number, logprob: number): void => {
        responseIds[r * maxNew + t] = token;
        responseMask[r * maxNew + t] = 1;
        logprobs[r * maxNew + t] = logprob;
        lengths[r] = t + 1;
        if (!options.ignoreEos && eos.has(token)) done[r] = 1;
        else active++;
      };
      if (sampleOn === 'host') {
        const logits = await tidyAsync(() => lastLogits().data() as Promise<Float32Array>);
        slots.forEach((r, s) => {
          if (done[r]) return;
          const { token, logprob } = sampleToken(logits, s * vocab, vocab, sampling, rowRngs?.[r] ?? rng);
          take(r, token, logprob);
        });
      } else {
        // The host sampler's stream: one uniform per unfinished row, in row order, none when greedy.
        const bits = new Int32Array(S);
        if (sampling.temperature > 0) slots.forEach((r, s) => { if (!done[r]) bits[s] = (rowRngs?.[r] ?? rng).nextUint32() | 0; });
        const [tokens, lps] = await tidyAsync(async () => {
          const s = sampleTokens(lastLogits(), tensor(bits, [S]), sampling);
          return Promise.all([s.tokens.data() as Promise<Int32Array>, s.logprobs.data() as Promise<Float32Array>]);
        });
        slots.forEach((r, s) => { if (!done[r]) take(r, tokens[s]!, lps[s]!); });
      }
      width = t + 1;
      await options.onStep?.(t + 1, active);
      if (active === 0) break;
      // The token just sampled becomes a key at column Lp + t; finished rows only feed padding.
      for (const r of slots) bias[r * total + Lp + t] = done[r] ? MASKED_KEY_BIAS : 0;
      if ((S - active) * 4 >= S) {
        const keep = slots.flatMap((r, s) => (done[r] ? [] : [s]));
        cache.keepRows(keep);
        slots = keep.map((s) => slots[s]!);
      }
      stepIds = new Int32Array(slots.length);
      stepPositions = new Int32Array(slots.length);
      slots.forEach((r, s) => {
        stepIds[s] = done[r] ? pad : responseIds[r * maxNew + t]!;
        stepPositions[s] = nextPos[r]!++;
      });
      stepLen = 1;
    }
  } finally {
    cache.dispose();
  }
  return {
    rows: B,
    width,
    responseIds: compact(responseIds, B, maxNew, width),
    responseMask: compact(responseMask, B, maxNew, width),
    logprobs: compact(logprobs, B, maxNew, width),
    lengths,
    promptIds: rowsPrompts,
    padTokenId: pad,
  };
}

function compact<A extends Int32Array | Float32Array>(a: A, rows: number, from: number, to: number): A {
  if (from === to) return a;
  const out = new (a.constructor as new (n: number) => A)(rows * to);
  for (let r = 0; r < rows; r++) out.set(a.subarray(r * from, r * from + to), r * to);
  return out;
}
