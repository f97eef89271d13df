/**
 * Whole-model figures on a Hugging Face folder (tiny-llama by default): one training step (forward,
 * logprobEntropy loss, backward, AdamW) in tokens/s and achieved GFLOP/s, the host<->device traffic
 * of that step, and batched decoding tokens/s through `generate` with a KV cache.
 */
import type { Backend, DeviceBuffer, DType } from '../backend/backend.js';
import { generate } from '../generation/index.js';
import type { ModelConfig } from '../models/config.js';
import type { CausalLM } from '../models/llama.js';
import { loadCausalLM } from '../models/load.js';
import { AdamW } from '../nn/index.js';
import * as T from '../tensor/index.js';
import { bestOf, round } from './timing.js';

export interface TrainStepResult {
  model: string;
  batch: number;
  seqLen: number;
  seconds: number;
  tokensPerSecond: number;
  /** Matmul flops (6 per weight per token) plus causal attention (14*D per query/key pair per head). */
  gflopPerStep: number;
  gflops: number;
  /** Bytes copied between JS and backend memory in one step: the token ids in, the loss out. */
  hostBytesWritten: number;
  hostBytesRead: number;
}

export interface DecodeResult {
  batch: number;
  promptLen: number;
  newTokens: number;
  seconds: number;
  /** Generated tokens per second (prefill included in the time). */
  tokensPerSecond: number;
}

/** Flops of one training step on B x L tokens. */
function trainFlops(c: ModelConfig, B: number, L: number): number {
  const { hidden_size: h, intermediate_size: i, num_attention_heads: H, num_key_value_heads: Hkv, head_dim: D, vocab_size: V } = c;
  const weights = c.num_hidden_layers * (2 * h * H * D + 2 * h * Hkv * D + 3 * h * i) + V * h;
  const pairs = B * H * (L * (L + 1)) / 2;
  return 6 * weights * B * L + c.num_hidden_layers * 14 * D * pairs;
}

/**
 * Counts the bytes `write` and `read`/`readSync` move until the returned function is called. The
 * methods are shadowed on the instance (not wrapped in a proxy) because tensors keep a reference to
 * the backend that made them; the originals run with the backend as `this`.
 */
function countTraffic(be: Backend, counts: { written: number; read: number }): () => void {
  const { write, read, readSync } = be;
  const own = be as unknown as Record<string, unknown>;
  const saved = (['write', 'read', 'readSync'] as const).map((k) => [k, Object.hasOwn(be, k), own[k]] as const);
  be.write = (buf, data, offset) => {
    counts.written += data.byteLength;
    write.call(be, buf, data, offset);
  };
  // A read may be served by readSync (the CPU's is): count the outer call only.
  let depth = 0;
  const counted = <R>(fn: (buf: DeviceBuffer, dtype: DType, offset: number, length: number) => R) =>
    (buf: DeviceBuffer, dtype: DType, offset: number, length: number): R => {
      if (depth === 0) counts.read += length * 4;
      depth++;
      try {
        return fn.call(be, buf, dtype, offset, length);
      } finally {
        depth--;
      }
    };
  be.read = counted(read);
  if (readSync) be.readSync = counted(readSync);
  return () => {
    for (const [k, had, v] of saved) {
      if (had) own[k] = v;
      else delete own[k];
    }
  };
}

export async function benchTrainStep(be: Backend, dir: string, B: number, L: number, rounds: number): Promise<TrainStepResult> {
  T.setBackend(be);
  const model = loadCausalLM(dir, { forTraining: true });
  const opt = new AdamW(model, { lr: 1e-4 });
  const V = model.config.vocab_size;
  const ids = Int32Array.from({ length: B * L }, () => Math.floor(Math.random() * V));
  const targets = Int32Array.from({ length: B * L }, () => Math.floor(Math.random() * V));
  const positions = T.keep(T.tensor(Int32Array.from({ length: B * L }, (_, i) => i % L), [B, L]));
  const step = async (): Promise<void> => {
    const loss = T.tidy(() => {
      const logits = model.forward(T.tensor(ids, [B, L]), { positions });
      const l = T.neg(T.mean(T.logprobEntropy(logits, T.tensor(targets, [B, L])).logp));
      l.backward();
      return l;
    });
    opt.step();
    model.zeroGrad();
    // Reading the loss waits for the device (WebGPU queues work) and is what a trainer logs.
    await loss.data();
    loss.dispose();
  };
  try {
    await step(); // warm-up: scratch growth, optimizer state
    const counts = { written: 0, read: 0 };
    const stop = countTraffic(be, counts);
    try {
      await step();
    } finally {
      stop();
    }
    const seconds = await bestOf(rounds, step);
    const flops = trainFlops(model.config, B, L);
    return {
      model: dir, batch: B, seqLen: L, seconds: round(seconds, 5), tokensPerSecond: round((B * L) / seconds, 1),
      gflopPerStep: round(flops / 1e9, 4), gflops: round(flops / seconds / 1e9, 2),
      hostBytesWritten: counts.written, hostBytesRead: counts.read,
    };
  } finally {
    positions.dispose();
    opt.dispose();
    model.dispose();
  }
}

export async function benchDecode(be: Backend, dir: string, batches: number[], promptLen: number, newTokens: number,
  rounds: number): Promise<DecodeResult[]> {
  T.setBackend(be);
  const model: CausalLM = loadCausalLM(dir);
  try {
    const V = model.config.vocab_size;
    const out: DecodeResult[] = [];
    for (const batch of batches) {
      const prompts = Array.from({ length: batch }, () => Array.from({ length: promptLen }, () => 4 + Math.floor(Math.random() * (V - 4))));
      const run = async (): Promise<void> => {
        await generate(model, prompts, { maxNewTokens: newTokens, temperature: 1, ignoreEos: true, seed: 1 });
      };
      await run(); // warm-up
      const seconds = await bestOf(rounds, run);
      out.push({ batch, promptLen, newTokens, seconds: round(seconds, 4), tokensPerSecond: round((batch * newTokens) / seconds, 1) });
    }
    return out;
  } finally {
    model.dispose();
  }
}
